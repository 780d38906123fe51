"""Dependencies of panel routes: who is asking, may they, and did their form come from us.

* :data:`CurrentBrowser` — the request's session (a new anonymous one if it had none);
* :data:`LoggedIn` — the logged-in user, or a redirect to the login form;
* :data:`Admin` — an admin, or 403;
* :data:`Posted` — the form's ``csrf_token`` matches the session's, or 403 — every POST
  route declares it first (without a live session, only ``/login`` is checked; any other
  POST goes to the login form, unapplied);
* :data:`ScopedApp` — the ``{key}`` app of the path if the user may see it: an admin any
  app, a member only theirs; any other app is 404, whether it exists or not.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form
from starlette.requests import Request

from ftpush.errors import NotFound
from ftpush.storage import apps
from ftpush.web.panel.rendering import cookie_job
from ftpush.web.panel.routing import NOT_FOUND, LoginRequired, PanelError
from ftpush.web.panel.security import SESSION_COOKIE, Browser, Viewer
from ftpush.web.panel.state import database, panel_state

CSRF_REFUSED = (
    "This form was not sent from a page of this panel, or your session changed since it "
    "was shown. Go back, reload the page and try again."
)


def current_browser(request: Request) -> Browser:
    sessions = panel_state(request).sessions(database(request))
    browser = sessions.resume(request.cookies.get(SESSION_COOKIE), cookie_job(request))
    request.state.panel_browser = browser
    return browser


CurrentBrowser = Annotated[Browser, Depends(current_browser)]


def logged_in(browser: CurrentBrowser) -> Viewer:
    if browser.viewer is None:
        raise LoginRequired
    return browser.viewer


LoggedIn = Annotated[Viewer, Depends(logged_in)]


def admin(viewer: LoggedIn) -> Viewer:
    if not viewer.is_admin:
        raise PanelError(403, "Only an administrator may do this.")
    return viewer


Admin = Annotated[Viewer, Depends(admin)]


def csrf_checked(
    request: Request, browser: CurrentBrowser, csrf_token: Annotated[str, Form()] = ""
) -> Browser:
    if browser.viewer is None and request.url.path != "/login":
        raise LoginRequired  # nothing to forge without a session; the form is not applied
    if not hmac.compare_digest(csrf_token.encode(), browser.csrf_token.encode()):
        raise PanelError(403, CSRF_REFUSED)
    return browser


Posted = Annotated[Browser, Depends(csrf_checked)]


@dataclass(frozen=True)
class AppView:
    """The app a per-app page is about."""

    key: str
    name: str
    timezone: str
    ftp_enabled: bool


def scoped_app(key: str, viewer: LoggedIn, request: Request) -> AppView:
    if not viewer.may_see(key):
        raise PanelError(404, NOT_FOUND)
    try:
        with database(request).read() as session:
            app = apps.get_app(session, key)
            return AppView(app.key, app.name, app.timezone, app.ftp_enabled)
    except NotFound:
        raise PanelError(404, NOT_FOUND) from None


ScopedApp = Annotated[AppView, Depends(scoped_app)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"

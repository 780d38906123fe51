"""Responses of the panel: pages, redirects, flash messages, cookies and security headers.

Every panel response passes :func:`finalize`, which writes the cookie changes the request
collected, carries flash messages over a redirect and adds the security headers (a
strict Content-Security-Policy: our own scripts and styles only, no framing; and
``Cache-Control: no-store``, since pages may show a secret once).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ftpush.web.panel.security import FLASH_COOKIE, Browser, CookieJob
from ftpush.web.panel.state import database, panel_state

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def cookie_job(request: Request) -> CookieJob:
    job: CookieJob | None = getattr(request.state, "panel_cookies", None)
    if job is None:
        job = request.state.panel_cookies = CookieJob()
    return job


def flash(request: Request, level: str, message: str) -> None:
    """A note for the next page the browser sees (``info``, ``success`` or ``error``)."""
    pending: list[tuple[str, str]] = getattr(request.state, "panel_flash_out", [])
    request.state.panel_flash_out = [*pending, (level, message)]


def _take_flashes(request: Request) -> list[tuple[str, str]]:
    sessions = panel_state(request).sessions(database(request))
    incoming = sessions.unpack_flashes(request.cookies.get(FLASH_COOKIE))
    pending: list[tuple[str, str]] = getattr(request.state, "panel_flash_out", [])
    request.state.panel_flash_out = []
    request.state.panel_flash_shown = True
    return [*incoming, *pending]


def page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the layout's context (viewer, CSRF token, flashes)."""
    browser: Browser | None = getattr(request.state, "panel_browser", None)
    values: dict[str, Any] = {
        "viewer": browser.viewer if browser else None,
        "csrf_token": browser.csrf_token if browser else "",
        "flashes": _take_flashes(request),
        "title": "",
        "app": None,
        "section": None,
        "error": None,
        "error_field": None,
        "path": request.url.path,
        **context,
    }
    html = panel_state(request).templates.render(template, values)
    return HTMLResponse(html, status_code=status, headers=headers)


def redirect(url: str) -> RedirectResponse:
    """See Other: after a POST, the browser GETs ``url`` (reloading re-posts nothing)."""
    return RedirectResponse(url, status_code=303)


def login_url(request: Request) -> str:
    target = request.url.path if request.method == "GET" else "/"
    return "/login" if target == "/" else f"/login?next={quote(target, safe='/')}"


def safe_next(target: str) -> str:
    """A local path to go to after login; anything else (another site) is ``/``."""
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and all(ch.isprintable() and ch not in "\\" for ch in target)
    ):
        return target
    return "/"


def finalize(request: Request, response: Response) -> Response:
    https = request.url.scheme == "https"
    job = cookie_job(request)
    for name, value in job.to_set.items():
        response.set_cookie(name, value, path="/", httponly=True, samesite="lax", secure=https)
    for name in job.to_clear:
        response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=https)
    pending: list[tuple[str, str]] = getattr(request.state, "panel_flash_out", [])
    if pending and 300 <= response.status_code < 400:
        sessions = panel_state(request).sessions(database(request))
        incoming = sessions.unpack_flashes(request.cookies.get(FLASH_COOKIE))
        response.set_cookie(
            FLASH_COOKIE,
            sessions.pack_flashes([*incoming, *pending]),
            max_age=300,
            path="/",
            httponly=True,
            samesite="lax",
            secure=https,
        )
    elif getattr(request.state, "panel_flash_shown", False) and FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="lax", secure=https)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response

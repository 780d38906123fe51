"""The web panel (SPEC §8): server-rendered pages for admins and app members.

``install(app)`` mounts it on the FastAPI app of :mod:`ftpush.web.app`: the pages under
``/`` (``/login``, ``/apps``, ``/apps/{key}/…``), our stylesheet under ``/static``.
None of it is in the OpenAPI document.

* ``pages/`` — one module per page, registered in ``pages/__init__.py``; routes are thin:
  they call the same storage functions and services as the API and the CLI, and hand
  plain values to a template.
* ``templates/`` — Jinja2, autoescaped; ``static/`` — our own CSS (no third-party files).
* ``security.py`` — sessions (server-side, cookie signed), CSRF tokens, flash cookies;
  ``ratelimit.py`` — failed-login limits; ``deps.py`` — who is asking and what they may
  see; ``routing.py`` — errors as HTML pages; ``rendering.py`` — responses and headers.

Decision 0901 explains the choices.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from ftpush.config import Settings
from ftpush.web.panel.pages import APP_SECTIONS, routers
from ftpush.web.panel.state import PanelState
from ftpush.web.panel.templating import STATIC, Templates


def install(app: FastAPI, settings: Settings) -> None:
    """Add the panel's pages and stylesheet to ``app``."""
    app.state.panel = PanelState(settings, Templates(APP_SECTIONS))
    for router in routers():
        app.include_router(router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

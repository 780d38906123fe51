"""What the panel keeps for the life of the web app: templates, the login limiter, sessions.

``install`` (in :mod:`ftpush.web.panel`) puts one :class:`PanelState` on
``app.state.panel``. The session key is read (or generated into
``<data dir>/keys/session.key``) on the first request, not when the app is built.
"""

from __future__ import annotations

import threading

from starlette.requests import Request

from ftpush.config import Settings
from ftpush.crypto import session_secret
from ftpush.storage import Database
from ftpush.web.panel.ratelimit import LoginLimiter
from ftpush.web.panel.security import SessionManager, Signer
from ftpush.web.panel.templating import Templates


class PanelState:
    def __init__(self, settings: Settings, templates: Templates) -> None:
        self.settings = settings
        self.templates = templates
        self.limiter = LoginLimiter()
        self._sessions: SessionManager | None = None
        self._lock = threading.Lock()

    def sessions(self, db: Database) -> SessionManager:
        if self._sessions is None:
            with self._lock:
                if self._sessions is None:
                    configured = self.settings.web.session_secret
                    secret = (
                        configured.get_secret_value()
                        if configured is not None and configured.get_secret_value()
                        else session_secret(self.settings.keys_dir)
                    )
                    self._sessions = SessionManager(db, Signer(secret))
        return self._sessions


def panel_state(request: Request) -> PanelState:
    state: PanelState = request.app.state.panel
    return state


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db

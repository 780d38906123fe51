"""Panel sessions, CSRF tokens and signed cookies (decision 0901).

One cookie, ``ftpush_session``, ``HttpOnly``, ``SameSite=Lax``, ``Secure`` over HTTPS,
holds ``<kind>:<random token>`` signed with HMAC-SHA256 under a key derived from
``web.session_secret`` (or ``<data dir>/keys/session.key``):

* ``a:…`` — an anonymous browser (the login form). Nothing is stored for it.
* ``s:…`` — a logged-in browser. ``panel_sessions`` holds the SHA-256 of the token, so
  the server can end it (logout, password change) and a stolen database holds none.

A new ``s:`` token is issued at every login: whatever the browser carried before
(session fixation) is never promoted. The CSRF token of a form is
``HMAC(key, "csrf" | cookie token)``: per session, checked on every POST, never stored.

Example::

    >>> signer = Signer("x" * 40)
    >>> signer.unsign("session", signer.sign("session", "a:token"))
    'a:token'
    >>> signer.unsign("session", "a:token.forged") is None
    True
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field

from ftpush.models import Role
from ftpush.storage import Database, panel_sessions
from ftpush.storage.panel_sessions import SessionUser
from ftpush.storage.types import utcnow

SESSION_COOKIE = "ftpush_session"
FLASH_COOKIE = "ftpush_flash"
IDLE_TIMEOUT = dt.timedelta(hours=2)
LIFETIME = dt.timedelta(hours=12)
TOUCH_EVERY = dt.timedelta(minutes=1)
ANONYMOUS, LOGGED_IN = "a", "s"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_digest(token: str) -> str:
    """What ``panel_sessions.token_hash`` stores for a cookie token."""
    return hashlib.sha256(token.encode()).hexdigest()


class Signer:
    """HMAC-SHA256 signatures with one key per purpose, derived from the session secret."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"ftpush panel v1\0" + secret.encode()).digest()

    def _mac(self, purpose: str, value: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, value: str) -> str:
        return f"{value}.{self._mac(purpose, value)}"

    def unsign(self, purpose: str, signed: str) -> str | None:
        """The value, or None when the signature is missing or wrong."""
        value, dot, mac = signed.rpartition(".")
        if not dot or not hmac.compare_digest(mac, self._mac(purpose, value)):
            return None
        return value

    def csrf_token(self, session_token: str) -> str:
        return self._mac("csrf", session_token)


@dataclass
class CookieJob:
    """Cookies a response must set or clear, collected while the request runs."""

    to_set: dict[str, str] = field(default_factory=dict)
    to_clear: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Viewer:
    """The logged-in panel user of a request."""

    user_id: int
    username: str
    role: Role
    app_key: str | None  # a member's app; None for an admin

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_see(self, app_key: str) -> bool:
        return self.is_admin or self.app_key == app_key


@dataclass(frozen=True)
class Browser:
    """The session of a request: its cookie token, its CSRF token and who is logged in."""

    token: str
    csrf_token: str
    viewer: Viewer | None


class SessionManager:
    """Reads, starts and ends panel sessions; cookie changes go into a :class:`CookieJob`."""

    def __init__(self, db: Database, signer: Signer) -> None:
        self._db = db
        self.signer = signer

    def _browser(self, token: str, viewer: Viewer | None = None) -> Browser:
        return Browser(token=token, csrf_token=self.signer.csrf_token(token), viewer=viewer)

    def _issue(self, kind: str, cookies: CookieJob) -> str:
        token = f"{kind}:{secrets.token_urlsafe(32)}"
        cookies.to_set[SESSION_COOKIE] = self.signer.sign("session", token)
        cookies.to_clear.discard(SESSION_COOKIE)
        return token

    def resume(self, cookie: str | None, cookies: CookieJob) -> Browser:
        """The browser's session; a missing, forged or ended one becomes a new anonymous one."""
        token = self.signer.unsign("session", cookie) if cookie else None
        if token is not None and token.startswith(f"{LOGGED_IN}:"):
            viewer = self._live(token)
            if viewer is not None:
                return self._browser(token, viewer)
        elif token is not None and token.startswith(f"{ANONYMOUS}:"):
            return self._browser(token)
        return self._browser(self._issue(ANONYMOUS, cookies))

    def _live(self, token: str) -> Viewer | None:
        now = utcnow()
        digest = token_digest(token)
        with self._db.read() as session:
            found = panel_sessions.find_session(
                session, digest, now=now, idle_since=now - IDLE_TIMEOUT
            )
        if found is None:
            return None
        if now - found.last_seen_at >= TOUCH_EVERY:
            with self._db.transaction() as session:
                panel_sessions.touch_session(session, found.session_id, now)
        return _viewer(found)

    def start(self, user_id: int, previous: Browser, cookies: CookieJob) -> Browser:
        """Log the browser in as ``user_id`` under a brand-new token."""
        self.end(previous, cookies)
        token = self._issue(LOGGED_IN, cookies)
        now = utcnow()
        with self._db.transaction() as session:
            panel_sessions.purge_sessions(session, now=now, idle_since=now - IDLE_TIMEOUT)
            panel_sessions.start_session(
                session, user_id=user_id, token_hash=token_digest(token), expires_at=now + LIFETIME
            )
        return self._browser(token)

    def end(self, browser: Browser, cookies: CookieJob) -> None:
        """Forget the browser's session on the server and in the browser."""
        if browser.token.startswith(f"{LOGGED_IN}:"):
            with self._db.transaction() as session:
                panel_sessions.end_session(session, token_digest(browser.token))
        cookies.to_set.pop(SESSION_COOKIE, None)
        cookies.to_clear.add(SESSION_COOKIE)

    # --- flash messages: short notes carried over a redirect (never secrets) -----------

    def pack_flashes(self, flashes: list[tuple[str, str]]) -> str:
        return self.signer.sign("flash", _b64(json.dumps(flashes).encode()))

    def unpack_flashes(self, cookie: str | None) -> list[tuple[str, str]]:
        value = self.signer.unsign("flash", cookie) if cookie else None
        if value is None:
            return []
        try:
            data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        except ValueError:
            return []
        return [(str(level), str(text)) for level, text in data]


def _viewer(found: SessionUser) -> Viewer:
    return Viewer(
        user_id=found.user_id, username=found.username, role=found.role, app_key=found.app_key
    )

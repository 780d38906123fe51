"""Panel sessions: one row per logged-in browser, found by the SHA-256 of its token.

The web layer makes the random token, keeps it in the browser's cookie and hands only
its digest here; a leaked database therefore holds no usable session. Deleting a row
ends that session at once (logout); :func:`end_user_sessions` ends every session of a
user (password change, user disabled).

Example::

    >>> start_session(session, user_id=1, token_hash=digest, expires_at=later)  # doctest: +SKIP
    >>> find_session(session, digest, now=now, idle_since=now - idle)          # doctest: +SKIP
    SessionUser(session_id=7, user_id=1, username='root', role=<Role.ADMIN: 'admin'>, ...)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ftpush.models import Role
from ftpush.storage.tables import App, PanelSession, PanelUser


@dataclass(frozen=True)
class SessionUser:
    """A live session and the enabled panel user it belongs to."""

    session_id: int
    user_id: int
    username: str
    role: Role
    app_id: int | None
    app_key: str | None
    last_seen_at: dt.datetime


def start_session(
    session: Session, *, user_id: int, token_hash: str, expires_at: dt.datetime
) -> int:
    """Record a new session; returns its id."""
    row = PanelSession(user_id=user_id, token_hash=token_hash, expires_at=expires_at)
    session.add(row)
    session.flush()
    return row.id


def find_session(
    session: Session, token_hash: str, *, now: dt.datetime, idle_since: dt.datetime
) -> SessionUser | None:
    """The live session with this digest, or None (unknown, expired, idle, user disabled)."""
    row = session.execute(
        select(PanelSession, PanelUser, App.key)
        .join(PanelUser, PanelUser.id == PanelSession.user_id)
        .outerjoin(App, App.id == PanelUser.app_id)
        .where(
            PanelSession.token_hash == token_hash,
            PanelSession.expires_at > now,
            PanelSession.last_seen_at > idle_since,
            PanelUser.enabled.is_(True),
        )
    ).first()
    if row is None:
        return None
    record, user, app_key = row
    return SessionUser(
        session_id=record.id,
        user_id=user.id,
        username=user.username,
        role=user.role,
        app_id=user.app_id,
        app_key=app_key,
        last_seen_at=record.last_seen_at,
    )


def touch_session(session: Session, session_id: int, now: dt.datetime) -> None:
    """Note activity (callers do it at most once a minute, not on every request)."""
    session.execute(
        update(PanelSession).where(PanelSession.id == session_id).values(last_seen_at=now)
    )


def end_session(session: Session, token_hash: str) -> None:
    """Forget one session (logout); unknown digests are ignored."""
    session.execute(delete(PanelSession).where(PanelSession.token_hash == token_hash))


def end_user_sessions(session: Session, user_id: int) -> int:
    """Forget every session of a user; returns how many there were."""
    result = session.execute(delete(PanelSession).where(PanelSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_sessions(session: Session, *, now: dt.datetime, idle_since: dt.datetime) -> int:
    """Delete expired and idle sessions; returns how many."""
    result = session.execute(
        delete(PanelSession).where(
            or_(PanelSession.expires_at <= now, PanelSession.last_seen_at <= idle_since)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)

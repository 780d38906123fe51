"""Panel users: admins (every app) and members (one app).

Members are made by an admin (:func:`create_member`: a generated password, returned
once, stored as a hash), listed per app, disabled or deleted — which ends their
sessions at once.

Example::

    >>> create_panel_user(session, username="root", password=pw, role=Role.ADMIN)  # doctest: +SKIP
    >>> verify_login(session, "root", pw).username                                  # doctest: +SKIP
    'root'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftpush.crypto import generate_password, hash_password, verify_password
from ftpush.errors import Conflict, InvalidInput, NotFound
from ftpush.models import Role, validate_username
from ftpush.storage._util import unique_or_conflict
from ftpush.storage.apps import get_app
from ftpush.storage.panel_sessions import end_user_sessions
from ftpush.storage.tables import App, PanelUser
from ftpush.storage.types import utcnow

MIN_PASSWORD_LENGTH = 12


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )


def create_panel_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    app_key: str | None = None,
) -> PanelUser:
    """Create a panel user; a member must name its app, an admin must not."""
    validate_username(username)
    check_password_strength(password)
    app_id = None
    if role is Role.MEMBER:
        if app_key is None:
            raise InvalidInput("a member belongs to an app: give --app", field="app")
        app_id = get_app(session, app_key).id
    elif app_key is not None:
        raise InvalidInput("an admin sees every app; do not give an app", field="app")
    if session.scalar(select(PanelUser.id).where(PanelUser.username == username)):
        raise Conflict(f"panel user {username!r} already exists")
    user = PanelUser(
        username=username, password_hash=hash_password(password), role=role, app_id=app_id
    )
    with unique_or_conflict(session, f"panel user {username!r} already exists"):
        session.add(user)
    return user


_dummy_hash: list[str] = []


def _waste_a_verification(password: str) -> None:
    """Spend what a real check costs, so that timing does not tell which names exist."""
    if not _dummy_hash:
        _dummy_hash.append(hash_password("not a real password, only for timing"))
    verify_password(_dummy_hash[0], password)


def verify_login(session: Session, username: str, password: str) -> PanelUser | None:
    """The enabled user with this name and password (noting the login), else None."""
    user = session.scalar(select(PanelUser).where(PanelUser.username == username))
    if user is None or not user.enabled:
        _waste_a_verification(password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    return user


def change_password(session: Session, user_id: int, current: str, new: str) -> PanelUser:
    """Check the current password, set the new one and end every session of the user."""
    user = session.get(PanelUser, user_id)
    if user is None:
        raise NotFound(f"panel user {user_id} does not exist")
    if not verify_password(user.password_hash, current):
        raise InvalidInput("the current password is not right", field="current_password")
    if new == current:
        raise InvalidInput("the new password must differ from the current one", field="password")
    check_password_strength(new)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    end_user_sessions(session, user.id)
    return user


# --- members of an app --------------------------------------------------------------------


@dataclass(frozen=True)
class PanelUserView:
    """What an admin sees of a panel user (never the password hash)."""

    username: str
    role: Role
    app_key: str | None
    enabled: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None


def create_member(session: Session, *, username: str, app_key: str) -> tuple[PanelUser, str]:
    """A new member of ``app_key`` with a generated password, returned this once."""
    password = generate_password()
    user = create_panel_user(
        session, username=username, password=password, role=Role.MEMBER, app_key=app_key
    )
    return user, password


def list_panel_users(session: Session, app_key: str | None = None) -> list[PanelUserView]:
    """Every panel user by name, or only the members of ``app_key``."""
    query = select(PanelUser, App.key).outerjoin(App, App.id == PanelUser.app_id)
    if app_key is not None:
        query = query.where(PanelUser.app_id == get_app(session, app_key).id)
    rows = session.execute(query.order_by(PanelUser.username)).all()
    return [
        PanelUserView(u.username, u.role, key, u.enabled, u.created_at, u.last_login_at)
        for u, key in rows
    ]


def get_panel_user(session: Session, username: str, *, app_key: str | None = None) -> PanelUser:
    """The panel user ``username``; with ``app_key``, only if a member of that app.

    :class:`NotFound` otherwise, the same whether the name exists elsewhere or not.
    """
    user = session.scalar(select(PanelUser).where(PanelUser.username == username))
    outside = app_key is not None and (
        user is None or user.role is not Role.MEMBER or user.app_id != get_app(session, app_key).id
    )
    if user is None or outside:
        where = f" among the members of {app_key!r}" if app_key is not None else ""
        raise NotFound(f"no panel user {username!r}{where}")
    return user


def set_panel_user_enabled(
    session: Session, username: str, enabled: bool, *, app_key: str | None = None
) -> int:
    """Enable or disable a panel user; disabling ends every session of theirs (how many)."""
    user = get_panel_user(session, username, app_key=app_key)
    user.enabled = enabled
    session.flush()
    return 0 if enabled else end_user_sessions(session, user.id)


def remove_panel_user(session: Session, username: str, *, app_key: str | None = None) -> None:
    """Delete a panel user and their sessions."""
    user = get_panel_user(session, username, app_key=app_key)
    end_user_sessions(session, user.id)
    session.delete(user)
    session.flush()

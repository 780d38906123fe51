"""Panel users: admins (every app) and members (one app).

Example::

    >>> create_panel_user(session, username="root", password=pw, role=Role.ADMIN)  # doctest: +SKIP
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftpush.crypto import hash_password
from ftpush.errors import Conflict, InvalidInput
from ftpush.models import Role, validate_username
from ftpush.storage._util import unique_or_conflict
from ftpush.storage.apps import get_app
from ftpush.storage.tables import PanelUser

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

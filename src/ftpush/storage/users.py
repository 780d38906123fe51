"""Users and their devices: look up, create, register a device token, show a profile.

A device token belongs to one app and at most one user; registering a token
that another user had moves it (the phone changed hands or accounts), and a
token that had been uninstalled becomes active again.

Example::

    >>> register_device(session, app_key="demo", token="a" * 64, external_id="12345")
    ... # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftpush.errors import InvalidInput, NotFound
from ftpush.models import InboxStatus, Platform, TokenState
from ftpush.storage._util import unique_or_conflict
from ftpush.storage.apps import get_app
from ftpush.storage.tables import Device, InboxEntry, User
from ftpush.storage.types import utcnow

_APNS_TOKEN = re.compile(r"[0-9a-fA-F]{64}")
MAX_TOKEN_LENGTH = 4096


def platform_of_token(token: str) -> Platform:
    """APNs tokens are 64 hex characters; anything else is taken as FCM (SPEC §4)."""
    return Platform.IOS if _APNS_TOKEN.fullmatch(token) else Platform.ANDROID


def validate_token(token: str) -> str:
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise InvalidInput(
            f"invalid device token: 1-{MAX_TOKEN_LENGTH} characters without spaces",
            field="token",
        )
    return token


def validate_external_id(external_id: str) -> str:
    if not external_id or len(external_id) > 255 or not external_id.strip():
        raise InvalidInput("an external ID is 1-255 characters", field="external_id")
    return external_id


def get_or_create_user(session: Session, app_id: int, external_id: str) -> User:
    validate_external_id(external_id)
    user = session.scalar(
        select(User).where(User.app_id == app_id, User.external_id == external_id)
    )
    if user is None:
        user = User(app_id=app_id, external_id=external_id, attributes={})
        with unique_or_conflict(session, f"user {external_id!r} was created concurrently"):
            session.add(user)
    return user


def get_user(session: Session, app_id: int, external_id: str) -> User:
    user = session.scalar(
        select(User).where(User.app_id == app_id, User.external_id == external_id)
    )
    if user is None:
        raise NotFound(f"user {external_id!r} does not exist")
    return user


def register_device(
    session: Session,
    *,
    app_key: str,
    token: str,
    external_id: str | None = None,
    platform: Platform | str | None = None,
    app_version: str | None = None,
    os_version: str | None = None,
    push_permission: bool | None = None,
) -> Device:
    """Create or update the device ``token`` of the app, owned by ``external_id``."""
    app = get_app(session, app_key)
    token = validate_token(token)
    kind = Platform(platform) if platform is not None else platform_of_token(token)
    user = get_or_create_user(session, app.id, external_id) if external_id else None
    now = utcnow()
    device = session.scalar(select(Device).where(Device.app_id == app.id, Device.token == token))
    if device is None:
        device = Device(app_id=app.id, token=token, platform=kind, installed_at=now)
        with unique_or_conflict(session, "the device was registered concurrently"):
            session.add(device)
    device.platform = kind
    if user is not None:
        device.user_id = user.id  # moves the token from a previous owner
    if app_version is not None:
        device.app_version = app_version
    if os_version is not None:
        device.os_version = os_version
    if push_permission is not None:
        device.push_permission = push_permission
    if device.token_state is not TokenState.ACTIVE:
        device.token_state = TokenState.ACTIVE
        device.uninstalled_at = None
    device.last_seen_at = now
    device.updated_at = now
    session.flush()
    return device


@dataclass(frozen=True)
class Profile:
    """A user with devices and inbox, as ``ftpush user show`` and the API present it."""

    user: User
    devices: Sequence[Device]
    inbox: Sequence[InboxEntry]


def profile(session: Session, app_key: str, external_id: str, *, inbox_limit: int = 50) -> Profile:
    app = get_app(session, app_key)
    user = get_user(session, app.id, external_id)
    devices = session.scalars(
        select(Device).where(Device.user_id == user.id).order_by(Device.id)
    ).all()
    inbox = session.scalars(
        select(InboxEntry)
        .where(InboxEntry.user_id == user.id, InboxEntry.status != InboxStatus.DELETED)
        .order_by(InboxEntry.id.desc())
        .limit(inbox_limit)
    ).all()
    return Profile(user, devices, inbox)


def user_devices(session: Session, user_id: int) -> Sequence[Device]:
    """The user's devices, oldest first (active and uninstalled)."""
    return session.scalars(
        select(Device).where(Device.user_id == user_id).order_by(Device.id)
    ).all()


def external_id_of(session: Session, user_id: int | None) -> str | None:
    """The external ID of a user id (None for None or a user that is gone)."""
    if user_id is None:
        return None
    return session.scalar(select(User.external_id).where(User.id == user_id))


def find_user(session: Session, app_id: int, external_id: str) -> User | None:
    """The app's user with this external ID, or None."""
    return session.scalar(
        select(User).where(User.app_id == app_id, User.external_id == external_id)
    )

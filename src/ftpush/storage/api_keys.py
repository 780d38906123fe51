"""REST API keys: one app each, shown once, stored as SHA-256 digests.

Example::

    >>> row, key = create_api_key(session, "demo", "backend")   # doctest: +SKIP
    >>> authenticate(session, key).key                           # doctest: +SKIP
    'demo'
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftpush.crypto import API_KEY_PREFIX, digest_api_key, new_api_key
from ftpush.errors import InvalidInput, NotFound
from ftpush.storage.apps import get_app
from ftpush.storage.tables import ApiKey, App
from ftpush.storage.types import utcnow

MAX_KEY_LENGTH = 200


def create_api_key(session: Session, app_key: str, name: str) -> tuple[ApiKey, str]:
    """A new key for the app; the plaintext is returned once and never stored."""
    app = get_app(session, app_key)
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("an API key needs a name of 1-100 characters", field="name")
    key, prefix = new_api_key()
    row = ApiKey(app_id=app.id, prefix=prefix, key_hash=digest_api_key(key), name=name)
    session.add(row)
    session.flush()
    return row, key


def revoke_api_key(session: Session, prefix: str, *, app_key: str | None = None) -> ApiKey:
    """Revoke the key; with ``app_key``, another app's key is :class:`NotFound`."""
    query = select(ApiKey).where(ApiKey.prefix == prefix)
    if app_key is not None:
        query = query.join(App, App.id == ApiKey.app_id).where(App.key == app_key)
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"API key {prefix} does not exist")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def list_api_keys(session: Session, app_key: str) -> Sequence[ApiKey]:
    app = get_app(session, app_key)
    return session.scalars(select(ApiKey).where(ApiKey.app_id == app.id).order_by(ApiKey.id)).all()


def authenticate(session: Session, key: str) -> App | None:
    """The app of a live key, or None (unknown, malformed or revoked)."""
    if not key.startswith(API_KEY_PREFIX) or len(key) > MAX_KEY_LENGTH:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest_api_key(key)))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now  # at most once a minute: no write per request
    return session.get(App, row.app_id)

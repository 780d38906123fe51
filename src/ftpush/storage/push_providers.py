"""Per-app push provider settings, encrypted at rest.

An app names one provider per platform (``ios``, ``android``) and optionally one
for ``any`` platform. The settings mapping (an APNs ``.p8`` key, an FCM
service-account JSON, a webhook secret...) is stored as one Fernet token under
the data directory's ``keys/secrets.key``; this module never checks what is in
it — :func:`ftpush.push.factory.parse_provider_config` does, before saving.

Example::

    >>> save_provider(session, box, "demo", "ios", "apns", {...})  # doctest: +SKIP
    >>> provider_settings(session, box, app_id)                     # doctest: +SKIP
    {'ios': ('apns', {...})}
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftpush.crypto import SecretBox
from ftpush.errors import InvalidInput, NotFound
from ftpush.storage.apps import get_app
from ftpush.storage.tables import PushProviderConfig

PLATFORM_CHOICES = ("ios", "android", "any")


@dataclass(frozen=True)
class StoredProvider:
    """One saved provider, decrypted (only in memory)."""

    platform: str
    kind: str
    config: dict[str, Any] = field(repr=False)
    updated_at: dt.datetime


def _platform(platform: str) -> str:
    if platform not in PLATFORM_CHOICES:
        raise InvalidInput(
            f"unknown platform {platform!r}: use one of {', '.join(PLATFORM_CHOICES)}",
            field="platform",
        )
    return platform


def save_provider(
    session: Session,
    box: SecretBox,
    app_key: str,
    platform: str,
    kind: str,
    config: Mapping[str, Any],
) -> PushProviderConfig:
    """Create or replace the app's provider for ``platform``."""
    app = get_app(session, app_key)
    row = session.scalar(
        select(PushProviderConfig).where(
            PushProviderConfig.app_id == app.id,
            PushProviderConfig.platform == _platform(platform),
        )
    )
    if row is None:
        row = PushProviderConfig(app_id=app.id, platform=platform)
        session.add(row)
    row.kind = kind
    row.config_encrypted = box.encrypt(json.dumps(dict(config), sort_keys=True))
    session.flush()
    return row


def delete_provider(session: Session, app_key: str, platform: str) -> None:
    app = get_app(session, app_key)
    row = session.scalar(
        select(PushProviderConfig).where(
            PushProviderConfig.app_id == app.id,
            PushProviderConfig.platform == _platform(platform),
        )
    )
    if row is None:
        raise NotFound(f"app {app_key} has no push provider for {platform}")
    session.delete(row)


def list_providers(session: Session, box: SecretBox, app_key: str) -> list[StoredProvider]:
    app = get_app(session, app_key)
    return _stored(session, box, app.id)


def provider_settings(
    session: Session, box: SecretBox, app_id: int
) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{platform: (kind, settings)}`` of the app, for building providers."""
    return {p.platform: (p.kind, p.config) for p in _stored(session, box, app_id)}


def _stored(session: Session, box: SecretBox, app_id: int) -> list[StoredProvider]:
    rows = session.scalars(
        select(PushProviderConfig)
        .where(PushProviderConfig.app_id == app_id)
        .order_by(PushProviderConfig.platform)
    )
    return [
        StoredProvider(
            platform=row.platform,
            kind=row.kind,
            config=json.loads(box.decrypt(row.config_encrypted)),
            updated_at=row.updated_at,
        )
        for row in rows
    ]

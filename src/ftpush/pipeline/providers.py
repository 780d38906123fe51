"""Which provider sends an app's messages: the app's stored settings, else the default.

:func:`configure_provider` checks settings with the push factory before they are
saved (encrypted), so a worker never meets a config it cannot build.
:class:`StoredProviders` is the resolver a :class:`~ftpush.pipeline.dispatch.Dispatcher`
uses: one per worker thread (providers hold HTTP/2 connections bound to that
thread's event loop), re-reading an app's settings at most every
``push.settings_refresh_seconds`` so a changed key takes effect without a restart.

Example::

    configure_provider(db, box, "demo", "ios", "apns", {"key_id": ..., ...})
    resolver = StoredProviders(settings, db, box)
    provider = resolver(app_id, Platform.IOS)      # ApnsProvider, built once
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from ftpush.config import Settings
from ftpush.crypto import SecretBox
from ftpush.errors import InvalidInput
from ftpush.models import Platform
from ftpush.push.base import Provider
from ftpush.push.factory import ProviderCache, describe_provider_config, parse_provider_config
from ftpush.push.log import LogProvider
from ftpush.storage import Database, push_providers

log = logging.getLogger("ftpush.pipeline.providers")

AppSettings = dict[str, tuple[str, dict[str, Any]]]


def configure_provider(
    db: Database,
    box: SecretBox,
    app_key: str,
    platform: str,
    kind: str,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """Check and save the app's provider for ``platform``; returns what may be shown."""
    parse_provider_config(kind, config)  # raises InvalidInput naming the field
    with db.transaction() as session:
        push_providers.save_provider(session, box, app_key, platform, kind, config)
    return {"platform": platform, "kind": kind, **describe_provider_config(kind, config)}


def describe_providers(db: Database, box: SecretBox, app_key: str) -> list[dict[str, Any]]:
    """The app's providers with secrets masked."""
    with db.transaction() as session:
        stored = push_providers.list_providers(session, box, app_key)
    return [
        {
            "platform": p.platform,
            "kind": p.kind,
            "updated_at": p.updated_at.isoformat(),
            **describe_provider_config(p.kind, p.config),
        }
        for p in stored
    ]


class StoredProviders:
    """The resolver over stored settings; keep one per thread (one event loop)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        box: SecretBox,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._box = box
        self._refresh = settings.push.settings_refresh_seconds
        self._clock = clock
        ca_file = settings.push.ca_file
        self.cache = ProviderCache(verify=str(ca_file) if ca_file else True)
        self._default: Provider | None = (
            LogProvider() if settings.push.default_provider == "log" else None
        )
        self._settings: dict[int, tuple[float, AppSettings]] = {}
        self._broken: set[tuple[int, str]] = set()

    def __call__(self, app_id: int, platform: Platform) -> Provider | None:
        app_settings = self._app_settings(app_id)
        for key in (str(platform), "any"):
            if key in app_settings:
                kind, config = app_settings[key]
                try:
                    return self.cache.get((app_id, key), kind, config)
                except InvalidInput as exc:  # saved by an older version, now refused
                    if (app_id, key) not in self._broken:
                        self._broken.add((app_id, key))
                        log.error("app %s: stored %s provider is unusable: %s", app_id, key, exc)
                    return None
        return self._default

    def _app_settings(self, app_id: int) -> AppSettings:
        now = self._clock()
        cached = self._settings.get(app_id)
        if cached is not None and now - cached[0] < self._refresh:
            return cached[1]
        with self._db.transaction() as session:
            fresh = push_providers.provider_settings(session, self._box, app_id)
        self._settings[app_id] = (now, fresh)
        return fresh

    async def close_stale(self) -> None:
        await self.cache.close_stale()

    async def aclose(self) -> None:
        await self.cache.aclose()

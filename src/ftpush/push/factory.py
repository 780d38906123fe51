"""Build a provider from its kind and a plain mapping of settings (as stored per app).

The stored form of an app's provider is ``(kind, mapping)`` — JSON-friendly, so
the CLI and the API can keep it encrypted and check it before saving:

* ``log`` — ``{}`` (optional ``record``);
* ``webhook`` — ``{"url", "secret"?, "timeout"?, "concurrency"?}``;
* ``apns`` — ``{"key_id", "team_id", "private_key" (.p8 PEM text), "topic",
  "endpoint"? ("production" | "sandbox" | URL), "priority"?, ...}``;
* ``fcm`` — ``{"service_account_json" (text or object), "endpoint"?, ...}``.

Unknown settings, missing ones and malformed keys raise
:class:`~ftpush.errors.InvalidInput` naming the field. ``verify`` (TLS) is not a
stored setting: the caller passes it (``True`` in production, a CA file in tests).

Example::

    >>> provider = make_provider("log", {})
    >>> provider.name
    'log'
    >>> parse_provider_config("apns", {"key_id": "ABC123DEFG"})
    Traceback (most recent call last):
    ...
    ftpush.errors.InvalidInput: apns: team_id is required
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from ftpush.errors import InvalidInput
from ftpush.push.apns import ApnsConfig, ApnsProvider
from ftpush.push.base import Provider
from ftpush.push.fcm import FcmConfig, FcmProvider, parse_service_account
from ftpush.push.log import LogProvider
from ftpush.push.webhook import WebhookConfig, WebhookProvider

PROVIDER_KINDS = ("log", "webhook", "apns", "fcm")


@dataclass(frozen=True)
class LogConfig:
    """The log provider's only setting: keep the messages in memory (tests)."""

    record: bool = False


ProviderConfig = LogConfig | WebhookConfig | ApnsConfig | FcmConfig

_CONFIG_TYPES: dict[str, type[ProviderConfig]] = {
    "log": LogConfig,
    "webhook": WebhookConfig,
    "apns": ApnsConfig,
    "fcm": FcmConfig,
}
_SECRETS = frozenset({"private_key", "service_account_json", "secret"})


def _kind(kind: object) -> type[ProviderConfig]:
    config_type = _CONFIG_TYPES.get(kind) if isinstance(kind, str) else None
    if config_type is None:
        raise InvalidInput(
            f"unknown push provider {kind!r}: use one of {', '.join(PROVIDER_KINDS)}",
            field="provider",
        )
    return config_type


def parse_provider_config(
    kind: str, config: Mapping[str, Any], *, verify: bool | str = True
) -> ProviderConfig:
    """Check a stored mapping and return the typed config (no connection is made)."""
    config_type = _kind(kind)
    if not isinstance(config, Mapping):
        raise InvalidInput(f"{kind}: settings must be a mapping", field="provider")
    fields = {f.name: f for f in dataclasses.fields(config_type)}
    unknown = sorted(set(config) - set(fields) | ({"verify"} & set(config)))
    if unknown:
        known = ", ".join(name for name in fields if name != "verify")
        raise InvalidInput(
            f"{kind}: unknown setting {', '.join(map(str, unknown))} (known: {known or 'none'})",
            field=str(unknown[0]),
        )
    values = {
        name: _coerce(kind, name, value, fields[name].default) for name, value in config.items()
    }
    if kind == "fcm" and isinstance(values.get("service_account_json"), Mapping):
        values["service_account_json"] = json.dumps(values["service_account_json"])
    for name, spec in fields.items():
        required = (
            spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        )
        if required and values.get(name) in (None, ""):
            raise InvalidInput(f"{kind}: {name} is required", field=name)
    if "verify" in fields:
        values["verify"] = verify
    try:
        return config_type(**values)
    except InvalidInput as exc:
        raise InvalidInput(f"{kind}: {exc.message}", field=exc.field) from None


def _coerce(kind: str, name: str, value: Any, default: Any) -> Any:
    """Text from the command line (``--set priority=5``) to the field's type."""
    if not isinstance(value, str) or not isinstance(default, bool | int | float):
        return value
    if isinstance(default, bool):
        if value.lower() in ("true", "yes", "on", "1"):
            return True
        if value.lower() in ("false", "no", "off", "0"):
            return False
        raise InvalidInput(f"{kind}: {name} must be true or false", field=name)
    try:
        return type(default)(value)
    except ValueError:
        raise InvalidInput(f"{kind}: {name} must be a number, not {value!r}", field=name) from None


def provider_for(config: ProviderConfig, *, clock: Callable[[], float] | None = None) -> Provider:
    """The provider for a typed config; ``clock`` (unix seconds) is for tests."""
    now = clock or time.time
    if isinstance(config, ApnsConfig):
        return ApnsProvider(config, clock=now)
    if isinstance(config, FcmConfig):
        return FcmProvider(config, clock=now)
    if isinstance(config, WebhookConfig):
        return WebhookProvider(config)
    return LogProvider(record=config.record)


def make_provider(
    kind: str,
    config: Mapping[str, Any],
    *,
    verify: bool | str = True,
    clock: Callable[[], float] | None = None,
) -> Provider:
    """Check ``config`` and build the provider. Build one per app and reuse it."""
    return provider_for(parse_provider_config(kind, config, verify=verify), clock=clock)


class ProviderCache:
    """One provider per key (an app, an app and platform...), built once and reused.

    A provider keeps connections open, so a worker should hold one per app for as long
    as it lives, in one event loop. ``get`` builds it on first use and again when the
    stored settings change (the old one is closed by the next ``aclose`` or
    ``close_stale``, after the sends that still use it); ``aclose`` closes them all.

    Example::

        cache = ProviderCache()
        provider = cache.get(("demo", "ios"), "apns", stored_settings)
        outcomes = await provider.send(batch)
        await cache.aclose()                       # in the same event loop
    """

    def __init__(
        self, *, verify: bool | str = True, clock: Callable[[], float] | None = None
    ) -> None:
        self._verify = verify
        self._clock = clock
        self._providers: dict[Hashable, tuple[str, Provider]] = {}
        self._stale: list[Provider] = []

    def get(self, key: Hashable, kind: str, config: Mapping[str, Any]) -> Provider:
        """The provider for ``key``; raises InvalidInput for bad settings."""
        fingerprint = hashlib.sha256(
            json.dumps([kind, config], sort_keys=True, default=str).encode()
        ).hexdigest()
        entry = self._providers.get(key)
        if entry is not None and entry[0] == fingerprint:
            return entry[1]
        provider = make_provider(kind, config, verify=self._verify, clock=self._clock)
        if entry is not None:
            self._stale.append(entry[1])
        self._providers[key] = (fingerprint, provider)
        return provider

    def __len__(self) -> int:
        return len(self._providers)

    async def close_stale(self) -> None:
        """Close the providers replaced by new settings (call between batches)."""
        stale, self._stale = self._stale, []
        for provider in stale:
            await provider.aclose()

    async def aclose(self) -> None:
        """Close every provider; the cache may be used again (it rebuilds them)."""
        providers = [p for _, p in self._providers.values()]
        self._providers.clear()
        await self.close_stale()
        for provider in providers:
            await provider.aclose()


def describe_provider_config(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """What may be shown of a stored config: secrets become ``"(set)"``.

    >>> describe_provider_config("webhook", {"url": "https://h.example/p", "secret": "x"})
    {'url': 'https://h.example/p', 'secret': '(set)'}
    """
    _kind(kind)
    shown: dict[str, Any] = {}
    for name, value in config.items():
        if name not in _SECRETS:
            shown[name] = value
        elif name == "service_account_json":
            try:
                text = value if isinstance(value, str) else json.dumps(value)
                info = parse_service_account(text)
            except InvalidInput:
                shown[name] = "(invalid)"
            else:
                shown["project_id"] = info["project_id"]
                shown["client_email"] = info["client_email"]
                shown[name] = "(set)"
        else:
            shown[name] = "(set)" if value else "(empty)"
    return shown

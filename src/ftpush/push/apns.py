"""Apple Push Notification service over HTTP/2 with token (``.p8``) authentication.

One :class:`ApnsProvider` per app keeps its HTTP/2 connection(s) open and
multiplexes every message of a batch on them, as many at once as the server's
``SETTINGS_MAX_CONCURRENT_STREAMS`` allows. The provider token (an ES256 JWT
with ``kid`` and ``iss``/``iat``) is signed once and re-signed every
``token_refresh`` seconds (Apple: no more than once per 20 minutes, at least once
per hour), or when APNs answers ``ExpiredProviderToken``.

Each request carries ``apns-collapse-id`` = the message key, so the rare
duplicate (a worker killed after APNs accepted, before the ledger knew)
replaces the first notification on the device instead of showing twice.

Example::

    provider = ApnsProvider(ApnsConfig(key_id="ABC123DEFG", team_id="DEF123GHIJ",
                                       private_key=p8_text, topic="com.example.app"))
    outcomes = await provider.send(messages)
    await provider.aclose()
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ftpush.errors import InvalidInput
from ftpush.push import _checks
from ftpush.push._h2core import H2Error, H2Response, RequestTimeout
from ftpush.push._pool import H2Pool, fan_out, tls_context, unique
from ftpush.push.base import (
    OnOutcome,
    Outcome,
    OutcomeKind,
    PushMessage,
    classify_apns,
    compact_json,
    parse_retry_after,
    unexpected,
)

log = logging.getLogger(__name__)

APNS_PRODUCTION = "https://api.push.apple.com"
APNS_SANDBOX = "https://api.sandbox.push.apple.com"
MAX_PAYLOAD = 4096  # bytes, Apple's limit for alert notifications
_APPLE_ID = r"[A-Z0-9]{10}"


@dataclass(frozen=True)
class ApnsConfig:
    """Credentials and tuning of one app's APNs provider; checked on construction.

    ``endpoint`` may also be ``"production"`` or ``"sandbox"``. ``verify`` is
    ``True`` (system CAs) or a CA file path (tests).
    """

    key_id: str
    team_id: str
    private_key: str = field(repr=False)
    topic: str
    endpoint: str = APNS_PRODUCTION
    priority: int = 10
    verify: bool | str = True
    connect_timeout: float = 10.0
    request_timeout: float = 30.0
    token_refresh: float = 40 * 60.0
    connections: int = 1
    max_in_flight: int = 1000

    def __post_init__(self) -> None:
        hint = " (the 10-character ID shown in the Apple developer account)"
        _checks.check_text(self.key_id, "key_id", _APPLE_ID, hint)
        _checks.check_text(self.team_id, "team_id", _APPLE_ID, hint)
        _checks.load_ec_p256(self.private_key)
        _checks.check_text(self.topic, "topic", r"[A-Za-z0-9._-]+", " (the app's bundle ID)")
        aliases = {"production": APNS_PRODUCTION, "sandbox": APNS_SANDBOX}
        object.__setattr__(self, "endpoint", aliases.get(self.endpoint, self.endpoint))
        _checks.check_https_url(self.endpoint, "endpoint")
        if self.priority not in (1, 5, 10) or isinstance(self.priority, bool):
            raise InvalidInput("priority must be 1, 5 or 10", field="priority")
        _checks.check_verify(self.verify)
        _checks.check_range(self.connect_timeout, "connect_timeout", 0.1, 300)
        _checks.check_range(self.request_timeout, "request_timeout", 0.1, 600)
        _checks.check_range(self.token_refresh, "token_refresh", 20 * 60, 60 * 60 - 60)
        _checks.check_range(self.connections, "connections", 1, 16)
        _checks.check_range(self.max_in_flight, "max_in_flight", 1, 10_000)


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def sign_provider_token(
    key: ec.EllipticCurvePrivateKey, key_id: str, team_id: str, issued_at: int
) -> str:
    """The APNs provider token: an ES256 JWT ``{alg, kid}.{iss, iat}``.

    ES256 signatures in a JWT are the raw 32-byte ``r`` and ``s``, not DER.
    """
    header = _b64url(json.dumps({"alg": "ES256", "kid": key_id}, separators=(",", ":")).encode())
    claims = _b64url(json.dumps({"iss": team_id, "iat": issued_at}, separators=(",", ":")).encode())
    signing_input = header + b"." + claims
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return (signing_input + b"." + _b64url(signature)).decode("ascii")


class ProviderToken:
    """The current ``authorization`` value, re-signed when it gets old."""

    def __init__(self, config: ApnsConfig, clock: Callable[[], float]) -> None:
        self._key = _checks.load_ec_p256(config.private_key)
        self._config = config
        self._clock = clock
        self._value = b""
        self._issued_at = 0.0
        self.signed = 0

    def current(self) -> bytes:
        now = self._clock()
        age = now - self._issued_at
        if not self._value or age >= self._config.token_refresh or age < 0:
            jwt = sign_provider_token(
                self._key, self._config.key_id, self._config.team_id, int(now)
            )
            self._value, self._issued_at = b"bearer " + jwt.encode("ascii"), now
            self.signed += 1
        return self._value

    def expire(self, value: bytes) -> None:
        """APNs said ``ExpiredProviderToken`` for ``value``: sign anew (once, not per answer)."""
        if value == self._value:
            self._value = b""


def collapse_id(key: str) -> bytes:
    """The message key as an ``apns-collapse-id`` (≤ 64 bytes, printable ASCII).

    >>> collapse_id("m7f3a:12:991")
    b'm7f3a:12:991'
    >>> len(collapse_id("x" * 100))
    64
    """
    raw = key.encode("utf-8")
    if len(raw) <= 64 and key.isascii() and key.isprintable():
        return raw
    return hashlib.sha256(raw).hexdigest().encode("ascii")


def _reason(body: bytes) -> str | None:
    try:
        data: Any = json.loads(body) if body else None
    except ValueError:
        return None
    reason = data.get("reason") if isinstance(data, dict) else None
    return reason if isinstance(reason, str) else None


class ApnsProvider:
    """APNs for one app; reuse it across batches (see the module docstring)."""

    name = "apns"

    def __init__(self, config: ApnsConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.token = ProviderToken(config, clock)
        self._pool = H2Pool(
            config.endpoint,
            tls_context(config.verify),
            size=config.connections,
            connect_timeout=config.connect_timeout,
        )
        self._fixed = [
            (b"apns-topic", config.topic.encode("ascii")),
            (b"apns-push-type", b"alert"),
            (b"apns-priority", str(config.priority).encode("ascii")),
        ]

    async def send(
        self, messages: Sequence[PushMessage], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        """One outcome per message, in order; connection trouble becomes RETRY."""
        self._pool.bind()
        return await fan_out(
            messages, self._send_one, self.config.max_in_flight, unexpected, on_outcome
        )

    async def aclose(self) -> None:
        await self._pool.aclose()

    def payload(self, message: PushMessage) -> bytes:
        """The JSON body: the alert, plus what the app needs to open and report it."""
        data: dict[str, Any] = {
            "aps": {"alert": {"body": message.text}},
            "campaign": message.campaign,
            "message_id": message.message_id,
        }
        if message.deeplink:
            data["deeplink"] = message.deeplink
        return compact_json(data)

    async def _send_one(self, message: PushMessage) -> Outcome:
        body = self.payload(message)
        if len(body) > MAX_PAYLOAD:
            return Outcome(message.message_id, OutcomeKind.FAILED, reason="PayloadTooLarge")
        if not message.token:
            return Outcome(message.message_id, OutcomeKind.INVALID_TOKEN, reason="BadDeviceToken")
        bearer = self.token.current()
        headers = [
            (b"authorization", bearer),
            *self._fixed,
            unique(b"apns-collapse-id", collapse_id(message.key)),
        ]
        if message.expiration is not None:
            headers.append(unique(b"apns-expiration", str(message.expiration).encode("ascii")))
        path = b"/3/device/" + quote(message.token, safe="").encode("ascii")
        try:
            response = await self._pool.request(
                b"POST", path, headers, body, timeout=self.config.request_timeout, unique_path=True
            )
        except RequestTimeout:
            return Outcome(message.message_id, OutcomeKind.RETRY, reason="timeout")
        except H2Error as exc:  # unprocessed after resends, lost, refused connect
            return Outcome(message.message_id, OutcomeKind.RETRY, reason=str(exc)[:200])
        return self._outcome(message, response, bearer)

    def _outcome(self, message: PushMessage, response: H2Response, bearer: bytes) -> Outcome:
        apns_id = response.headers.get(b"apns-id")
        provider_id = apns_id.decode("latin-1") if apns_id else None
        if response.status == 200:
            return Outcome(message.message_id, OutcomeKind.SENT, provider_id)
        reason = _reason(response.body)
        verdict = classify_apns(response.status, reason)
        if reason == "ExpiredProviderToken":
            self.token.expire(bearer)
        retry_after = None
        if verdict.kind is OutcomeKind.RETRY:
            retry_after = parse_retry_after(response.headers.get(b"retry-after"))
        if verdict.kind is OutcomeKind.FAILED:
            log.info("APNs refused message %s: %s", message.message_id, verdict.reason)
        return Outcome(message.message_id, verdict.kind, provider_id, verdict.reason, retry_after)

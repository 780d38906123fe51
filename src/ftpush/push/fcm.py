"""Firebase Cloud Messaging HTTP v1 over HTTP/2, authorised by a service account.

The access token comes from the service-account JSON through ``google-auth``
(a JWT-bearer grant to the JSON's own ``token_uri``), fetched in a thread,
cached until shortly before it expires and fetched anew when FCM answers
``UNAUTHENTICATED``. Each message is one ``POST
/v1/projects/<project_id>/messages:send``; they are multiplexed on one HTTP/2
connection like APNs. The Android notification ``tag`` is the message key, so a
rare duplicate replaces the first notification on the device.

Example::

    provider = FcmProvider(FcmConfig(service_account_json=text))
    outcomes = await provider.send(messages)
    await provider.aclose()
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import google.auth.exceptions
import google.auth.transport.requests
from google.oauth2 import service_account

from ftpush.errors import InvalidInput
from ftpush.push import _checks
from ftpush.push._h2core import H2Error, H2Response, RequestTimeout
from ftpush.push._pool import H2Pool, fan_out, tls_context
from ftpush.push.base import (
    OnOutcome,
    Outcome,
    OutcomeKind,
    PushMessage,
    classify_fcm,
    compact_json,
    parse_retry_after,
    unexpected,
)

log = logging.getLogger(__name__)

FCM_ENDPOINT = "https://fcm.googleapis.com"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
REQUIRED_FIELDS = ("client_email", "private_key", "token_uri", "project_id")
# An access-token failure is remembered this long, so a batch does not ask for a
# token once per message while the token endpoint is down or the key revoked.
AUTH_FAILURE_MEMORY = 5.0


def parse_service_account(text: str) -> dict[str, Any]:
    """Parse and check a service-account JSON; the fields FCM needs must be there."""
    try:
        info = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"service_account_json is not JSON ({exc})", field="service_account_json"
        ) from None
    if not isinstance(info, dict):
        raise InvalidInput(
            "service_account_json must be a JSON object", field="service_account_json"
        )
    if info.get("type", "service_account") != "service_account":
        raise InvalidInput(
            f"service_account_json is a {info.get('type')!r} key, not a service account",
            field="service_account_json",
        )
    missing = [name for name in REQUIRED_FIELDS if not info.get(name)]
    if missing:
        raise InvalidInput(
            f"service_account_json lacks {', '.join(missing)} (download a new key of the "
            "Firebase project's service account)",
            field="service_account_json",
        )
    _checks.check_text(info["client_email"], "client_email")
    _checks.check_text(info["project_id"], "project_id", r"[a-z0-9][a-z0-9-]{1,62}")
    _checks.check_https_url(info["token_uri"], "token_uri")
    _checks.load_rsa(info["private_key"])
    return info


@dataclass(frozen=True)
class FcmConfig:
    """Credentials and tuning of one app's FCM provider; checked on construction."""

    service_account_json: str = field(repr=False)
    endpoint: str = FCM_ENDPOINT
    verify: bool | str = True
    connect_timeout: float = 10.0
    request_timeout: float = 30.0
    connections: int = 1
    max_in_flight: int = 1000

    def __post_init__(self) -> None:
        parse_service_account(self.service_account_json)
        _checks.check_https_url(self.endpoint, "endpoint")
        _checks.check_verify(self.verify)
        _checks.check_range(self.connect_timeout, "connect_timeout", 0.1, 300)
        _checks.check_range(self.request_timeout, "request_timeout", 0.1, 600)
        _checks.check_range(self.connections, "connections", 1, 16)
        _checks.check_range(self.max_in_flight, "max_in_flight", 1, 10_000)

    @property
    def project_id(self) -> str:
        return str(parse_service_account(self.service_account_json)["project_id"])


class AuthFailed(Exception):
    """No access token; ``retryable`` says whether waiting may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class _TimedRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport with our timeout instead of its 120 s."""

    def __init__(self, verify: bool | str, timeout: float) -> None:
        super().__init__()
        self._verify = verify
        self._timeout = timeout

    def __call__(
        self,
        url: Any,
        method: Any = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        # Per request, not on the session: requests lets REQUESTS_CA_BUNDLE override a
        # session's verify, and a CA file given to us must win.
        kwargs["verify"] = self._verify
        return super().__call__(  # type: ignore[no-untyped-call]  # google-auth is untyped
            url, method, body, headers, self._timeout, **kwargs
        )


class AccessToken:
    """The OAuth2 access token of a service account, cached until near its expiry."""

    def __init__(
        self,
        info: Mapping[str, Any],
        verify: bool | str,
        timeout: float,
        clock: Callable[[], float],
    ) -> None:
        self._credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]  # google-auth is untyped here
            dict(info), scopes=[FCM_SCOPE]
        )
        self._request = _TimedRequest(verify, timeout)
        self._clock = clock
        self._value: str | None = None
        self._expires_at = 0.0
        self._failure: tuple[float, AuthFailed] | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.fetched = 0

    async def get(self) -> str:
        if self._value is not None and self._clock() < self._expires_at:
            return self._value
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:  # a lock serves one loop
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:  # one fetch; the waiting messages share its result
            now = self._clock()
            if self._value is not None and now < self._expires_at:
                return self._value
            if self._failure is not None and now < self._failure[0]:
                raise self._failure[1]
            try:
                await asyncio.to_thread(self._credentials.refresh, self._request)
            except Exception as exc:
                # Remembered, so the rest of the batch does not ask again message by message.
                failure = self._failed(exc)
                self._failure = (now + AUTH_FAILURE_MEMORY, failure)
                log.warning("FCM access token refused: %s", failure)
                raise failure from exc
            self._failure = None
            self._value = str(self._credentials.token)
            expiry = self._credentials.expiry
            lifetime = 3600.0
            if expiry is not None:
                lifetime = (expiry.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()
            # Renew a little early so no request leaves with a token about to lapse.
            self._expires_at = now + lifetime - min(300.0, lifetime / 10)
            self.fetched += 1
            return self._value

    @staticmethod
    def _failed(exc: Exception) -> AuthFailed:
        """Refused credentials are final; a network or server problem may pass."""
        if isinstance(exc, google.auth.exceptions.GoogleAuthError):
            retryable = bool(exc.retryable) or isinstance(
                exc, google.auth.exceptions.TransportError
            )
            return AuthFailed(f"access token: {str(exc)[:200]}", retryable=retryable)
        return AuthFailed(f"access token: {type(exc).__name__}: {str(exc)[:160]}", retryable=True)

    def expire(self, value: str) -> None:
        if value == self._value:
            self._value = None

    def close(self) -> None:
        self._request.session.close()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


class FcmProvider:
    """FCM HTTP v1 for one app; reuse it across batches."""

    name = "fcm"

    def __init__(self, config: FcmConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        info = parse_service_account(config.service_account_json)
        self.token = AccessToken(info, config.verify, config.connect_timeout, clock)
        self._clock = clock
        self._path = f"/v1/projects/{quote(info['project_id'], safe='')}/messages:send".encode()
        self._pool = H2Pool(
            config.endpoint,
            tls_context(config.verify),
            size=config.connections,
            connect_timeout=config.connect_timeout,
        )

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
        self.token.close()

    def payload(self, message: PushMessage) -> bytes:
        """The v1 ``messages:send`` body; ``data`` values are strings, as FCM requires."""
        data = {"campaign": message.campaign, "message_id": str(message.message_id)}
        if message.deeplink:
            data["deeplink"] = message.deeplink
        android: dict[str, Any] = {"notification": {"tag": message.key}}
        if message.expiration is not None:
            android["ttl"] = f"{max(0, int(message.expiration - self._clock()))}s"
        body = {
            "message": {
                "token": message.token,
                "notification": {"body": message.text},
                "data": data,
                "android": android,
            }
        }
        return compact_json(body)

    async def _send_one(self, message: PushMessage) -> Outcome:
        try:
            token = await self.token.get()
        except AuthFailed as exc:
            kind = OutcomeKind.RETRY if exc.retryable else OutcomeKind.FAILED
            return Outcome(message.message_id, kind, reason=str(exc))
        headers = [
            (b"authorization", b"Bearer " + token.encode("ascii")),
            (b"content-type", b"application/json; charset=UTF-8"),
        ]
        try:
            response = await self._pool.request(
                b"POST", self._path, headers, self.payload(message),
                timeout=self.config.request_timeout,
            )  # fmt: skip
        except RequestTimeout:
            return Outcome(message.message_id, OutcomeKind.RETRY, reason="timeout")
        except H2Error as exc:  # unprocessed after resends, lost, refused connect
            return Outcome(message.message_id, OutcomeKind.RETRY, reason=str(exc)[:200])
        return self._outcome(message, response, token)

    def _outcome(self, message: PushMessage, response: H2Response, token: str) -> Outcome:
        body = _json(response.body)
        if 200 <= response.status < 300:
            name = body.get("name") if isinstance(body, dict) else None
            return Outcome(
                message.message_id, OutcomeKind.SENT, name if isinstance(name, str) else None
            )
        verdict = classify_fcm(response.status, body)
        if response.status == 401 or verdict.reason == "UNAUTHENTICATED":
            self.token.expire(token)
        retry_after = None
        if verdict.kind is OutcomeKind.RETRY:
            retry_after = parse_retry_after(response.headers.get(b"retry-after"))
        if verdict.kind is OutcomeKind.FAILED:
            log.info("FCM refused message %s: %s", message.message_id, verdict.reason)
        return Outcome(message.message_id, verdict.kind, None, verdict.reason, retry_after)

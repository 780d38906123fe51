"""The webhook provider: each message POSTed as JSON to the app's own URL.

For platforms that deliver pushes themselves. The body is one message::

    {"message_id": 12, "key": "m7f3a:12:991", "token": "...", "platform": "ios",
     "text": "Hi", "deeplink": "https://...", "campaign": "m7f3a", "expiration": null}

with ``Idempotency-Key: <key>`` (the receiver can drop a rare duplicate) and,
when a secret is set, ``X-Ftpush-Signature: sha256=<hex HMAC-SHA256 of the
body>``. Answers: 2xx → SENT (``{"id": ...}`` in a JSON answer becomes the
provider message id), 410 → INVALID_TOKEN, 408/429/5xx/timeouts → RETRY
(honouring ``Retry-After``), anything else → FAILED with ``HTTP <status>``.

Example::

    provider = WebhookProvider(WebhookConfig("https://hooks.example.com/push", "s3cret"))
    outcomes = await provider.send(messages)
    await provider.aclose()
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from ftpush.errors import InvalidInput
from ftpush.push import _checks
from ftpush.push._pool import CONNECT_BACKOFF, fan_out, tls_context
from ftpush.push.base import (
    OnOutcome,
    Outcome,
    OutcomeKind,
    PushMessage,
    classify_http,
    compact_json,
    parse_retry_after,
    unexpected,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Ftpush-Signature"


@dataclass(frozen=True)
class WebhookConfig:
    """Where to POST, the HMAC secret (optional) and tuning; checked on construction."""

    url: str
    secret: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    concurrency: int = 32
    verify: bool | str = True

    def __post_init__(self) -> None:
        _checks.check_url(self.url, "url", ("https", "http"))
        if self.secret is not None and (not isinstance(self.secret, str) or not self.secret):
            raise InvalidInput("secret must be a non-empty string", field="secret")
        _checks.check_range(self.timeout, "timeout", 0.1, 300)
        _checks.check_range(self.concurrency, "concurrency", 1, 1000)
        _checks.check_verify(self.verify)


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``.

    >>> sign("k", b"{}")
    'sha256=add853b103fbcc936a194f9eb15e29c4ff08af6e47d5d1bca4f20218e31e4fff'
    """
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookProvider:
    """POSTs each message; at most ``concurrency`` requests at once."""

    name = "webhook"

    def __init__(
        self, config: WebhookConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._down_until = 0.0
        self._down_reason = ""

    def _bind(self) -> httpx.AsyncClient:
        """The client of the running loop (made on first use; connections never cross loops)."""
        loop = asyncio.get_running_loop()
        if self._client is not None and self._loop is not loop:
            raise RuntimeError(
                "push provider used from another event loop while its connections are "
                "open: aclose() it in its loop first, or keep one loop per worker"
            )
        if self._client is None:
            limits = httpx.Limits(
                max_connections=self.config.concurrency,
                max_keepalive_connections=self.config.concurrency,
            )
            self._client = httpx.AsyncClient(
                http2=True,
                verify=tls_context(self.config.verify, alpn=()),
                timeout=self.config.timeout,
                limits=limits,
                transport=self._transport,
                follow_redirects=False,  # a redirect would re-send the message elsewhere
                headers={"User-Agent": "ftpush-webhook/1"},
            )
            self._loop, self._down_until = loop, 0.0
        return self._client

    async def send(
        self, messages: Sequence[PushMessage], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        """One outcome per message, in order; never raises for a message."""
        client = self._bind()

        async def one(message: PushMessage) -> Outcome:
            return await self._send_one(client, message)

        return await fan_out(messages, one, self.config.concurrency, unexpected, on_outcome)

    async def aclose(self) -> None:
        """Close the connections; the provider may be used again (it reconnects)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    @staticmethod
    def body(message: PushMessage) -> bytes:
        data = {
            "message_id": message.message_id,
            "key": message.key,
            "token": message.token,
            "platform": message.platform.value,
            "text": message.text,
            "deeplink": message.deeplink,
            "campaign": message.campaign,
            "expiration": message.expiration,
        }
        return compact_json(data)

    async def _send_one(self, client: httpx.AsyncClient, message: PushMessage) -> Outcome:
        loop = asyncio.get_running_loop()
        if loop.time() < self._down_until:
            return Outcome(message.message_id, OutcomeKind.RETRY, reason=self._down_reason)
        body = self.body(message)
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.key}
        if self.config.secret:
            headers[SIGNATURE_HEADER] = sign(self.config.secret, body)
        try:
            response = await client.post(self.config.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Outcome(message.message_id, OutcomeKind.RETRY, reason="timeout")
        except httpx.ConnectError as exc:
            # Fail the rest of the batch fast instead of one connect attempt per message.
            self._down_until = loop.time() + CONNECT_BACKOFF
            self._down_reason = f"connect: {str(exc)[:200] or type(exc).__name__}"
            return Outcome(message.message_id, OutcomeKind.RETRY, reason=self._down_reason)
        except httpx.TransportError as exc:
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            return Outcome(message.message_id, OutcomeKind.RETRY, reason=reason)
        return self._outcome(message, response)

    @staticmethod
    def _outcome(message: PushMessage, response: httpx.Response) -> Outcome:
        verdict = classify_http(response.status_code)
        if verdict.kind is OutcomeKind.SENT:
            provider_id = None
            if response.headers.get("content-type", "").startswith("application/json"):
                try:
                    data = response.json()
                except ValueError:
                    data = None
                if isinstance(data, dict) and isinstance(data.get("id"), str | int):
                    provider_id = str(data["id"])
            return Outcome(message.message_id, OutcomeKind.SENT, provider_id)
        retry_after = None
        if verdict.kind is OutcomeKind.RETRY:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
        return Outcome(message.message_id, verdict.kind, None, verdict.reason, retry_after)

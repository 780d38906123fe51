"""The domain of a send: messages in, one outcome per message out (SPEC §6).

A :class:`Provider` takes a batch of :class:`PushMessage` and returns one
:class:`Outcome` per message, in the same order. Per-message problems never
raise; a connection that cannot be made becomes ``RETRY`` outcomes, because
the ledger, not an exception, is what the dispatcher acts on.

:func:`classify_apns` and :func:`classify_fcm` turn a provider's answer into an
:class:`OutcomeKind` — the one table every provider shares:

===========================================  ===============
answer                                       kind
===========================================  ===============
2xx                                          SENT
APNs 410, BadDeviceToken, Unregistered,      INVALID_TOKEN
DeviceTokenNotForTopic; FCM UNREGISTERED,
SENDER_ID_MISMATCH, INVALID_ARGUMENT on the
token
429, 5xx, timeouts, an expired auth token    RETRY (honour ``Retry-After``)
anything else                                FAILED (with the provider's reason)
===========================================  ===============

Example::

    >>> classify_apns(410, "Unregistered")
    Verdict(kind=<OutcomeKind.INVALID_TOKEN: 'invalid_token'>, reason='Unregistered')
    >>> classify_fcm(429, {"error": {"status": "RESOURCE_EXHAUSTED"}}).kind
    <OutcomeKind.RETRY: 'retry'>
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from ftpush.models import Platform

__all__ = [
    "Outcome",
    "OutcomeKind",
    "Provider",
    "PushMessage",
    "Verdict",
    "classify_apns",
    "classify_fcm",
    "classify_http",
    "compact_json",
    "parse_retry_after",
    "retry_all",
    "unexpected",
]


@dataclass(frozen=True, slots=True)
class PushMessage:
    """One push to one device, as the ledger hands it to a provider.

    ``key`` is the idempotency key (``"<campaign msg_id>:<line>:<device id>"``, at
    most 64 bytes); providers put it where the device collapses duplicates
    (``apns-collapse-id``, the Android notification ``tag``).
    """

    message_id: int
    key: str
    token: str
    platform: Platform
    text: str
    deeplink: str | None
    campaign: str
    expiration: int | None = None


class OutcomeKind(StrEnum):
    SENT = "sent"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - an outcome, not a secret
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one message; ``reason`` is the provider's own word."""

    message_id: int
    kind: OutcomeKind
    provider_message_id: str | None = None
    reason: str | None = None
    retry_after: float | None = None


OnOutcome = Callable[[int, "Outcome"], None]
"""Told ``(index in the batch, outcome)`` as soon as one message's outcome is known."""


class Provider(Protocol):
    """A push service. Build one per app and reuse it: it keeps connections open.

    ``send`` returns one :class:`Outcome` per message, in order; it raises only
    for cancellation. ``on_outcome(index, outcome)``, when given, is called as
    each outcome is known (the dispatcher commits them in small batches while
    the rest of the batch is still in flight). ``aclose`` releases connections
    and threads.
    """

    name: str

    async def send(
        self, messages: Sequence[PushMessage], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]: ...

    async def aclose(self) -> None: ...


class Verdict(NamedTuple):
    kind: OutcomeKind
    reason: str | None


def retry_all(
    messages: Sequence[PushMessage], reason: str, retry_after: float | None = None
) -> list[Outcome]:
    """``RETRY`` outcomes for a whole batch (the provider could not be reached)."""
    return [Outcome(m.message_id, OutcomeKind.RETRY, None, reason, retry_after) for m in messages]


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def compact_json(data: object) -> bytes:
    """UTF-8 JSON without spaces (one shared encoder: building one per call costs more).

    >>> compact_json({"text": "Çok güzel", "n": 1})
    b'{"text":"\xc3\x87ok g\xc3\xbczel","n":1}'
    """
    return _JSON.encode(data).encode("utf-8")


def unexpected(message: PushMessage, exc: Exception) -> Outcome:
    """The outcome of a bug while sending: RETRY, so that nothing is lost."""
    return Outcome(message.message_id, OutcomeKind.RETRY, None, f"internal: {type(exc).__name__}")


def parse_retry_after(value: str | bytes | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date).

    >>> parse_retry_after("120"), parse_retry_after(None), parse_retry_after("soon")
    (120.0, None, None)
    """
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def classify_http(status: int, reason: str | None = None) -> Verdict:
    """The generic table, for providers without a vocabulary of their own (webhook).

    >>> classify_http(204).kind, classify_http(410).kind, classify_http(503).kind
    (<OutcomeKind.SENT: 'sent'>, <OutcomeKind.INVALID_TOKEN: 'invalid_token'>, \
<OutcomeKind.RETRY: 'retry'>)
    """
    if 200 <= status < 300:
        return Verdict(OutcomeKind.SENT, None)
    word = reason or f"HTTP {status}"
    if status == 410:
        return Verdict(OutcomeKind.INVALID_TOKEN, word)
    if status in (408, 429) or status >= 500:
        return Verdict(OutcomeKind.RETRY, word)
    return Verdict(OutcomeKind.FAILED, word)


# APNs reasons that mean "this token will never work for this app": the device is
# marked uninstalled. 410 is always such an answer whatever the reason says.
_APNS_DEAD = frozenset({"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic", "ExpiredToken"})
# Worth retrying although the status is 4xx: our provider token is re-signed first.
_APNS_RETRY = frozenset({"ExpiredProviderToken", "TooManyProviderTokenUpdates", "IdleTimeout"})


def classify_apns(status: int, reason: str | None) -> Verdict:
    """Classify an APNs answer (status and the ``reason`` of its JSON body).

    >>> classify_apns(200, None).kind, classify_apns(400, "BadDeviceToken").kind
    (<OutcomeKind.SENT: 'sent'>, <OutcomeKind.INVALID_TOKEN: 'invalid_token'>)
    >>> classify_apns(400, "BadTopic")
    Verdict(kind=<OutcomeKind.FAILED: 'failed'>, reason='BadTopic')
    """
    if status == 200:
        return Verdict(OutcomeKind.SENT, None)
    word = reason or f"HTTP {status}"
    if status == 410 or reason in _APNS_DEAD:
        return Verdict(OutcomeKind.INVALID_TOKEN, word)
    if status in (429, 408) or status >= 500 or reason in _APNS_RETRY:
        return Verdict(OutcomeKind.RETRY, word)
    return Verdict(OutcomeKind.FAILED, word)


# FCM v1 error codes (error.details[].errorCode, else error.status).
_FCM_DEAD = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
_FCM_RETRY = frozenset(
    {"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL", "RESOURCE_EXHAUSTED", "UNAUTHENTICATED"}
)


def _fcm_error(error_json: object) -> Mapping[str, Any]:
    if isinstance(error_json, Mapping):
        error = error_json.get("error")
        if isinstance(error, Mapping):
            return error
    return {}


def _fcm_details(error: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    details = error.get("details")
    if not isinstance(details, list):
        return []
    return [d for d in details if isinstance(d, Mapping)]


def _names_the_token(error: Mapping[str, Any]) -> bool:
    """Whether an INVALID_ARGUMENT is about the registration token itself."""
    for detail in _fcm_details(error):
        violations = detail.get("fieldViolations")
        if isinstance(violations, list):
            for violation in violations:
                if isinstance(violation, Mapping) and violation.get("field") == "message.token":
                    return True
    message = error.get("message")
    return isinstance(message, str) and "registration token" in message.lower()


def classify_fcm(status: int, error_json: object) -> Verdict:
    """Classify an FCM HTTP v1 answer (status and the parsed JSON body).

    The FCM-specific ``errorCode`` of ``error.details`` wins over the generic
    ``error.status``; without a body the status code decides.

    >>> body = {"error": {"status": "NOT_FOUND", "details": [
    ...     {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
    ...      "errorCode": "UNREGISTERED"}]}}
    >>> classify_fcm(404, body)
    Verdict(kind=<OutcomeKind.INVALID_TOKEN: 'invalid_token'>, reason='UNREGISTERED')
    """
    if 200 <= status < 300:
        return Verdict(OutcomeKind.SENT, None)
    error = _fcm_error(error_json)
    code: str | None = None
    for detail in _fcm_details(error):
        candidate = detail.get("errorCode")
        if isinstance(candidate, str) and candidate:
            code = candidate
            break
    if code is None:
        candidate = error.get("status")
        code = candidate if isinstance(candidate, str) and candidate else None
    word = code or f"HTTP {status}"
    if code in _FCM_DEAD:
        return Verdict(OutcomeKind.INVALID_TOKEN, word)
    if code == "INVALID_ARGUMENT" and _names_the_token(error):
        return Verdict(OutcomeKind.INVALID_TOKEN, word)
    if code in _FCM_RETRY or status in (408, 429) or status >= 500:
        return Verdict(OutcomeKind.RETRY, word)
    # A bare 404 (no FcmError) is a wrong project or URL, not a dead token: failing the
    # message is recoverable, marking every device uninstalled would not be.
    return Verdict(OutcomeKind.FAILED, word)

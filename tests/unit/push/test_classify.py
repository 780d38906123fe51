"""The outcome tables of SPEC §6, and the docstring examples of the push package."""

from __future__ import annotations

import doctest
import email.utils
import importlib

import pytest

from ftpush.push.base import (
    OutcomeKind,
    classify_apns,
    classify_fcm,
    classify_http,
    parse_retry_after,
)

S, DEAD, RETRY, FAIL = (
    OutcomeKind.SENT,
    OutcomeKind.INVALID_TOKEN,
    OutcomeKind.RETRY,
    OutcomeKind.FAILED,
)


@pytest.mark.parametrize(
    ("status", "reason", "kind", "word"),
    [
        (200, None, S, None),
        (410, "Unregistered", DEAD, "Unregistered"),
        (410, "ExpiredToken", DEAD, "ExpiredToken"),
        (410, None, DEAD, "HTTP 410"),
        (400, "BadDeviceToken", DEAD, "BadDeviceToken"),
        (400, "DeviceTokenNotForTopic", DEAD, "DeviceTokenNotForTopic"),
        (400, "Unregistered", DEAD, "Unregistered"),
        (429, "TooManyRequests", RETRY, "TooManyRequests"),
        (500, "InternalServerError", RETRY, "InternalServerError"),
        (503, "ServiceUnavailable", RETRY, "ServiceUnavailable"),
        (503, "Shutdown", RETRY, "Shutdown"),
        (502, None, RETRY, "HTTP 502"),
        (403, "ExpiredProviderToken", RETRY, "ExpiredProviderToken"),
        (429, "TooManyProviderTokenUpdates", RETRY, "TooManyProviderTokenUpdates"),
        (403, "InvalidProviderToken", FAIL, "InvalidProviderToken"),
        (400, "BadTopic", FAIL, "BadTopic"),
        (400, "TopicDisallowed", FAIL, "TopicDisallowed"),
        (413, "PayloadTooLarge", FAIL, "PayloadTooLarge"),
        (405, None, FAIL, "HTTP 405"),
    ],
)
def test_apns_table(status: int, reason: str | None, kind: OutcomeKind, word: str | None) -> None:
    assert classify_apns(status, reason) == (kind, word)


FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def fcm_body(status: str, code: str | None = None, field: str | None = None, message: str = "x"):
    details: list[dict[str, object]] = []
    if code:
        details.append({"@type": FCM_ERROR, "errorCode": code})
    if field:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": "Invalid"}],
            }
        )
    return {"error": {"code": 400, "message": message, "status": status, "details": details}}


@pytest.mark.parametrize(
    ("status", "body", "kind", "word"),
    [
        (200, {"name": "projects/p/messages/1"}, S, None),
        (404, fcm_body("NOT_FOUND", "UNREGISTERED"), DEAD, "UNREGISTERED"),
        (400, fcm_body("INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.token"), DEAD,
         "INVALID_ARGUMENT"),
        (400, fcm_body("INVALID_ARGUMENT", None, None,
                       "The registration token is not a valid FCM registration token"),
         DEAD, "INVALID_ARGUMENT"),
        (400, fcm_body("INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.android.ttl"), FAIL,
         "INVALID_ARGUMENT"),
        (403, fcm_body("PERMISSION_DENIED", "SENDER_ID_MISMATCH"), DEAD, "SENDER_ID_MISMATCH"),
        (429, fcm_body("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), RETRY, "QUOTA_EXCEEDED"),
        (503, fcm_body("UNAVAILABLE", "UNAVAILABLE"), RETRY, "UNAVAILABLE"),
        (500, fcm_body("INTERNAL", "INTERNAL"), RETRY, "INTERNAL"),
        (401, fcm_body("UNAUTHENTICATED"), RETRY, "UNAUTHENTICATED"),
        (401, fcm_body("UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"), FAIL,
         "THIRD_PARTY_AUTH_ERROR"),
        # A bare 404 is a wrong project or URL: failing is recoverable, killing devices is not.
        (404, None, FAIL, "HTTP 404"),
        (404, fcm_body("NOT_FOUND"), FAIL, "NOT_FOUND"),
        (502, "not json at all", RETRY, "HTTP 502"),
        (400, {"error": "flat string"}, FAIL, "HTTP 400"),
        (400, {"error": {"details": "not a list"}}, FAIL, "HTTP 400"),
        (400, [1, 2], FAIL, "HTTP 400"),
    ],
)  # fmt: skip
def test_fcm_table(status: int, body: object, kind: OutcomeKind, word: str | None) -> None:
    assert classify_fcm(status, body) == (kind, word)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(200, S), (202, S), (204, S), (410, DEAD), (404, FAIL), (400, FAIL), (401, FAIL),
     (408, RETRY), (429, RETRY), (500, RETRY), (503, RETRY), (301, FAIL)],
)  # fmt: skip
def test_generic_http_table(status: int, kind: OutcomeKind) -> None:
    assert classify_http(status).kind is kind


def test_retry_after_forms() -> None:
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 90, usegmt=True)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(b" 30 ") == 30.0
    assert parse_retry_after(date, now=now) == pytest.approx(90, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now=now) == 0.0
    assert parse_retry_after("-5") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    "module",
    ["base", "log", "webhook", "apns", "factory", "_checks", "_pool", "_h2core"],
)
def test_docstring_examples_hold(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"ftpush.push.{module}"))
    assert result.failed == 0

"""Provider settings: hostile and sloppy configs are refused with a clear, secret-free error."""

from __future__ import annotations

import asyncio
import json
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ftpush.errors import InvalidInput
from ftpush.push.apns import APNS_SANDBOX, ApnsConfig, ApnsProvider
from ftpush.push.factory import (
    LogConfig,
    ProviderCache,
    describe_provider_config,
    make_provider,
    parse_provider_config,
)
from ftpush.push.fcm import FcmConfig, FcmProvider
from ftpush.push.log import LogProvider
from ftpush.push.webhook import WebhookConfig, WebhookProvider


def pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip


@cache
def p8() -> str:
    return pem(ec.generate_private_key(ec.SECP256R1()))


@cache
def rsa_pem() -> str:
    return pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def apns(**changes: Any) -> dict[str, Any]:
    base = {"key_id": "ABC123DEFG", "team_id": "TEAM123456", "private_key": p8(),
            "topic": "com.example.app"}  # fmt: skip
    return {k: v for k, v in (base | changes).items() if v is not ...}


def service_account(**changes: Any) -> dict[str, Any]:
    base = {
        "type": "service_account", "project_id": "demo-app", "private_key_id": "k1",
        "private_key": rsa_pem(), "client_email": "push@demo-app.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }  # fmt: skip
    return {k: v for k, v in (base | changes).items() if v is not ...}


def refused(kind: str, settings: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        parse_provider_config(kind, settings)
    return info.value


def test_good_configs_build_their_providers() -> None:
    assert isinstance(make_provider("log", {}), LogProvider)
    assert isinstance(make_provider("apns", apns()), ApnsProvider)
    assert isinstance(
        make_provider("fcm", {"service_account_json": json.dumps(service_account())}),
        FcmProvider,
    )
    assert isinstance(make_provider("webhook", {"url": "https://h.example/p"}), WebhookProvider)
    assert parse_provider_config("log", {"record": True}) == LogConfig(record=True)


def test_apns_endpoint_aliases_and_verify_from_the_caller() -> None:
    config = parse_provider_config("apns", apns(endpoint="sandbox"), verify="/tmp/ca.pem")
    assert isinstance(config, ApnsConfig)
    assert (config.endpoint, config.verify) == (APNS_SANDBOX, "/tmp/ca.pem")


def test_fcm_accepts_the_json_as_an_object() -> None:
    config = parse_provider_config("fcm", {"service_account_json": service_account()})
    assert isinstance(config, FcmConfig)
    assert config.project_id == "demo-app"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"key_id": ...}, "key_id", "key_id is required"),
        ({"team_id": ""}, "team_id", "team_id is required"),
        ({"key_id": "abc"}, "key_id", "10-character"),
        ({"key_id": "ABC123DEF\n"}, "key_id", "not valid"),
        ({"topic": "com.example app"}, "topic", "bundle ID"),
        ({"private_key": ...}, "private_key", "required"),
        ({"private_key": "hello"}, "private_key", "PEM text"),
        ({"private_key": "-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----"},
         "private_key", "malformed"),
        ({"endpoint": "http://api.push.apple.com"}, "endpoint", "https://"),
        ({"endpoint": "https://"}, "endpoint", "https://"),
        ({"endpoint": "https://h:99999"}, "endpoint", "not a valid URL"),
        ({"priority": 7}, "priority", "1, 5 or 10"),
        ({"priority": True}, "priority", "1, 5 or 10"),
        ({"token_refresh": 60}, "token_refresh", "between 1200"),
        ({"request_timeout": "thirty"}, "request_timeout", "must be a number"),
        ({"priority": "high"}, "priority", "must be a number"),
        ({"connections": 0}, "connections", "between 1"),
        ({"colour": "red"}, "colour", "unknown setting colour"),
        ({"verify": False}, "verify", "unknown setting verify"),
    ],
)  # fmt: skip
def test_apns_refusals(changes: dict[str, Any], field: str, words: str) -> None:
    error = refused("apns", apns(**changes))
    assert error.field == field
    assert words in error.message
    assert error.message.startswith("apns: ")


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (rsa_pem, "not an EC P-256 key"),
        (lambda: pem(ec.generate_private_key(ec.SECP384R1())), "not an EC P-256 key"),
        (lambda: pem(ed25519.Ed25519PrivateKey.generate()), "not an EC P-256 key"),
    ],
)
def test_apns_refuses_keys_that_are_not_p8(key: Any, words: str) -> None:
    assert words in refused("apns", apns(private_key=key())).message


def test_errors_never_echo_the_key() -> None:
    body = p8().splitlines()[1]
    broken = p8().replace(body, body[::-1])
    error = refused("apns", apns(private_key=broken))
    assert body not in str(error)
    assert body[::-1] not in str(error)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps(service_account(type="authorized_user")), "not a service account"),
        (json.dumps(service_account(client_email=...)), "lacks client_email"),
        (json.dumps(service_account(private_key=..., token_uri=...)),
         "lacks private_key, token_uri"),
        (json.dumps(service_account(project_id="")), "lacks project_id"),
        (json.dumps(service_account(project_id="Demo App")), "project_id"),
        (json.dumps(service_account(token_uri="http://oauth2.googleapis.com/token")), "https://"),
        (json.dumps(service_account(private_key="garbage")), "PEM text"),
        (json.dumps(service_account(private_key=p8())), "not an RSA key"),
    ],
)  # fmt: skip
def test_fcm_refusals(text: str, words: str) -> None:
    error = refused("fcm", {"service_account_json": text})
    assert words in error.message
    assert rsa_pem().splitlines()[1] not in error.message


def test_fcm_needs_its_json() -> None:
    assert refused("fcm", {}).field == "service_account_json"
    assert (
        "https://"
        in refused(
            "fcm", {"service_account_json": service_account(), "endpoint": "ftp://x"}
        ).message
    )


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({}, "url is required"),
        ({"url": "ftp://h.example/p"}, "https:// or http://"),
        ({"url": "https://h.example/p", "secret": ""}, "secret"),
        ({"url": "https://h.example/p", "concurrency": 0}, "concurrency"),
        ({"url": "https://h.example/p", "timeout": -1}, "timeout"),
    ],
)
def test_webhook_refusals(settings: dict[str, Any], words: str) -> None:
    assert words in refused("webhook", settings).message


@pytest.mark.parametrize("kind", ["", "sms", "APNS", None])
def test_unknown_kinds(kind: Any) -> None:
    with pytest.raises(InvalidInput, match="unknown push provider") as info:
        make_provider(kind, {})
    assert info.value.field == "provider"


def test_settings_must_be_a_mapping() -> None:
    with pytest.raises(InvalidInput, match="mapping"):
        parse_provider_config("webhook", ["url"])  # type: ignore[arg-type]


def test_describe_hides_secrets() -> None:
    shown = describe_provider_config("apns", apns())
    assert shown["private_key"] == "(set)"
    assert shown["key_id"] == "ABC123DEFG"
    fcm = describe_provider_config("fcm", {"service_account_json": service_account()})
    assert fcm == {
        "service_account_json": "(set)", "project_id": "demo-app",
        "client_email": "push@demo-app.iam.gserviceaccount.com",
    }  # fmt: skip
    broken = describe_provider_config("fcm", {"service_account_json": "{"})
    assert broken == {"service_account_json": "(invalid)"}
    assert describe_provider_config("webhook", {"url": "u", "secret": ""})["secret"] == "(empty)"


def test_reprs_carry_no_secrets() -> None:
    assert p8() not in repr(ApnsConfig(**apns()))
    sa = json.dumps(service_account())
    assert "PRIVATE KEY" not in repr(FcmConfig(service_account_json=sa))
    assert "s3cret" not in repr(WebhookConfig("https://h.example/p", "s3cret"))


def test_provider_cache_reuses_rebuilds_and_closes() -> None:
    cache = ProviderCache()
    first = cache.get("demo", "log", {})
    assert cache.get("demo", "log", {}) is first
    other = cache.get("other", "webhook", {"url": "https://h.example/p"})
    assert len(cache) == 2
    changed = cache.get("demo", "log", {"record": True})  # new settings, new provider
    assert changed is not first
    asyncio.run(cache.close_stale())
    assert isinstance(first, LogProvider)
    assert first.closed
    assert isinstance(changed, LogProvider)
    assert not changed.closed
    asyncio.run(cache.aclose())
    assert changed.closed
    assert len(cache) == 0
    assert cache.get("other", "webhook", {"url": "https://h.example/p"}) is not other
    with pytest.raises(InvalidInput):
        cache.get("bad", "apns", {})

"""APNs pieces that need no network: the provider token, collapse ids, payloads, fan-out."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ftpush.models import Platform
from ftpush.push._pool import fan_out, split_origin
from ftpush.push.apns import ApnsConfig, ApnsProvider, ProviderToken, collapse_id
from ftpush.push.base import OutcomeKind, PushMessage, unexpected
from ftpush.push.fcm import FcmConfig, FcmProvider
from ftpush.push.webhook import WebhookProvider
from tests.peers._common import free_port
from tests.unit.push.test_config import service_account

KEY = ec.generate_private_key(ec.SECP256R1())
P8 = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()


def config(**changes: object) -> ApnsConfig:
    base: dict[str, object] = {
        "key_id": "ABC123DEFG", "team_id": "TEAM123456", "private_key": P8,
        "topic": "com.example.app", "endpoint": f"https://127.0.0.1:{free_port()}",
    }  # fmt: skip
    return ApnsConfig(**(base | changes))  # type: ignore[arg-type]


def b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def message(i: int = 1, **changes: object) -> PushMessage:
    base: dict[str, object] = {
        "message_id": i, "key": f"m1:{i}:9", "token": "a" * 64, "platform": Platform.IOS,
        "text": "Hi", "deeplink": None, "campaign": "m1",
    }  # fmt: skip
    return PushMessage(**(base | changes))  # type: ignore[arg-type]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_provider_token_is_a_valid_es256_jwt() -> None:
    clock = FakeClock()
    value = ProviderToken(config(), clock).current()
    assert value.startswith(b"bearer ")
    header, claims, signature = value[7:].decode().split(".")
    assert json.loads(b64(header)) == {"alg": "ES256", "kid": "ABC123DEFG"}
    assert json.loads(b64(claims)) == {"iss": "TEAM123456", "iat": 1_800_000_000}
    raw = b64(signature)
    assert len(raw) == 64  # r || s, not DER
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    KEY.public_key().verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        KEY.public_key().verify(der, f"{header}.x{claims}".encode(), ec.ECDSA(hashes.SHA256()))


def test_provider_token_refresh_schedule() -> None:
    clock = FakeClock()
    token = ProviderToken(config(token_refresh=20 * 60), clock)
    first = token.current()
    clock.now += 19 * 60
    assert token.current() is first
    clock.now += 60
    second = token.current()
    assert second != first
    clock.now -= 3600  # a clock stepped back: never keep a token "from the future"
    assert token.current() != second
    assert token.signed == 3


def test_expired_provider_token_is_resigned_once() -> None:
    clock = FakeClock()
    token = ProviderToken(config(), clock)
    old = token.current()
    token.expire(b"bearer some-other-token")
    assert token.current() is old
    token.expire(old)
    clock.now += 1
    assert token.current() != old
    assert token.signed == 2


def test_collapse_id_keeps_short_keys_and_hashes_the_rest() -> None:
    assert collapse_id("m7f3a:12:991") == b"m7f3a:12:991"
    assert collapse_id("k" * 64) == b"k" * 64
    assert len(collapse_id("k" * 65)) == 64
    assert collapse_id("naïve:1:2") != b"na\xc3\xafve:1:2"
    assert collapse_id("a\r\nb") == collapse_id("a\r\nb")
    assert b"\r" not in collapse_id("a\r\nb")


def test_payload_shape() -> None:
    provider = ApnsProvider(config())
    body = json.loads(provider.payload(message(deeplink="myapp://x", text="Çok güzel\nyes")))
    assert body == {
        "aps": {"alert": {"body": "Çok güzel\nyes"}},
        "campaign": "m1", "message_id": 1, "deeplink": "myapp://x",
    }  # fmt: skip
    asyncio.run(provider.aclose())


def test_local_refusals_need_no_network() -> None:
    provider = ApnsProvider(config())
    batch = [message(1, text="x" * 5000), message(2, token="")]
    outcomes = asyncio.run(provider.send(batch))
    assert [(o.kind, o.reason) for o in outcomes] == [
        (OutcomeKind.FAILED, "PayloadTooLarge"),
        (OutcomeKind.INVALID_TOKEN, "BadDeviceToken"),
    ]
    asyncio.run(provider.aclose())


def test_fcm_payload_shape() -> None:
    provider = FcmProvider(FcmConfig(json.dumps(service_account())), clock=lambda: 1_800_000_000.0)
    body = json.loads(provider.payload(message(expiration=1_800_000_060, deeplink="https://d")))
    assert body == {
        "message": {
            "token": "a" * 64, "notification": {"body": "Hi"},
            "data": {"campaign": "m1", "message_id": "1", "deeplink": "https://d"},
            "android": {"notification": {"tag": "m1:1:9"}, "ttl": "60s"},
        }
    }  # fmt: skip
    asyncio.run(provider.aclose())


def test_webhook_body_shape() -> None:
    assert json.loads(WebhookProvider.body(message(expiration=5))) == {
        "message_id": 1, "key": "m1:1:9", "token": "a" * 64, "platform": "ios",
        "text": "Hi", "deeplink": None, "campaign": "m1", "expiration": 5,
    }  # fmt: skip


def test_fan_out_keeps_order_bounds_concurrency_and_contains_bugs() -> None:
    running = peak = 0

    async def work(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * (i % 3))
        running -= 1
        if i == 7:
            raise KeyError("a bug")
        return i * 10

    results = asyncio.run(fan_out(list(range(20)), work, 4, lambda i, exc: -i))
    assert results == [i * 10 if i != 7 else -7 for i in range(20)]
    assert peak == 4


def test_a_bug_becomes_a_retry_outcome() -> None:
    outcome = unexpected(message(3), KeyError("x"))
    assert (outcome.message_id, outcome.kind, outcome.reason) == (
        3, OutcomeKind.RETRY, "internal: KeyError",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.push.apple.com", ("api.push.apple.com", 443, b"api.push.apple.com")),
        ("https://127.0.0.1:8443", ("127.0.0.1", 8443, b"127.0.0.1:8443")),
        ("https://[::1]:8443/", ("::1", 8443, b"[::1]:8443")),
    ],
)
def test_split_origin(url: str, expected: tuple[str, int, bytes]) -> None:
    assert split_origin(url) == expected


def test_split_origin_refuses_plain_http() -> None:
    with pytest.raises(ValueError, match="https"):
        split_origin("http://api.push.apple.com")

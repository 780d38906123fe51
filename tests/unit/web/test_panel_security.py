"""The panel's pure parts: cookie signatures, CSRF tokens, the login limiter, redirects."""

from __future__ import annotations

import pytest

from ftpush.web.panel.ratelimit import LoginLimiter
from ftpush.web.panel.rendering import safe_next
from ftpush.web.panel.security import Signer


def test_signatures_bind_value_purpose_and_key() -> None:
    signer = Signer("k" * 40)
    signed = signer.sign("session", "s:abc")
    assert signer.unsign("session", signed) == "s:abc"
    assert signer.unsign("flash", signed) is None  # another purpose
    assert Signer("j" * 40).unsign("session", signed) is None  # another key
    value, mac = signed.rsplit(".", 1)
    assert signer.unsign("session", f"s:abd.{mac}") is None
    assert signer.unsign("session", value) is None
    assert signer.unsign("session", "") is None


def test_csrf_tokens_are_per_session() -> None:
    signer = Signer("k" * 40)
    assert signer.csrf_token("s:one") == signer.csrf_token("s:one")
    assert signer.csrf_token("s:one") != signer.csrf_token("s:two")
    assert signer.csrf_token("s:one") != Signer("j" * 40).csrf_token("s:one")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limiter_counts_failures_in_a_sliding_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(per_user=3, per_address=5, window=600.0, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("root", "192.0.2.1") is None
        limiter.failed("Root", "192.0.2.1")
        clock.now += 10
    assert limiter.retry_after(" ROOT ", "192.0.2.1") == 600 - 30
    assert limiter.retry_after("root", "192.0.2.2") is None  # another address
    assert limiter.retry_after("alice", "192.0.2.1") is None  # another user
    clock.now += 600 - 30
    assert limiter.retry_after("root", "192.0.2.1") is None  # the first failure expired
    limiter.failed("root", "192.0.2.1")
    assert limiter.retry_after("root", "192.0.2.1") == 10
    limiter.succeeded("root", "192.0.2.1")
    assert limiter.retry_after("root", "192.0.2.1") is None


def test_the_limiter_stops_spraying_many_names_from_one_address() -> None:
    clock = Clock()
    limiter = LoginLimiter(per_user=3, per_address=5, window=600.0, clock=clock)
    for name in ("a", "b", "c", "d", "e"):
        limiter.failed(name, "198.51.100.9")
    assert limiter.retry_after("f", "198.51.100.9") == 600
    assert limiter.retry_after("f", "198.51.100.10") is None
    limiter.succeeded("e", "198.51.100.9")  # a success does not lift the address limit
    assert limiter.retry_after("f", "198.51.100.9") == 600


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/apps/alpha/accounts", "/apps/alpha/accounts"),
        ("/", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/apps\r\nSet-Cookie: x", "/"),
        ("apps", "/"),
        ("", "/"),
    ],
)
def test_after_login_only_local_paths(target: str, expected: str) -> None:
    assert safe_next(target) == expected

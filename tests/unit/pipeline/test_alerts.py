"""Alert contacts and what ends up in headers and outcomes: hostile input."""

from __future__ import annotations

import pytest

from ftpush.errors import InvalidInput
from ftpush.pipeline.alerts import Alert, clean_subject, redact_url, validate_contacts
from ftpush.storage.apps import MAX_ALERT_EMAILS


def test_addresses_are_trimmed_deduplicated_and_their_domain_lowercased() -> None:
    emails, url = validate_contacts(
        [" ops@Example.COM", "OPS@example.com", "a.b+tag@mail.example.org\t", "x@y"], None
    )
    assert emails == ["ops@example.com", "a.b+tag@mail.example.org", "x@y"]
    assert url is None


def test_an_empty_list_and_no_webhook_are_fine() -> None:
    assert validate_contacts([], None) == ([], None)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "   ",
        "ops",
        "ops@",
        "@example.com",
        "ops@@example.com",
        "ops@a@example.com",
        "ops @example.com",
        "ops@exa mple.com",
        "ops@example.com, evil@example.com",
        "ops@example.com\r\nBcc: evil@example.com",
        "ops@example.com\n",
        "ops\r@example.com",
        "ops@example.com\x00",
        "<ops@example.com>",
        "Ops <ops@example.com>",
        '"ops"@example.com',
        "ops;evil@example.com",
        "ops@[127.0.0.1]",
        "ops@-example.com",
        "ops@example-.com",
        "ops@example..com",
        "ops@.example.com",
        "ops@example.com.",
        ".ops@example.com",
        "ops.@example.com",
        "o..ps@example.com",
        "öps@example.com",
        "ops@exämple.com",
        "ops@example.com\u2028",
        "ops@exa\u202emple.com",
        "a" * 65 + "@example.com",
        "ops@" + "a" * 64 + ".com",
        "ops@" + ".".join(["a" * 63] * 4),  # 4 + 255 characters: over 254
    ],
)
def test_hostile_or_odd_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_contacts([address], None)
    assert caught.value.field == "alert_emails"
    assert "\n" not in caught.value.message
    assert "\r" not in caught.value.message


def test_the_longest_accepted_address() -> None:
    address = "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 61])
    assert len(address) == 254
    assert validate_contacts([address], None) == ([address], None)


def test_a_lone_string_is_not_a_list_of_addresses() -> None:
    with pytest.raises(InvalidInput, match="list of addresses"):
        validate_contacts("ops@example.com", None)


def test_at_most_twenty_distinct_addresses() -> None:
    many = [f"ops{i}@example.com" for i in range(MAX_ALERT_EMAILS)]
    assert len(validate_contacts([*many, *many], None)[0]) == MAX_ALERT_EMAILS
    with pytest.raises(InvalidInput, match="at most 20") as caught:
        validate_contacts([*many, "one-more@example.com"], None)
    assert caught.value.field == "alert_emails"


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example/alerts",
        "http://127.0.0.1:8080/hook?token=abc&x=1",
        "HTTPS://user:p%40ss@hooks.example:8443/a/b#frag",
        "https://[2001:db8::1]/hook",
    ],
)
def test_http_webhook_urls_are_accepted(url: str) -> None:
    assert validate_contacts([], f" {url} ") == ([], url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        " ",
        "hooks.example/alerts",
        "//hooks.example/alerts",
        "ftp://hooks.example/alerts",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://127.0.0.1:25/_HELO",
        "http:///no-host",
        "http://:80/no-host",
        "https://hooks.example/a b",
        "https://hooks.example/a\r\nX-Injected: 1",
        "https://hooks.example/a\n",
        "https://hooks.example/\x00",
        "https://hooks.example/ä",
        "https://hooks.example:99999/",
        "https://hooks.example:port/",
        "https://[::1/",
        "https://hooks.example/" + "a" * 2000,
    ],
)
def test_bad_webhook_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_contacts([], url)
    assert caught.value.field == "alert_webhook_url"
    assert "\n" not in caught.value.message


def test_a_refused_webhook_url_is_never_repeated_in_the_message() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_contacts([], "ftp://user:hunter2-secret@hooks.example/?token=tok-secret")
    assert "secret" not in caught.value.message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example/a", "https://hooks.example/a"),
        ("https://user:pw@hooks.example/a", "https://hooks.example/a"),
        ("https://token@hooks.example/a", "https://hooks.example/a"),
        ("http://u:p@127.0.0.1:8080/a?token=t&x=1#f", "http://127.0.0.1:8080/a?token=***&x=***"),
        ("https://hooks.example/a?secret", "https://hooks.example/a?***"),
        ("https://u:p@[2001:db8::1]:8443/h?k=v", "https://[2001:db8::1]:8443/h?k=***"),
        ("https://hooks.example:bad/", "(unparseable URL)"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("subject", "line"),
    [
        ("plain", "plain"),
        ("a\r\nBcc: evil@example.com", "a Bcc: evil@example.com"),
        ("a\rb\nc\x00d\x1be\x7ff", "a b c d e f"),
        ("a\u2028b\u2029c\x85d", "a b c d"),
        ("  lots   of\t\tspace  ", "lots of space"),
        ("bidi \u202etxt.exe", "bidi txt.exe"),
        ("İstanbul ğüş", "İstanbul ğüş"),
    ],
)
def test_clean_subject_gives_one_line(subject: str, line: str) -> None:
    assert clean_subject(subject) == line


def test_a_long_subject_is_cut() -> None:
    cut = clean_subject("x" * 1000)
    assert len(cut) == 200
    assert cut.endswith("…")


def test_alert_cleans_its_subject_and_fills_its_document() -> None:
    alert = Alert("demo", "export\r\nfailed", "body", {"event": "export.failed", "run_id": 7})
    assert alert.subject == "export failed"
    assert alert.data == {
        "event": "export.failed",
        "app": "demo",
        "subject": "export failed",
        "text": "body",
        "run_id": 7,
    }
    assert Alert("demo", "s", "t").data["event"] == "alert"
    caller_data = {"event": "x"}
    Alert("demo", "s", "t", caller_data)
    assert caller_data == {"event": "x"}  # the caller's dict is not changed

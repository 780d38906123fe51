"""``ftpush device add`` and ``ftpush user show``."""

from __future__ import annotations

from tests.integration.cli.conftest import Ftpush

IOS = "ab" * 32


def test_devices_and_profiles(ftpush: Ftpush) -> None:
    ftpush("app", "create", "demo")
    ios = ftpush("device", "add", "--app", "demo", "--external-id", "12345", "--token", IOS,
                 "--json").json()  # fmt: skip
    assert ios["platform"] == "ios"  # from the token's shape
    android = ftpush("device", "add", "--app", "demo", "--external-id", "12345",
                     "--token", "fcm:token-1", "--app-version", "2.1").json  # fmt: skip
    assert (
        "android"
        in ftpush(
            "device", "add", "--app", "demo", "--external-id", "12345", "--token", "fcm:token-1"
        ).out
    )
    del android
    shown = ftpush("user", "show", "--app", "demo", "12345", "--json").json()
    assert [d["platform"] for d in shown["devices"]] == ["ios", "android"]
    assert shown["devices"][1]["app_version"] == "2.1"
    assert shown["inbox"] == []
    # The token moves to whoever registers it next.
    ftpush("device", "add", "--app", "demo", "--external-id", "67890", "--token", IOS)
    assert len(ftpush("user", "show", "--app", "demo", "12345", "--json").json()["devices"]) == 1
    text = ftpush("user", "show", "--app", "demo", "67890").out
    assert "devices (1)" in text
    assert "ios" in text


def test_bad_input(ftpush: Ftpush) -> None:
    ftpush("app", "create", "demo")
    assert "user '404' does not exist" in ftpush.fails("user", "show", "--app", "demo", "404").err
    bad = ftpush.fails("device", "add", "--app", "demo", "--external-id", "1", "--token", "a b")
    assert "invalid device token" in bad.err
    assert (
        "does not exist"
        in ftpush.fails("device", "add", "--app", "ghost", "--external-id", "1", "--token", "t").err
    )
    assert (
        ftpush.fails(
            "device",
            "add",
            "--app",
            "demo",
            "--external-id",
            "1",
            "--token",
            "t",
            "--platform",
            "wp",
        ).code
        == 2
    )

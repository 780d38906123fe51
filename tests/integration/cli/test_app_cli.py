"""``ftpush app set|set-provider|providers|remove-provider``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli.conftest import Ftpush


def test_set_changes_inbox_and_rate_limit(ftpush: Ftpush) -> None:
    ftpush("app", "create", "demo")
    data = ftpush("app", "set", "demo", "--no-inbox", "--rate-limit", "50", "--json").json()
    assert (data["inbox_enabled"], data["rate_limit_per_second"]) == (False, 50)
    data = ftpush("app", "set", "demo", "--rate-limit", "0", "--json").json()
    assert data["rate_limit_per_second"] is None
    assert "timezone" in ftpush.fails("app", "set", "demo", "--timezone", "Mars/Base").err.lower()


def test_providers_round_trip_with_secrets_masked(ftpush: Ftpush, tmp_path: Path) -> None:
    ftpush("app", "create", "demo")
    assert "no push provider" in ftpush("app", "providers", "demo").out
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t-value")
    shown = ftpush(
        "app", "set-provider", "demo", "webhook", "--platform", "android",
        "--set", "url=https://hooks.example/p", "--file", f"secret={secret}",
        "--set", "timeout=5", "--json",
    ).json()  # fmt: skip
    assert shown == {
        "platform": "android", "kind": "webhook", "url": "https://hooks.example/p",
        "secret": "(set)", "timeout": "5",
    }  # fmt: skip
    config = tmp_path / "log.json"
    config.write_text(json.dumps({"record": False}))
    ftpush("app", "set-provider", "demo", "log", "--config", str(config))
    rows = ftpush("app", "providers", "demo", "--json").json()
    assert [(r["platform"], r["kind"]) for r in rows] == [("android", "webhook"), ("any", "log")]
    text = ftpush("app", "providers", "demo").out
    assert "webhook" in text
    assert "s3cr3t" not in text
    assert "s3cr3t" not in json.dumps(rows)
    ftpush("app", "remove-provider", "demo", "--platform", "android")
    assert len(ftpush("app", "providers", "demo", "--json").json()) == 1
    assert (
        "no push provider"
        in ftpush.fails("app", "remove-provider", "demo", "--platform", "ios").err
    )


def test_bad_provider_settings_are_refused(ftpush: Ftpush, tmp_path: Path) -> None:
    ftpush("app", "create", "demo")
    err = ftpush.fails("app", "set-provider", "demo", "apns", "--set", "key_id=ABC123DEFG").err
    assert "team_id is required" in err
    assert "NAME=VALUE" in ftpush.fails("app", "set-provider", "demo", "log", "--set", "x").err
    missing = tmp_path / "nope.p8"
    err = ftpush.fails(
        "app", "set-provider", "demo", "apns", "--file", f"private_key={missing}"
    ).err
    assert "nope.p8" in err
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert (
        "JSON object"
        in ftpush.fails("app", "set-provider", "demo", "log", "--config", str(bad)).err
    )
    assert ftpush("app", "providers", "demo", "--json").json() == []
    assert "does not exist" in ftpush.fails("app", "set-provider", "nosuch", "log").err


def test_api_keys_are_shown_once_and_revocable(ftpush: Ftpush) -> None:
    ftpush("app", "create", "demo")
    made = ftpush("app", "api-key", "create", "demo", "--name", "backend", "--json").json()
    assert made["key"].startswith(f"ftp_{made['prefix']}_")
    listed = ftpush("app", "api-key", "list", "demo", "--json").json()
    assert [(k["prefix"], k["name"], k["revoked_at"]) for k in listed] == [
        (made["prefix"], "backend", None)
    ]
    assert made["key"] not in ftpush("app", "api-key", "list", "demo").out
    text = ftpush("app", "api-key", "create", "demo", "--name", "panel").out
    assert "cannot be shown again" in text
    ftpush("app", "api-key", "revoke", made["prefix"])
    assert ftpush("app", "api-key", "list", "demo", "--json").json()[0]["revoked_at"]
    assert "does not exist" in ftpush.fails("app", "api-key", "revoke", "nope").err
    assert "name" in ftpush.fails("app", "api-key", "create", "demo", "--name", " ").err

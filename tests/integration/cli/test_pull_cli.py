"""``ftpush pull``: configuring pull mode, with secrets never shown back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.cli.conftest import Ftpush


def test_configure_show_disable(ftpush: Ftpush) -> None:
    ftpush("app", "create", "demo")
    out = ftpush(
        "pull", "configure", "--app", "demo", "--url", "ftps://acme@files.example.com/outbox",
        "--password-stdin", "--move-processed", input="s3cret-pass\n",
    )  # fmt: skip
    assert "now pulls from ftps://acme@files.example.com:21/outbox" in out.out
    shown = ftpush("pull", "show", "--app", "demo", "--json").json()
    assert shown["enabled"] is True
    assert shown["move_processed"] is True
    assert shown["auth"] == "password"
    text = ftpush("pull", "show", "--app", "demo").out + str(shown)
    assert "s3cret-pass" not in text
    db = (ftpush.data_dir / "ftpush.db").read_bytes()
    assert b"s3cret-pass" not in db  # encrypted at rest
    ftpush("pull", "disable", "--app", "demo")
    assert ftpush("pull", "show", "--app", "demo", "--json").json()["enabled"] is False


def test_configure_with_a_key(ftpush: Ftpush, tmp_path: Path) -> None:
    ftpush("app", "create", "demo")
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    ftpush(
        "pull", "configure", "--app", "demo", "--url", "sftp://acme@127.0.0.1:2200/out",
        "--key", str(key), "--host-key", "SHA256:" + "A" * 43,
    )  # fmt: skip
    shown = ftpush("pull", "show", "--app", "demo", "--json").json()
    assert shown["auth"] == "key"
    assert shown["url"] == "sftp://acme@127.0.0.1:2200/out"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://x@h/p", "unsupported URL scheme 'http'"),
        ("sftp://user:pw@h/p", "do not put the password in the URL"),
        ("sftp://h/p", "needs a user and a host"),
        ("sftp://u@h:99999/p", "invalid port"),
    ],
)
def test_bad_urls(ftpush: Ftpush, url: str, message: str) -> None:
    ftpush("app", "create", "demo")
    run = ftpush.fails("pull", "configure", "--app", "demo", "--url", url)
    assert message in run.err


def test_show_without_configuration(ftpush: Ftpush) -> None:
    ftpush("app", "create", "demo")
    assert "has no remote server 'pull'" in ftpush.fails("pull", "show", "--app", "demo").err

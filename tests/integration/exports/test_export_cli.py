"""``ftpush export destination | show | test | list`` through the real entry point."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from ftpush.config import load_settings
from ftpush.crypto import SecretBox
from ftpush.models import ExportTrigger
from ftpush.pipeline.exports import Exporter, ReportFile
from ftpush.storage import Database
from tests.integration.cli.conftest import Ftpush
from tests.integration.exports.conftest import DAY
from tests.peers.fixtures import make_read_only
from tests.peers.sshd import SshdPeer


@pytest.fixture
def ftpush(tmp_path: Path) -> Ftpush:
    tool = Ftpush(tmp_path / "data")
    tool("app", "create", "demo")
    return tool


def sftp_destination(ftpush: Ftpush, peer: SshdPeer, folder: Path, *extra: str) -> None:
    ftpush(
        "export", "destination", "--app", "demo",
        "--url", f"sftp://{peer.user.name}@{peer.host}:{peer.port}{folder}",
        "--key", str(peer.client_key_path), "--host-key", peer.host_key_fingerprint, *extra,
    )  # fmt: skip


def test_destination_show_and_test_on_sshd(
    ftpush: Ftpush, sshd_peer: SshdPeer, peer_dir: Path
) -> None:
    sftp_destination(
        ftpush, sshd_peer, peer_dir, "--format", "csv", "--delimiter", ";",
        "--reports", "events,campaigns",
    )  # fmt: skip
    shown = ftpush("export", "show", "--app", "demo", "--json").json()
    user, port = sshd_peer.user.name, sshd_peer.port
    assert shown["destination"] == f"sftp://{user}@127.0.0.1:{port}{peer_dir}"
    assert (shown["format"], shown["delimiter"], shown["reports"], shown["auth"]) == (
        "csv", ";", ["events", "campaigns"], "key",
    )  # fmt: skip
    assert "PRIVATE" not in str(shown)
    ok = ftpush("export", "test", "--app", "demo", "--json").json()
    assert (ok["ok"], ok["stage"]) == (True, None)
    assert "ok: sftp://" in ftpush("export", "test", "--app", "demo").out


def test_failed_test_exits_1_and_names_the_stage(
    ftpush: Ftpush, sshd_peer: SshdPeer, peer_dir: Path
) -> None:
    folder = peer_dir / "ro"
    make_read_only(folder)
    sftp_destination(ftpush, sshd_peer, folder)
    run = ftpush.fails("export", "test", "--app", "demo")
    assert run.code == 1
    assert "failed (permission)" in run.err
    assert ftpush.fails("export", "test", "--app", "demo", "--json").json()["stage"] == "permission"


def test_password_from_stdin_is_not_shown(ftpush: Ftpush) -> None:
    ftpush(
        "export", "destination", "--app", "demo", "--url", "ftps://acme@files.example.com/in",
        "--password-stdin", input="s3cret-pass\n",
    )  # fmt: skip
    shown = ftpush("export", "show", "--app", "demo")
    assert "s3cret-pass" not in shown.out
    assert b"s3cret-pass" not in (ftpush.data_dir / "ftpush.db").read_bytes()


def test_dropbox_destination_test_and_list(ftpush: Ftpush, tmp_path: Path) -> None:
    out = ftpush("export", "destination", "--app", "demo", "--dropbox", "--format", "csv")
    assert "now go to dropbox:/reports" in out.out
    assert ftpush("export", "test", "--app", "demo", "--json").json()["ok"] is True
    assert ftpush("export", "list", "--app", "demo", "--json").json() == []
    assert "(none)" in ftpush("export", "list", "--app", "demo").out

    settings = load_settings(data_dir=ftpush.data_dir, environ={})
    db = Database.open(settings)
    try:
        report = tmp_path / "r.csv"
        report.write_bytes(b"a,b\n1,2\n")
        exporter = Exporter(settings, db, SecretBox.from_keys_dir(settings.keys_dir))
        asyncio.run(
            exporter.deliver_run(
                "demo", [ReportFile("events", report, "demo_EVENTS_20250101.csv", 1)],
                trigger=ExportTrigger.SEND, window_start=DAY, window_end=DAY,
            )
        )  # fmt: skip
    finally:
        db.close()
    [row] = ftpush("export", "list", "--app", "demo", "--json").json()
    assert (row["file_name"], row["status"], row["bytes"], row["rows"], row["trigger"]) == (
        "demo_EVENTS_20250101.csv", "delivered", 8, 1, "send",
    )  # fmt: skip
    assert row["destination"] == "dropbox:/reports"
    assert dt.date.fromisoformat(row["window_start"]) == DAY
    assert "demo_EVENTS_20250101.csv" in ftpush("export", "list", "--app", "demo").out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give either --url or --dropbox"),
        (("--dropbox", "--url", "sftp://a@h/p"), "give either --url or --dropbox"),
        (("--dropbox", "--host-key", "SHA256:x"), "credentials are for --url"),
        (("--dropbox", "--delimiter", ":"), "delimiter ':' is not allowed"),
        (("--dropbox", "--reports", "events,nope"), "unknown report 'nope'"),
        (("--url", "sftp://user:pw@h/p"), "do not put the password in the URL"),
    ],
)
def test_bad_destinations(ftpush: Ftpush, args: tuple[str, ...], message: str) -> None:
    run = ftpush.fails("export", "destination", "--app", "demo", *args)
    assert message in run.err


def test_without_a_destination(ftpush: Ftpush) -> None:
    assert "no export destination" in ftpush.fails("export", "test", "--app", "demo").err
    assert "no export destination" in ftpush.fails("export", "show", "--app", "demo").err


def test_retry_a_failed_delivery_from_the_cli(
    ftpush: Ftpush, sshd_peer: SshdPeer, peer_dir: Path
) -> None:
    folder = peer_dir / "ro"
    make_read_only(folder)
    sftp_destination(ftpush, sshd_peer, folder, "--format", "csv")
    sent = ftpush.fails("export", "send", "--app", "demo", "--report", "events", "--json").json()
    [delivery] = sent["deliveries"]
    assert delivery["status"] == "retrying"
    [row] = ftpush("export", "list", "--app", "demo", "--json").json()
    run = ftpush.fails("export", "retry", "--app", "demo", str(row["id"]))
    assert "failed" in run.out
    assert "permission:" in run.out
    folder.chmod(0o777)  # the customer fixes the folder; Retry delivers the kept file
    done = ftpush("export", "retry", "--app", "demo", str(row["id"]), "--json").json()
    assert (done["status"], done["attempts"]) == ("delivered", 3)
    assert [p.name for p in folder.iterdir()] == [row["file_name"]]
    assert (
        "nothing to retry" in ftpush.fails("export", "retry", "--app", "demo", str(row["id"])).err
    )
    assert "no export delivery 999" in ftpush.fails("export", "retry", "--app", "demo", "999").err


def test_generated_key_pair_logs_in_once_its_public_key_is_installed(
    ftpush: Ftpush, sshd_peer: SshdPeer, peer_dir: Path
) -> None:
    url = f"sftp://{sshd_peer.user.name}@{sshd_peer.host}:{sshd_peer.port}{peer_dir}"
    out = ftpush(
        "export", "destination", "--app", "demo", "--url", url, "--generate-key",
        "--host-key", sshd_peer.host_key_fingerprint,
    ).out  # fmt: skip
    public = out.strip().splitlines()[-1]
    assert public.startswith("ssh-ed25519 ")
    assert public.endswith(" ftpush export demo")
    assert "PRIVATE" not in out
    shown = ftpush("export", "show", "--app", "demo", "--json").json()
    assert (shown["auth"], shown["public_key"]) == ("key", public)  # shown again, same key
    # Not installed yet: the server refuses it, and Test connection says so.
    assert ftpush.fails("export", "test", "--app", "demo", "--json").json()["stage"] == "auth"
    authorized = sshd_peer.dir / "authorized_keys"
    before = authorized.read_text()
    try:
        authorized.write_text(before + public + "\n")
        assert ftpush("export", "test", "--app", "demo", "--json").json()["ok"] is True
    finally:
        authorized.write_text(before)
    both = ftpush.fails(
        "export", "destination", "--app", "demo", "--url", url, "--generate-key",
        "--key", str(sshd_peer.client_key_path),
    )  # fmt: skip
    assert "either --key or --generate-key" in both.err
    ftps = ftpush.fails(
        "export", "destination", "--app", "demo", "--url", "ftps://a@h/p", "--generate-key"
    )
    assert "a key pair is for sftp://" in ftps.err

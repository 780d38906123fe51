"""Send (issue 8): every report built from seeded data, delivered to a real sshd, read back."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from ftpush.config import load_settings
from ftpush.pipeline.dispatch import Dispatcher
from ftpush.pipeline.transactional import SendRequest, send_to_users
from ftpush.storage import Database, apps, users
from tests.integration.cli.conftest import Ftpush
from tests.integration.exports.test_export_cli import sftp_destination
from tests.peers.sshd import SshdPeer

IOS = "ab" * 32


@pytest.fixture
def ftpush(tmp_path: Path) -> Ftpush:
    tool = Ftpush(tmp_path / "data")
    tool("app", "create", "demo", "--timezone", "Europe/Istanbul")
    return tool


def seed(data_dir: Path) -> str:
    """Two users, three devices, a transactional and an automated campaign, sent."""
    settings = load_settings(data_dir=data_dir, environ={})
    db = Database.open(settings)
    try:
        with db.transaction() as s:
            for ext, token in [("1", IOS), ("1", "fcm-1"), ("2", "fcm-2")]:
                users.register_device(s, app_key="demo", token=token, external_id=ext)
            assert apps.get_app(s, "demo").timezone == "Europe/Istanbul"
        sent = send_to_users(db, "demo", SendRequest(["1", "2", "ghost"], "Hello =1+1"))
        auto = send_to_users(db, "demo", SendRequest(["2"], "Cart", automated=True))
        for campaign_id in (sent.campaign_id, auto.campaign_id):
            asyncio.run(Dispatcher(settings, db).run_campaign(campaign_id))
        return sent.msg_id
    finally:
        db.close()


def test_send_delivers_every_report_to_sshd(
    ftpush: Ftpush, sshd_peer: SshdPeer, peer_dir: Path
) -> None:
    msg_id = seed(ftpush.data_dir)
    sftp_destination(ftpush, sshd_peer, peer_dir)  # xlsx by default
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=3))).date()
    day = today.strftime("%Y%m%d")
    result = ftpush("export", "send", "--app", "demo", "--from", str(today), "--to", str(today),
                    "--json").json()  # fmt: skip
    assert result["ok"]
    names = sorted(p.name for p in peer_dir.iterdir())
    expected = {
        f"demo_PUSH_REPORTS_{day}.xlsx", f"demo_{msg_id}_PUSH_REPORTS_{day}.xlsx",
        f"demo_AUTOMATED_PUSH_REPORTS_{day}.xlsx", f"demo_TRANSACTIONAL_PUSH_REPORTS_{day}.xlsx",
        f"demo_EVENTS_{day}.xlsx", f"demo_INSTALLATIONS_{day}.xlsx",
        f"demo_APP_TRACKING_{day}.xlsx",
    }  # fmt: skip
    assert expected <= set(names), names
    assert not [n for n in names if n.startswith(".") or n.endswith((".part", ".tmp"))]
    sheet = openpyxl.load_workbook(peer_dir / f"demo_{msg_id}_PUSH_REPORTS_{day}.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    statuses = sorted(str(r[3]) for r in rows[1:] if r[0] in ("1", "2"))
    assert len(rows) >= 4  # header, three messages (and the unknown user's line)
    assert statuses.count("sent") == 3
    transactional = openpyxl.load_workbook(
        peer_dir / f"demo_TRANSACTIONAL_PUSH_REPORTS_{day}.xlsx"
    ).active
    [header, row] = list(transactional.iter_rows(values_only=True))
    assert str(row[header.index(next(h for h in header if "ID" in str(h)))]) == msg_id
    assert any(str(cell).startswith("'=1+1") or cell == "Hello =1+1" for cell in row)
    history = ftpush("export", "list", "--app", "demo", "--json").json()
    assert {d["status"] for d in history} == {"delivered"}
    assert len(history) == len(result["deliveries"])


def test_send_csv_to_the_dropbox_and_bad_input(ftpush: Ftpush) -> None:
    seed(ftpush.data_dir)
    ftpush("export", "destination", "--app", "demo", "--dropbox", "--format", "csv",
           "--delimiter", ";")  # fmt: skip
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=3))).date()
    ftpush("export", "send", "--app", "demo", "--report", "installations",
           "--from", str(today - dt.timedelta(days=2)), "--to", str(today))  # fmt: skip
    reports = ftpush.data_dir / "dropbox" / "demo" / "reports"
    [file] = reports.glob("demo_INSTALLATIONS_*.csv")
    with file.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    assert len(rows) == 4  # header and three devices
    assert "unknown report" in ftpush.fails("export", "send", "--app", "demo",
                                            "--report", "nope").err  # fmt: skip
    tomorrow = str(today + dt.timedelta(days=2))
    assert "after today" in ftpush.fails("export", "send", "--app", "demo", "--to", tomorrow).err

"""Report builders over a seeded data set, read back from xlsx (openpyxl) and csv."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select, update

from ftpush.models import CampaignType, ExportFormat, InboxStatus, MessageStatus, ReportName
from ftpush.pipeline.transactional import SendRequest, send_to_users
from ftpush.reports import Window, build
from ftpush.reports.builders import headers
from ftpush.storage import Database, apps, events, ledger, users
from ftpush.storage.ledger import LineInput, OutcomeRecord
from ftpush.storage.tables import Campaign, Device, InboxEntry, Message

APP = "rep"
DAY = dt.date(2026, 3, 29)  # Berlin springs forward at 01:00 UTC
T = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)  # 01:30+01:00 in Berlin
T_LOCAL = "2026-03-29T01:30:00+01:00"
CLICK = T + dt.timedelta(hours=1)  # 03:30+02:00
NOW = dt.datetime(2026, 3, 30, 3, tzinfo=dt.UTC)
DAY_WINDOW = Window.day(DAY)
IOS_A, IOS_C = "a" * 64, "c" * 64


@dataclass
class Seeded:
    msg_ids: dict[str, str]  # campaign type -> msg id


def _seed(db: Database) -> Seeded:
    with db.transaction() as s:
        app = apps.create_app(s, key=APP, timezone="Europe/Berlin")
        s.flush()
        devs: list[dict[str, Any]] = [
            {"token": IOS_A, "external_id": "alice", "app_version": "1.2", "os_version": "17.4"},
            {"token": "alice-fcm", "external_id": "alice", "platform": "android"},
            {"token": "bob-fcm", "external_id": "bob", "platform": "android"},
            {"token": IOS_C, "external_id": "carol", "push_permission": False},
            {"token": "evil-fcm", "external_id": "=evil", "platform": "android"},
        ]
        for dev in devs:
            users.register_device(s, app_key=APP, **dev)
        s.execute(update(Device).values(installed_at=T, updated_at=T, last_seen_at=CLICK))
        file_campaign = ledger.create_campaign(s, app.id, CampaignType.FILE, "push_0329.csv")
        lines = [LineInput(n, ext, f"Hi {ext}", None)
                 for n, ext in enumerate(["alice", "bob", "carol", "nobody"], start=1)]  # fmt: skip
        ledger.write_lines(s, file_campaign, app, lines)
        file_id = file_campaign.id
    trans = send_to_users(db, APP, SendRequest(["alice", "=evil"], "Your parcel"))
    auto = send_to_users(db, APP, SendRequest(["bob"], "Welcome", automated=True, name="Welcome"))
    plan = {
        (file_id, IOS_A): (MessageStatus.SENT, None),
        (file_id, "alice-fcm"): (MessageStatus.FAILED, "MismatchSenderId"),
        (file_id, "bob-fcm"): (MessageStatus.INVALID_TOKEN, "Unregistered"),
        (trans.campaign_id, "evil-fcm"): (MessageStatus.PENDING, "throttled"),
    }
    with db.transaction() as s:
        s.execute(update(Campaign).values(created_at=T, started_at=T))
        claimed = ledger.claim(s, owner="t", limit=100, lease_seconds=60, now=T)
        outcomes = []
        for c in claimed:
            status, reason = plan.get((c.campaign_id, c.token), (MessageStatus.SENT, None))
            outcomes.append(OutcomeRecord(c.message_id, c.attempt, status, "log",
                                          error_reason=reason))  # fmt: skip
        assert ledger.record_outcomes(s, outcomes, now=T) == 7
        ios_a = s.scalar(select(Device.id).where(Device.token == IOS_A))
        s.execute(
            update(Message)
            .where(Message.campaign_id == file_id, Message.device_id == ios_a)
            .values(clicked_at=CLICK)
        )
        for line, status in ((1, InboxStatus.READ), (2, InboxStatus.DELETED)):
            s.execute(
                update(InboxEntry)
                .where(InboxEntry.campaign_id == file_id, InboxEntry.line_no == line)
                .values(status=status, read_at=CLICK)
            )
        app_id = apps.get_app(s, APP).id
        alice = users.get_user(s, app_id, "alice").id
        bob = users.get_user(s, app_id, "bob").id
        a_dev = s.scalar(select(Device.id).where(Device.token == IOS_A))
        events.insert_events(s, app_id, [
            events.EventRow(alice, a_dev, "push_opened", CLICK, {"msg_id": "x", "line": 1}),
            events.EventRow(alice, a_dev, "app_tracking",
                            dt.datetime(2026, 3, 29, 21, 30, tzinfo=dt.UTC),
                            {"tracked_app": "com.bank", "installed": True}),
            events.EventRow(bob, None, "app_tracking",
                            dt.datetime(2026, 3, 29, 22, 30, tzinfo=dt.UTC),
                            {"tracked_app": "=cmd", "installed": "false"}),
        ])  # fmt: skip
        file_msg = s.scalar(select(Campaign.msg_id).where(Campaign.id == file_id))
    assert file_msg is not None
    return Seeded({"file": file_msg, "transactional": trans.msg_id, "automated": auto.msg_id})


def _read_xlsx(path: Path) -> list[list[Any]]:
    book = openpyxl.load_workbook(path, read_only=True)
    sheet = book.active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    book.close()
    return rows


def _read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def _same(csv_rows: list[list[str]], xlsx_rows: list[list[Any]]) -> bool:
    """csv text equals the xlsx values (numbers compared as numbers: 1.0 reads back as 1)."""

    def cell(c: str, v: Any) -> bool:
        if isinstance(v, int | float):
            return float(c) == v
        return c == ("" if v is None else str(v))

    return len(csv_rows) == len(xlsx_rows) and all(
        len(cr) == len(xr) and all(cell(c, v) for c, v in zip(cr, xr, strict=True))
        for cr, xr in zip(csv_rows, xlsx_rows, strict=True)
    )


def _files(
    db: Database,
    report: ReportName,
    tmp_path: Path,
    window: Window = DAY_WINDOW,
    now: dt.datetime = NOW,
) -> dict[str, list[list[Any]]]:
    """name -> rows, written as xlsx and as csv (;), checking both say the same."""
    out: dict[str, list[list[Any]]] = {}
    for rf in build(db, report, APP, window, now):
        xlsx, wx = rf.write(tmp_path, ExportFormat.XLSX)
        csv_path, wc = rf.write(tmp_path, ExportFormat.CSV, delimiter=";")
        rows = _read_xlsx(xlsx)
        assert rows[0] == list(headers()[report])
        assert _same(_read_csv(csv_path, ";"), rows)
        assert wx.rows == wc.rows == len(rows) - 1
        out[rf.stem] = rows[1:]
    return out


def test_campaign_reports(db: Database, tmp_path: Path) -> None:
    seeded = _seed(db)
    files = _files(db, ReportName.CAMPAIGNS, tmp_path)
    assert list(files) == ["rep_PUSH_REPORTS_20260329"]
    file_row, trans_row, auto_row = files["rep_PUSH_REPORTS_20260329"]
    assert file_row == [
        seeded.msg_ids["file"], "file", "push_0329.csv", "Hi alice", T_LOCAL, T_LOCAL, None,
        3, 1, 2, 1, 1,  # targeted, sent, failed, clicked, conversion
        1, 1, 0, 1, 2, 0, 2, 0,  # iOS, Android
        1, 1, 1,  # inbox read, unread, deleted
    ]  # fmt: skip
    assert trans_row == [
        seeded.msg_ids["transactional"], "transactional", "transactional send to 2 users",
        "Your parcel", T_LOCAL, T_LOCAL, None, 3, 2, 0, 0, 0, 1, 1, 0, 0, 2, 1, 0, 0, 0, 2, 0,
    ]  # fmt: skip
    assert auto_row[:4] == [seeded.msg_ids["automated"], "automated", "Welcome", "Welcome"]
    assert auto_row[7:12] == [1, 1, 0, 0, 0]
    trans = _files(db, ReportName.TRANSACTIONAL_CAMPAIGNS, tmp_path)
    assert trans == {"rep_TRANSACTIONAL_PUSH_REPORTS_20260329": [trans_row]}
    auto = _files(db, ReportName.AUTOMATED_CAMPAIGNS, tmp_path)
    assert auto == {"rep_AUTOMATED_PUSH_REPORTS_20260329": [auto_row]}
    # Nothing the day before, and a csv conversion rate that reads back as a number.
    before = _files(db, ReportName.CAMPAIGNS, tmp_path, Window.day(DAY - dt.timedelta(days=1)))
    assert before == {"rep_PUSH_REPORTS_20260328": []}


def test_campaign_recipients(db: Database, tmp_path: Path) -> None:
    seeded = _seed(db)
    files = _files(db, ReportName.CAMPAIGN_RECIPIENTS, tmp_path)
    names = [f"rep_{seeded.msg_ids[k]}_PUSH_REPORTS_20260329"
             for k in ("file", "transactional", "automated")]  # fmt: skip
    assert list(files) == names
    assert files[names[0]] == [
        ["alice", "ios", IOS_A, "sent", None, T_LOCAL, "2026-03-29T03:30:00+02:00"],
        ["alice", "android", "alice-fcm", "failed", "MismatchSenderId", None, None],
        ["bob", "android", "bob-fcm", "invalid_token", "Unregistered", None, None],
        ["carol", None, None, "no_device", None, None, None],
        ["nobody", None, None, "unknown_user", None, None, None],
    ]
    assert files[names[1]][2] == ["'=evil", "android", "evil-fcm", "pending", "throttled",
                                  None, None]  # fmt: skip
    assert (tmp_path / f"{names[0]}.xlsx").exists()
    assert (tmp_path / f"{names[0]}.csv").exists()


def test_events_and_app_tracking(db: Database, tmp_path: Path) -> None:
    _seed(db)
    ev = _files(db, ReportName.EVENTS, tmp_path)
    assert ev == {
        "rep_EVENTS_20260329": [
            ["alice", IOS_A, "push_opened", "2026-03-29T03:30:00+02:00",
             '{"line":1,"msg_id":"x"}'],
            ["alice", IOS_A, "app_tracking", "2026-03-29T23:30:00+02:00",
             '{"installed":true,"tracked_app":"com.bank"}'],
        ]
    }  # fmt: skip
    tracking = _files(db, ReportName.APP_TRACKING, tmp_path)
    assert tracking == {
        "rep_APP_TRACKING_20260329": [
            ["alice", IOS_A, "com.bank", "yes", "2026-03-29T23:30:00+02:00"]
        ]
    }
    next_day = _files(db, ReportName.APP_TRACKING, tmp_path, Window.day(DAY + dt.timedelta(1)))
    assert next_day == {
        "rep_APP_TRACKING_20260330": [["bob", None, "'=cmd", "no", "2026-03-30T00:30:00+02:00"]]
    }


def test_installations_windows(db: Database, tmp_path: Path) -> None:
    _seed(db)
    daily = _files(db, ReportName.INSTALLATIONS, tmp_path)["rep_INSTALLATIONS_20260329"]
    assert daily[0] == ["alice", "ios", IOS_A, "1.2", "17.4", T_LOCAL,
                        "2026-03-29T03:30:00+02:00", "yes", "active"]  # fmt: skip
    assert [r[0] for r in daily] == ["alice", "alice", "bob", "carol", "'=evil"]
    assert daily[3][7] == "no"
    later = dt.datetime(2026, 4, 20, 12, tzinfo=dt.UTC)
    monthly = Window.monthly(later, "Europe/Berlin")
    assert (
        len(_files(db, ReportName.INSTALLATIONS, tmp_path, monthly)["rep_INSTALLATIONS_20260419"])
        == 5
    )
    gone = Window.day(dt.date(2026, 4, 19))
    assert _files(db, ReportName.INSTALLATIONS, tmp_path, gone) == {
        "rep_INSTALLATIONS_20260419": []
    }
    bulk = Window.bulk(later, "Europe/Berlin")
    assert (
        len(_files(db, ReportName.INSTALLATIONS, tmp_path, bulk)["rep_INSTALLATIONS_20260419"]) == 5
    )


ZONE_DAYS = [
    ("Europe/Berlin", dt.date(2026, 3, 29)),
    ("Europe/Berlin", dt.date(2026, 10, 25)),
    ("America/New_York", dt.date(2026, 3, 8)),
    ("America/New_York", dt.date(2026, 11, 1)),
    ("Europe/Istanbul", dt.date(2026, 3, 29)),
    ("Europe/Istanbul", dt.date(2026, 10, 25)),
]


@pytest.mark.parametrize(("zone", "day"), ZONE_DAYS)
def test_dst_day_windows(db: Database, tmp_path: Path, zone: str, day: dt.date) -> None:
    """Events at the very edges of a changed day: in or out, and stamped with their offset."""
    start, end = Window.day(day).utc_bounds(zone)
    assert start is not None
    second = dt.timedelta(seconds=1)
    with db.transaction() as s:
        app = apps.create_app(s, key=APP, timezone=zone)
        s.flush()
        events.insert_events(s, app.id, [
            events.EventRow(None, None, name, when, {})
            for name, when in [("before", start - second), ("first", start),
                               ("last", end - second), ("after", end)]
        ])  # fmt: skip
    later = end + dt.timedelta(days=1)
    files = _files(db, ReportName.EVENTS, tmp_path, Window.day(day), later)
    rows = files[f"rep_EVENTS_{day:%Y%m%d}"]
    assert [r[2] for r in rows] == ["first", "last"]
    first, last = (dt.datetime.fromisoformat(r[3]) for r in rows)
    assert first.isoformat().startswith(f"{day.isoformat()}T00:00:00")
    assert last.isoformat().startswith(f"{day.isoformat()}T23:59:59")
    assert (last - first) + second == end - start

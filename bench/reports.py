"""Report writers against their bare libraries, on a 1,000,000-row campaign_recipients report.

The rows of a ``campaign_recipients`` report (external ID, platform, device token,
status, error reason, sent at, clicked at — timestamps already formatted, as the
builder hands them over) are generated in memory, the same stream for every
variant, and written four ways into a temporary folder:

* ``xlsx``: ``ftpush.reports.write_xlsx`` (escaping, text cap, SHA-256 of the file);
* ``xlsx-bare``: XlsxWriter ``constant_memory`` with ``write_row``, nothing else;
* ``csv``: ``ftpush.reports.write_csv`` (escaping, SHA-256 of the file);
* ``csv-bare``: ``csv.writer.writerow``, nothing else.

Each variant runs in its own subprocess, so its peak RSS (``ru_maxrss``) is its own.
The ratio is bare_time / our_time (goal ≥ 0.5). ``--rounds`` repeats every variant,
alternating, and keeps the best wall time of each.

``--builder-messages N`` also times the full builder (``campaign_recipients`` to
xlsx and csv) over a seeded SQLite database of one campaign with N messages.

Run::

    .venv/bin/python bench/reports.py
    .venv/bin/python bench/reports.py --rows 200000 --rounds 1 --builder-messages 0
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import xlsxwriter
from sqlalchemy import insert

from ftpush.config import load_settings
from ftpush.models import CampaignType, ExportFormat, MessageStatus, Platform, ReportName
from ftpush.reports import Window, build, write_csv, write_xlsx
from ftpush.storage import Database
from ftpush.storage.tables import App, Campaign, CampaignLine, Device, Message, User

VARIANTS = ("xlsx-bare", "xlsx", "csv-bare", "csv")
HEADER = [
    "External ID",
    "Platform",
    "Device token",
    "Status",
    "Error reason",
    "Sent at",
    "Clicked at",
]


def rows(count: int) -> Iterator[tuple[str | None, ...]]:
    base = dt.datetime(2026, 3, 29, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    statuses = ("sent", "sent", "sent", "failed", "invalid_token")
    for i in range(count):
        status = statuses[i % 5]
        sent = (base + dt.timedelta(seconds=i % 86400)).isoformat()
        yield (
            f"user-{i:08d}",
            "ios" if i % 3 else "android",
            f"{i:064x}",
            status,
            "BadDeviceToken" if status == "invalid_token" else None,
            sent if status == "sent" else None,
            sent if i % 7 == 0 else None,
        )


def run_variant(variant: str, count: int, out: Path) -> float:
    started = time.perf_counter()
    if variant == "xlsx":
        write_xlsx(out / "ours.xlsx", HEADER, rows(count))
    elif variant == "csv":
        write_csv(out / "ours.csv", HEADER, rows(count))
    elif variant == "xlsx-bare":
        book = xlsxwriter.Workbook(str(out / "bare.xlsx"), {"constant_memory": True})
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, HEADER)
        for n, row in enumerate(rows(count), start=1):
            sheet.write_row(n, 0, row)
        book.close()
    else:
        with (out / "bare.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for row in rows(count):
                writer.writerow(row)
    return time.perf_counter() - started


def child(variant: str, count: int, out: Path) -> None:
    seconds = run_variant(variant, count, out)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "rss": rss}))


def spawn(variant: str, count: int, out: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--rows", str(count), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def bench_builder(messages: int, out: Path) -> None:
    settings = load_settings(data_dir=out / "data", environ={})
    db = Database.open(settings)
    day = dt.date(2026, 3, 29)
    at = dt.datetime(2026, 3, 29, 10, tzinfo=dt.UTC)
    started = time.perf_counter()
    with db.transaction() as s:
        app = App(key="bench", name="bench", timezone="Europe/Berlin", alert_emails=[])
        s.add(app)
        s.flush()
        camp = Campaign(app_id=app.id, msg_id="mbench", type=CampaignType.FILE, name="push.csv",
                        created_at=at, started_at=at)  # fmt: skip
        s.add(camp)
        s.flush()
        step = 20_000
        for lo in range(0, messages, step):
            ids = range(lo, min(messages, lo + step))
            s.execute(insert(User), [{"id": i + 1, "app_id": app.id, "external_id": f"u{i}",
                                      "attributes": {}} for i in ids])  # fmt: skip
            s.execute(insert(Device), [{"id": i + 1, "app_id": app.id, "user_id": i + 1,
                                        "token": f"{i:064x}", "platform": Platform.IOS,
                                        "installed_at": at} for i in ids])  # fmt: skip
            s.execute(insert(CampaignLine), [{"campaign_id": camp.id, "line_no": i + 1,
                                              "external_id": f"u{i}", "user_id": i + 1,
                                              "text": "Hello"} for i in ids])  # fmt: skip
            s.execute(insert(Message), [{"campaign_id": camp.id, "line_no": i + 1,
                                         "device_id": i + 1, "user_id": i + 1,
                                         "platform": Platform.IOS, "created_at": at,
                                         "status": MessageStatus.SENT,
                                         "sent_at": at} for i in ids])  # fmt: skip
    print(f"seeded {messages:,} messages in {time.perf_counter() - started:.1f} s")
    now = dt.datetime(2026, 3, 30, 3, tzinfo=dt.UTC)
    for fmt in (ExportFormat.XLSX, ExportFormat.CSV):
        started = time.perf_counter()
        for report in build(db, ReportName.CAMPAIGN_RECIPIENTS, "bench", Window.day(day), now):
            _path, written = report.write(out, fmt)
        seconds = time.perf_counter() - started
        print(f"builder campaign_recipients {fmt}: {written.rows:,} rows, "
              f"{written.bytes / 2**20:.1f} MiB in {seconds:.2f} s "
              f"({written.rows / seconds:,.0f} rows/s)")  # fmt: skip
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--builder-messages", type=int, default=200_000)
    parser.add_argument("--child")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows, args.out)
        return
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}, {args.rows:,} rows")  # fmt: skip
    best: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for _ in range(args.rounds):
            for variant in VARIANTS:
                got = spawn(variant, args.rows, out)
                if variant not in best or got["seconds"] < best[variant]["seconds"]:
                    best[variant] = got
        for variant in VARIANTS:
            b = best[variant]
            print(f"{variant:10} {b['seconds']:7.2f} s  peak RSS {b['rss'] / 2**20:6.0f} MiB")
        for kind in ("xlsx", "csv"):
            ratio = best[f"{kind}-bare"]["seconds"] / best[kind]["seconds"]
            verdict = "met" if ratio >= 0.5 else "MISSED"
            print(f"{kind} ratio bare/ours = {ratio:.2f} (goal >= 0.5: {verdict})")
        if args.builder_messages:
            bench_builder(args.builder_messages, out)


if __name__ == "__main__":
    main()

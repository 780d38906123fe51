"""Profile import: our whole path against raw upserts of the same parsed rows (issue 6).

Goal (issue 6): a generated 1,000,000-line profile file with five typed attributes,
applied by ftpush (parse, users created, identity set, attributes merged, device
tokens linked, a checkpoint per batch, result files) at ≥ 0.33 of the speed of

* **SQLite**: raw ``sqlite3`` ``executemany`` upserts of the same already-parsed rows
  (``INSERT … ON CONFLICT DO UPDATE`` of users with ``json_patch``, then of devices), in
  transactions of the same batch size, timing only the database calls and the tuples
  built for them (the parsing is not counted for the baseline);
* **PostgreSQL** (``--pg URL``): ``COPY`` of each batch into a temporary table, then
  ``INSERT … SELECT … ON CONFLICT DO UPDATE`` for users and devices, with psycopg.

Both start from an empty, freshly migrated database holding the app and its five
attribute declarations. Peak RSS (``VmHWM``) of a child process that imports the file is
reported at 1M and at ``--rss-lines`` lines (goal ≤ 256 MiB, flat).

Usage: ``.venv/bin/python bench/profile_import.py [--lines 1000000] [--pg URL]
[--rss-lines 1000000,10000000]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ftpush.config import Settings, load_settings
from ftpush.formats.base import UNCHANGED, ProfileRow
from ftpush.formats.profile_txt import parse_profile_batches
from ftpush.intake.spool import Origin, Spool
from ftpush.models import ImportSource, parse_attribute_type
from ftpush.pipeline.imports import ImportProcessor, read_chunks
from ftpush.storage import Database, apps, attributes

ATTRS = {"tier": "string", "age": "integer", "score": "number", "vip": "boolean",
         "born": "date"}  # fmt: skip
BATCH = 2000


def write_file(path: Path, lines: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("~~~extID~email~device token~" + "~".join(ATTRS) + "\n")
        for i in range(lines):
            email = f"user{i}@example.com" if i % 3 else ""
            token = f"fcm-token-{i}" if i % 2 else ""
            fh.write(
                f'{i}~{email}~{token}~"tier {i % 4}"~{i % 97}~{i / 7:.2f}~'
                f"{'true' if i % 2 else 'false'}~19{50 + i % 50}-0{1 + i % 9}-1{i % 9}\n"
            )


def fresh(root: Path, url: str | None) -> tuple[Settings, Database, int]:
    extra: dict[str, Any] = {"database": {"url": url}} if url else {}
    settings = load_settings(data_dir=root, environ={}, **extra)
    db = Database.open(settings)
    with db.transaction() as s:
        app_id = apps.create_app(s, key="demo").id
        for name, kind in ATTRS.items():
            attributes.declare_attribute(s, app_key="demo", name=name, type_=kind)
    return settings, db, app_id


def ours(root: Path, path: Path, url: str | None) -> float:
    settings, db, app_id = fresh(root, url)
    try:
        spool = Spool(settings, db)
        with path.open("rb") as fh:
            origin = Origin(app_id, "demo", ImportSource.CLI, "bench", None)
            import_id = spool.receive(origin, "Profile", path.name, fh)
        spool.close()
        started = time.perf_counter()
        ImportProcessor(settings, db, batch_size=BATCH).process(import_id)
        return time.perf_counter() - started
    finally:
        db.close()


def parsed_batches(path: Path) -> Iterator[list[ProfileRow]]:
    pending: list[ProfileRow] = []
    declared = {name: parse_attribute_type(kind) for name, kind in ATTRS.items()}
    for batch in parse_profile_batches(read_chunks(path), declared):
        pending.extend(r for r in batch if isinstance(r, ProfileRow))
        if len(pending) >= BATCH:
            yield pending
            pending = []
    if pending:
        yield pending


def _plain(row: ProfileRow) -> tuple[str | None, str]:
    email = None if row.email is UNCHANGED else row.email
    attrs = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.attributes.items()}
    return email, json.dumps(attrs, separators=(",", ":"))


def sqlite_baseline(root: Path, path: Path) -> float:
    settings, db, app_id = fresh(root, None)
    db.close()
    conn = sqlite3.connect(settings.data_dir / "ftpush.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(" ")
    spent = 0.0
    for rows in parsed_batches(path):
        started = time.perf_counter()
        users, devices = [], []
        for row in rows:
            email, attrs = _plain(row)
            users.append((app_id, row.external_id, email, attrs, now, now))
            if row.device_token:
                devices.append((app_id, row.device_token, app_id, row.external_id, now, now))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO users (app_id, external_id, email, attributes, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, external_id) DO UPDATE SET "
            "email = COALESCE(excluded.email, users.email), "
            "attributes = json_patch(users.attributes, excluded.attributes), "
            "updated_at = excluded.updated_at",
            users,
        )
        conn.executemany(
            "INSERT INTO devices (app_id, token, platform, user_id, token_state, "
            "push_permission, installed_at, updated_at) VALUES (?, ?, 'android', "
            "(SELECT id FROM users WHERE app_id = ? AND external_id = ?), 'active', 1, ?, ?) "
            "ON CONFLICT (app_id, token) DO UPDATE SET user_id = excluded.user_id",
            devices,
        )
        conn.execute("COMMIT")
        spent += time.perf_counter() - started
    conn.close()
    return spent


def pg_baseline(url: str, path: Path) -> float:
    import psycopg  # noqa: PLC0415 - only with --pg

    # autocommit: each conn.transaction() below is a real transaction (ON COMMIT DELETE ROWS)
    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    app_id = conn.execute("SELECT id FROM apps WHERE key = 'demo'").fetchone()[0]  # type: ignore[index]
    now = dt.datetime.now(dt.UTC)
    spent = 0.0
    for number, rows in enumerate(parsed_batches(path)):
        started = time.perf_counter()
        if number % 25 == 1:
            # Fresh statistics, or the devices join below is planned for an empty users
            # table and scans all of it per batch (quadratic); counted in its time.
            conn.execute("ANALYZE users, devices")
        with conn.transaction():
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS incoming (external_id text, email text, "
                "attributes jsonb, token text) ON COMMIT DELETE ROWS"
            )
            with conn.cursor().copy(
                "COPY incoming (external_id, email, attributes, token) FROM STDIN"
            ) as copy:
                for row in rows:
                    email, attrs = _plain(row)
                    copy.write_row((row.external_id, email, attrs, row.device_token))
            conn.execute(
                "INSERT INTO users (app_id, external_id, email, attributes, created_at, "
                "updated_at) SELECT %s, external_id, email, attributes, %s, %s FROM incoming "
                "ON CONFLICT (app_id, external_id) DO UPDATE SET "
                "email = COALESCE(excluded.email, users.email), "
                "attributes = users.attributes || excluded.attributes, "
                "updated_at = excluded.updated_at",
                (app_id, now, now),
            )
            conn.execute(
                "INSERT INTO devices (app_id, token, platform, user_id, token_state, "
                "push_permission, installed_at, updated_at) SELECT %s, i.token, 'android', u.id, "
                "'active', true, %s, %s FROM incoming i JOIN users u ON u.app_id = %s AND "
                "u.external_id = i.external_id WHERE i.token IS NOT NULL "
                "ON CONFLICT (app_id, token) DO UPDATE SET user_id = excluded.user_id",
                (app_id, now, now, app_id),
            )
        spent += time.perf_counter() - started
    conn.close()
    return spent


def pg_database(admin_url: str) -> str:
    import psycopg  # noqa: PLC0415

    name = f"ftpush_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    import psycopg  # noqa: PLC0415

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def peak_rss(lines: int, root: Path) -> int:
    """VmHWM (KiB) of a child that writes and imports a file of ``lines`` lines."""
    repo = str(Path(__file__).resolve().parents[1])
    code = (
        f"import sys; from pathlib import Path; sys.path.insert(0, {repo!r}); "
        f"import bench.profile_import as b; root = Path({str(root)!r}); p = root / 'f.txt'; "
        f"b.write_file(p, {lines}); b.ours(root / 'data', p, None); "
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL server (admin database URL)")
    parser.add_argument("--only", choices=["sqlite", "pg"], help="run one backend's ratio")
    parser.add_argument("--rss-lines", default="1000000,10000000",
                        help="comma-separated sizes for peak RSS ('' to skip)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        root = Path(tmp)
        path = root / "profile.txt"
        write_file(path, args.lines)
        print(f"{args.lines:,} lines, {path.stat().st_size / 1e6:.1f} MB, "
              f"attributes {', '.join(f'{k}:{v}' for k, v in ATTRS.items())}")  # fmt: skip
        if args.only != "pg":
            base = sqlite_baseline(root / "base", path)
            mine = ours(root / "ours", path, None)
            print(f"SQLite      raw executemany upserts {base:7.2f} s   ftpush {mine:7.2f} s   "
                  f"ratio {base / mine:.2f}   ({args.lines / mine:,.0f} lines/s)")  # fmt: skip
        if args.pg and args.only != "sqlite":
            base_url, our_url = pg_database(args.pg), pg_database(args.pg)
            try:
                fresh(root / "pgbase", base_url)[1].close()
                pg_base = pg_baseline(base_url, path)
                pg_mine = ours(root / "pgours", path, our_url)
            finally:
                drop_database(args.pg, base_url)
                drop_database(args.pg, our_url)
            print(f"PostgreSQL  COPY + INSERT ON CONFLICT  {pg_base:7.2f} s   ftpush "
                  f"{pg_mine:7.2f} s   ratio {pg_base / pg_mine:.2f}   "
                  f"({args.lines / pg_mine:,.0f} lines/s)")  # fmt: skip
        for size in filter(None, args.rss_lines.split(",")):
            sub = root / f"rss-{size}"
            sub.mkdir()
            print(
                f"peak RSS importing {int(size):,} lines: {peak_rss(int(size), sub) / 1024:.0f} MiB"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

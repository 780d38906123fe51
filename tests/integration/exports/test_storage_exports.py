"""Export destinations, runs and deliveries in storage, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ftpush.crypto import SecretBox
from ftpush.errors import InvalidInput, NotFound
from ftpush.models import DeliveryStatus, ExportFormat, ExportTrigger, RemoteProtocol
from ftpush.storage import Database, apps, exports
from ftpush.storage.remotes import RemoteServerSpec, credentials
from ftpush.storage.tables import RemoteServer

DAY = dt.date(2025, 1, 1)
NOW = dt.datetime(2025, 1, 2, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def box(tmp_path: Path) -> SecretBox:
    return SecretBox.from_keys_dir(tmp_path / "keys")


def _remote(**kw: object) -> RemoteServerSpec:
    values: dict[str, object] = {
        "app_key": "demo",
        "name": exports.EXPORT_SERVER_NAME,
        "protocol": RemoteProtocol.SFTP,
        "host": "sftp.example.com",
        "username": "acme",
        "password": "s3cret",
    }
    values.update(kw)
    return RemoteServerSpec(**values)  # type: ignore[arg-type]


def test_destination_set_get_replace(db: Database, box: SecretBox) -> None:
    with db.transaction() as s:
        apps.create_app(s, key="demo")
        assert exports.find_destination(s, "demo") is None
        with pytest.raises(NotFound, match="no export destination"):
            exports.get_destination(s, "demo")
        exports.set_destination(
            s,
            box,
            exports.DestinationSpec(
                app_key="demo",
                remote=_remote(),
                path="/in",
                reports=("events", "campaigns"),
                format=ExportFormat.CSV,
                delimiter="tab",
            ),
        )
    with db.transaction() as s:
        dest, server = exports.get_destination(s, "demo")
        assert server is not None
        assert (dest.path, dest.reports, dest.format, dest.delimiter) == (
            "/in",
            ["events", "campaigns"],
            ExportFormat.CSV,
            "\t",
        )
        assert credentials(box, server).password == "s3cret"
        assert exports.destination_label(dest, server) == "sftp://acme@sftp.example.com:22/in"
        assert [a.key for a, _ in exports.scheduled_destinations(s)] == ["demo"]
        # Switching to the dropbox drops the stored credentials.
        exports.set_destination(
            s, box, exports.DestinationSpec(app_key="demo", schedule_enabled=False)
        )
    with db.transaction() as s:
        dest, server = exports.get_destination(s, "demo")
        assert server is None
        assert exports.destination_label(dest, server) == "dropbox:/reports"
        assert s.query(RemoteServer).count() == 0
        assert exports.scheduled_destinations(s) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"delimiter": ":"}, "delimiter"),
        ({"reports": ("nope",)}, "reports"),
        ({"remote": _remote(name="pull")}, "remote"),
    ],
)
def test_destination_validation(
    db: Database, box: SecretBox, change: dict[str, object], field: str
) -> None:
    with db.transaction() as s:
        apps.create_app(s, key="demo")
    spec = exports.DestinationSpec(app_key="demo", **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as info, db.transaction() as s:
        exports.set_destination(s, box, spec)
    assert info.value.field == field


def test_runs_deliveries_and_history(db: Database) -> None:
    with db.transaction() as s:
        apps.create_app(s, key="demo")
        run = exports.start_run(
            s, "demo", trigger=ExportTrigger.NIGHTLY, window_start=DAY, window_end=DAY,
            idempotency_key="nightly:demo:2025-01-01",
        )  # fmt: skip
        assert run is not None
        again = exports.start_run(
            s, "demo", trigger=ExportTrigger.NIGHTLY, window_start=DAY, window_end=DAY,
            idempotency_key="nightly:demo:2025-01-01",
        )  # fmt: skip
        assert again is None  # a night runs once; the session is still usable
        ok = exports.add_delivery(
            s, run.id, report="events", file_name="a.csv", destination="dropbox:/reports",
            rows=3, size=10, sha256="0" * 64,
        )  # fmt: skip
        bad = exports.add_delivery(
            s, run.id, report="campaigns", file_name="b.csv", destination="dropbox:/reports",
            rows=1, size=5, sha256="1" * 64,
        )  # fmt: skip
        exports.record_attempt(s, ok.id, now=NOW)
        later = NOW + dt.timedelta(minutes=1)
        exports.record_attempt(s, bad.id, now=NOW, error="tcp: refused", next_attempt_at=later)
        assert exports.finish_run(s, run.id, now=NOW).status == "running"
        run_id, bad_id = run.id, bad.id
    with db.transaction() as s:
        assert exports.claim_due_deliveries(s, NOW, lease_until=NOW + dt.timedelta(hours=1)) == []
        [(due, _run, app)] = exports.claim_due_deliveries(
            s, NOW + dt.timedelta(minutes=1), lease_until=NOW + dt.timedelta(hours=1)
        )
        assert (due.id, app.key) == (bad_id, "demo")
        exports.record_attempt(s, bad_id, now=NOW, error="tcp: refused")
        run = exports.finish_run(s, run_id, now=NOW)
        assert (run.status, run.finished_at) == ("failed", NOW)
        rows = exports.list_deliveries(s, "demo")
        assert [(d.file_name, d.status, d.attempts) for d, _ in rows] == [
            ("b.csv", DeliveryStatus.FAILED, 2),
            ("a.csv", DeliveryStatus.DELIVERED, 1),
        ]
    with pytest.raises(InvalidInput), db.transaction() as s:
        exports.start_run(
            s, "demo", trigger=ExportTrigger.SEND, window_start=DAY,
            window_end=DAY - dt.timedelta(days=1),
        )  # fmt: skip

"""Processing push files: ledger, inbox, results, archive, dry runs, rejects, resumes."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import func, select

from ftpush.models import ImportStatus, Platform
from ftpush.pipeline.imports import ImportProcessor
from ftpush.storage import Database, imports
from ftpush.storage.apps import get_app
from ftpush.storage.tables import Campaign, Device, ImportFile, InboxEntry, Message, User
from ftpush.storage.types import utcnow
from tests.integration.intake.conftest import Intake

FILE = (
    b"ExternalID;Text;Deeplink\n"
    b"u1;Welcome!\\nEnjoy.;https://example.com/welcome\n"
    b"u2;Hi; there;\n"
    b"ghost;Nobody home;\n"
    b"u1;Second line for u1;\n"  # duplicate ExternalID: rejected
    b";No id;\n"  # rejected
    b'u3;"Quoted ""ok""";myapp://x\n'
)


def seed_users(db: Database, app_key: str = "alpha") -> None:
    with db.transaction() as s:
        app = get_app(s, app_key)
        for ext, tokens in {"u1": ["a" * 64, "fcm-u1"], "u2": [], "u3": ["fcm-u3"]}.items():
            user = User(app_id=app.id, external_id=ext)
            s.add(user)
            s.flush()
            for token in tokens:
                platform = Platform.IOS if len(token) == 64 else Platform.ANDROID
                s.add(Device(app_id=app.id, user_id=user.id, token=token, platform=platform))


def receive(intake: Intake, path: str, data: bytes) -> int:
    account = intake.accounts["alice"]
    principal = intake.gate.authenticate_password("alice", account.password, "127.0.0.1", "sftp")
    session = intake.spool.session(principal)
    vpath, fd = session.open_write(path)
    os.write(fd, data)
    os.close(fd)
    session.close_write(vpath, complete=True)
    intake.spool.wait_idle()
    return intake.received[-1]


def count(db: Database, table: type) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_a_push_file_becomes_a_campaign(intake: Intake) -> None:
    seed_users(intake.db)
    ready: list[int] = []
    import_id = receive(intake, "/push.csv", FILE)
    processor = ImportProcessor(intake.settings, intake.db, on_campaign_ready=ready.append)
    assert processor.process(import_id) is ImportStatus.PARTIAL
    assert processor.process(import_id) is None  # finished: nothing to do again
    box = intake.dropbox("alpha")
    result = json.loads((box / "results" / "push.csv.result.json").read_text())
    assert result["status"] == "partial"
    assert result["counts"] == {
        "lines": 6, "accepted": 4, "rejected": 2, "unknown_user": 1, "no_device": 1,
        "messages": 3,
    }  # fmt: skip
    assert result["campaign_id"].startswith("m")
    assert [e["code"] for e in result["errors"]] == ["duplicate_external_id", "missing_external_id"]
    errors_csv = (box / "results" / "push.csv.errors.csv").read_text().splitlines()
    assert errors_csv[0] == "line;external_id;code;message"
    assert errors_csv[1].startswith("5;u1;duplicate_external_id;")
    assert len(errors_csv) == 3
    with intake.db.transaction() as s:
        campaign = s.scalar(select(Campaign))
        assert campaign is not None
        assert ready == [campaign.id]
        texts = dict(s.execute(select(InboxEntry.line_no, InboxEntry.text)).all())
        assert texts == {2: "Welcome!\nEnjoy.", 3: "Hi; there", 7: 'Quoted "ok"'}
        row = s.get(ImportFile, import_id)
        assert row is not None
        assert row.checkpoint_line == 7
    assert count(intake.db, Message) == 3
    archived = intake.settings.archive_dir / "alpha" / f"{import_id}.data"
    assert archived.read_bytes() == FILE
    assert not (intake.settings.spool_dir / "alpha" / f"{import_id}.errors.tmp").exists()


def test_a_dry_run_writes_results_and_nothing_else(intake: Intake) -> None:
    seed_users(intake.db)
    import_id = receive(intake, "/validate/push.csv", FILE)
    processor = ImportProcessor(intake.settings, intake.db)
    assert processor.process(import_id) is ImportStatus.PARTIAL
    result = json.loads((intake.dropbox("alpha") / "results" / "push.csv.result.json").read_text())
    assert result["dry_run"] is True
    assert result["counts"]["unknown_user"] == 1
    assert result["counts"]["no_device"] == 1
    assert result["campaign_id"] is None
    for table in (Campaign, Message, InboxEntry):
        assert count(intake.db, table) == 0


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"ExternalID;Text;Deeplink\n", "empty_file"),
        (b"\n\n", "empty_file"),
    ],
)
def test_whole_file_rejects_apply_nothing(intake: Intake, data: bytes, code: str) -> None:
    seed_users(intake.db)
    import_id = receive(intake, "/bad.csv", data)
    assert ImportProcessor(intake.settings, intake.db).process(import_id) is ImportStatus.FAILED
    box = intake.dropbox("alpha")
    result = json.loads((box / "results" / "bad.csv.result.json").read_text())
    assert (result["status"], result["error_code"]) == ("failed", code)
    assert (box / "failed" / "bad.csv").read_bytes() == data
    assert count(intake.db, Message) == 0
    assert count(intake.db, InboxEntry) == 0


def test_a_crashed_run_is_resumed_and_ends_the_same(intake: Intake) -> None:
    seed_users(intake.db)
    lines = "".join(f"u{1 + i % 3};Line {i};\n" for i in range(30))  # u1..u3, duplicates later
    data = ("".join(f"x{i};Hello {i};\n" for i in range(40)) + lines).encode()
    import_id = receive(intake, "/big.csv", data)

    class Crash(Exception):
        pass

    calls = 0

    def crash_after_first_batch(campaign_id: int) -> None:
        nonlocal calls
        calls += 1
        raise Crash

    first = ImportProcessor(
        intake.settings,
        intake.db,
        batch_size=10,
        lease_seconds=0.0,  # the lease runs out at once, as if the worker died
        on_campaign_ready=crash_after_first_batch,
    )
    with pytest.raises(Crash):
        first.process(import_id)
    with intake.db.transaction() as s:
        row = s.get(ImportFile, import_id)
        assert row is not None
        assert row.status is ImportStatus.PROCESSING
        assert row.checkpoint_line == 10
    second = ImportProcessor(intake.settings, intake.db, batch_size=10)
    assert second.process(import_id) is ImportStatus.PARTIAL
    with intake.db.transaction() as s:
        row = s.get(ImportFile, import_id)
        assert row is not None
        assert (row.accepted, row.rejected) == (43, 27)


def test_a_leased_file_is_not_processed_twice(intake: Intake) -> None:
    import_id = receive(intake, "/push.csv", FILE)
    with intake.db.transaction() as s:
        assert imports.claim_import(s, import_id, "other-worker", 300, utcnow()) is not None
    assert ImportProcessor(intake.settings, intake.db).process(import_id) is None


def _only_import(intake: Intake) -> ImportFile:
    with intake.db.transaction() as s:
        [row] = imports.list_imports(s, "alpha")
        s.expunge(row)
        return row


@pytest.mark.parametrize(
    ("data", "offset", "line"),
    [
        (b"u1;hi;\n\xff\xfe broken\n", 7, 2),
        (b"\xff\xfeE\x00x\x00", 0, 1),  # UTF-16
        # far past the first read, after a character cut by the 1 MiB read boundary
        (b"u1;" + b"x" * (1024 * 1024 - 4) + "é;\n".encode() + b"u2;ok;\n" * 5000 + b"u3;\xc3(;\n",
         1024 * 1024 - 1 + 2 + 2 + 5000 * 7 + 3, 5002),
        (b"u1;hi;\nu2;truncated \xe2\x82", 20, 2),  # cut at the very end
    ],
)  # fmt: skip
def test_a_file_that_is_not_utf8_is_rejected_before_anything_is_applied(
    intake: Intake, data: bytes, offset: int, line: int
) -> None:
    seed_users(intake.db)
    receive_any(intake, "/bad.csv", data)
    row = _only_import(intake)
    assert (row.status, row.error_code) == (ImportStatus.FAILED, "not_utf8")
    assert row.error_message is not None
    if offset:
        assert f"at offset {offset} (line {line})" in row.error_message
    else:
        assert "byte order mark" in row.error_message
    assert intake.received == []  # never handed to the pipeline
    box = intake.dropbox("alpha")
    result = json.loads((box / "results" / "bad.csv.result.json").read_text())
    assert (result["status"], result["error_code"]) == ("failed", "not_utf8")
    assert (box / "failed" / "bad.csv").read_bytes() == data
    assert count(intake.db, Campaign) == 0


def test_a_multibyte_character_across_the_read_boundary_is_fine(intake: Intake) -> None:
    data = b"u1;" + b"x" * (1024 * 1024 - 4) + "é€;\n".encode() + b"u2;ok;\n"
    import_id = receive(intake, "/fine.csv", data)
    assert _only_import(intake).status is ImportStatus.RECEIVED
    assert import_id == _only_import(intake).id


def test_bad_bytes_met_late_cancel_what_was_not_sent(intake: Intake) -> None:
    """Defence in depth: the spooled file changed after intake checked it."""
    seed_users(intake.db)
    lines = b"".join(f"u{1 + i % 3};Hi {i};\n".encode() for i in range(3))
    import_id = receive(intake, "/late.csv", lines)
    with intake.db.transaction() as s:
        row = s.get(ImportFile, import_id)
        assert row is not None
        spooled = intake.settings.data_dir / (row.spool_path or "")
    spooled.write_bytes(lines + b"x" * (2 << 20) + b"\n" + b"u1;\xff;\n")
    processor = ImportProcessor(intake.settings, intake.db, batch_size=2)
    assert processor.process(import_id) is ImportStatus.FAILED
    with intake.db.transaction() as s:
        campaign = s.scalar(select(Campaign))
        assert campaign is not None
        assert str(campaign.status) == "cancelled"
        statuses = set(s.scalars(select(Message.status)))
    assert statuses == {"cancelled"}


def receive_any(intake: Intake, path: str, data: bytes) -> None:
    """Upload without expecting the file to reach the pipeline."""
    account = intake.accounts["alice"]
    principal = intake.gate.authenticate_password("alice", account.password, "127.0.0.1", "sftp")
    session = intake.spool.session(principal)
    vpath, fd = session.open_write(path)
    os.write(fd, data)
    os.close(fd)
    session.close_write(vpath, complete=True)
    intake.spool.wait_idle()

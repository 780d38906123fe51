"""The intake core as the adapters drive it: complete, abandoned, renamed, checked, recovered."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from ftpush.errors import FileTooLarge, InvalidInput, NotFound, PermissionDenied
from ftpush.intake.access import Principal
from ftpush.intake.spool import DropboxSession, Origin, Spool
from ftpush.models import ImportKind, ImportStatus
from ftpush.storage import accounts, imports
from tests.integration.intake.conftest import Intake

CONTENT = b"ExternalID;Text;Deeplink\n12345;Hello;https://example.com\n"


def login(intake: Intake, username: str = "alice") -> DropboxSession:
    account = intake.accounts[username]
    principal = intake.gate.authenticate_password(username, account.password, "127.0.0.1", "sftp")
    return intake.spool.session(principal)


def upload(
    session: DropboxSession, path: str, data: bytes = CONTENT, *, complete: bool = True
) -> str | None:
    vpath, fd = session.open_write(path)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return session.close_write(vpath, complete=complete, reason="client vanished")


def result(intake: Intake, name: str, app: str = "alpha") -> dict[str, object]:
    path = intake.dropbox(app) / "results" / f"{name}.result.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def rows(intake: Intake, app: str = "alpha") -> list[imports.ImportFile]:
    with intake.db.transaction() as s:
        return list(imports.list_imports(s, app))


def test_a_complete_upload_is_taken_and_recorded_once(intake: Intake) -> None:
    session = login(intake)
    assert upload(session, "/push.csv") is not None
    intake.spool.wait_idle()
    assert not (intake.dropbox("alpha") / "push.csv").exists()
    [row] = rows(intake)
    assert intake.received == [row.id]
    assert row.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert (row.size, row.kind, row.status) == (
        len(CONTENT),
        ImportKind.PUSH,
        ImportStatus.RECEIVED,
    )
    assert (row.received_by, row.remote_addr, row.folder) == ("alice", "127.0.0.1", "")
    assert row.spool_path is not None
    assert (intake.settings.data_dir / row.spool_path).read_bytes() == CONTENT
    assert rows(intake, "beta") == []


def test_an_abandoned_upload_is_discarded_with_an_incomplete_result(intake: Intake) -> None:
    session = login(intake)
    upload(session, "/push.csv", CONTENT[:10], complete=False)
    intake.spool.wait_idle()
    assert not (intake.dropbox("alpha") / "push.csv").exists()
    assert intake.received == []
    doc = result(intake, "push.csv")
    assert doc["status"] == "incomplete"
    assert "client vanished" in str(doc["message"])
    [row] = rows(intake)
    assert row.status is ImportStatus.INCOMPLETE
    # An incomplete upload does not make the complete one a duplicate.
    upload(session, "/push.csv", CONTENT[:10])
    intake.spool.wait_idle()
    assert len(intake.received) == 1


def test_temporary_names_wait_for_the_rename(intake: Intake) -> None:
    session = login(intake)
    assert upload(session, "/push.csv.part") is None
    assert upload(session, "/.hidden.csv") is None
    intake.spool.wait_idle()
    assert intake.received == []
    assert session.rename("/push.csv.part", "/push.csv") is not None
    intake.spool.wait_idle()
    assert len(intake.received) == 1
    assert (intake.dropbox("alpha") / ".hidden.csv").exists()


def test_profile_and_dry_run_folders(intake: Intake) -> None:
    session = login(intake)
    upload(session, "/profile/users.txt", b"~~~extID~email~device token\n1~~\n")
    upload(session, "/VALIDATE/push.csv")
    upload(session, "/push.csv")  # same content as the dry run: not a duplicate of it
    intake.spool.wait_idle()
    by_name = {(r.folder, r.name): r for r in rows(intake)}
    assert by_name[("Profile", "users.txt")].kind is ImportKind.PROFILE
    assert by_name[("validate", "push.csv")].dry_run
    assert by_name[("", "push.csv")].status is ImportStatus.RECEIVED
    assert len(intake.received) == 3


def test_duplicate_content_is_not_processed_again(intake: Intake) -> None:
    session = login(intake)
    upload(session, "/first.csv")
    intake.spool.wait_idle()
    upload(session, "/second.csv")
    intake.spool.wait_idle()
    assert len(intake.received) == 1
    doc = result(intake, "second.csv")
    assert doc["status"] == "duplicate"
    assert "first.csv" in str(doc["message"])
    # The other app may send the same bytes: duplicates are per app.
    upload(login(intake, "bob"), "/first.csv")
    intake.spool.wait_idle()
    assert len(intake.received) == 2


def test_sidecar_first_then_match(intake: Intake) -> None:
    session = login(intake)
    digest = hashlib.sha256(CONTENT).hexdigest()
    assert upload(session, "/push.csv.sha256", f"{digest}  push.csv\n".encode()) is None
    assert upload(session, "/push.csv") is not None
    intake.spool.wait_idle()
    assert len(intake.received) == 1
    assert not (intake.dropbox("alpha") / "push.csv.sha256").exists()


def test_sidecar_mismatch_rejects_the_file(intake: Intake) -> None:
    session = login(intake)
    upload(session, "/push.csv.sha256", b"0" * 64 + b"\n")
    upload(session, "/push.csv")
    intake.spool.wait_idle()
    assert intake.received == []
    doc = result(intake, "push.csv")
    assert (doc["status"], doc["error_code"]) == ("failed", "checksum_mismatch")
    assert (intake.dropbox("alpha") / "failed" / "push.csv").read_bytes() == CONTENT


def test_required_checksum_holds_the_file_until_its_sidecar(intake: Intake) -> None:
    with intake.db.transaction() as s:
        accounts.set_require_checksum(s, "alice", True)
    session = login(intake)
    assert session.principal.require_checksum
    assert upload(session, "/push.csv") is None
    intake.spool.wait_idle()
    assert intake.received == []
    assert (intake.dropbox("alpha") / "push.csv").exists()
    digest = hashlib.sha256(CONTENT).hexdigest()
    assert upload(session, "/push.csv.sha256", digest.encode()) is not None
    intake.spool.wait_idle()
    assert len(intake.received) == 1


def test_unsupported_files_are_rejected_whole(intake: Intake) -> None:
    session = login(intake)
    upload(session, "/report.xlsx", b"PK\x03\x04")
    upload(session, "/Profile/users.csv")
    intake.spool.wait_idle()
    assert intake.received == []
    assert result(intake, "report.xlsx")["error_code"] == "unsupported_file"
    assert (intake.dropbox("alpha") / "failed" / "users.csv").exists()


def test_size_limit(intake: Intake) -> None:
    session = login(intake)
    session.check_extent(session.max_bytes)
    with pytest.raises(FileTooLarge):
        session.check_extent(session.max_bytes + 1)


def test_one_writer_per_file_and_the_rules_of_each_operation(intake: Intake) -> None:
    session, other = login(intake), login(intake)
    vpath, fd = session.open_write("/push.csv")
    try:
        with pytest.raises(PermissionDenied, match="being uploaded"):
            other.open_write("/push.csv")
        with pytest.raises(PermissionDenied):
            other.delete("/push.csv")
        with pytest.raises(PermissionDenied):
            other.rename("/push.csv", "/other.csv")
    finally:
        os.close(fd)
        session.close_write(vpath, complete=False)
    with pytest.raises(PermissionDenied):
        session.open_write("/results/x.csv")
    with pytest.raises(PermissionDenied):
        session.open_read("/push.csv")
    with pytest.raises(NotFound):
        session.open_read("/results/nothing.json")
    with pytest.raises(NotFound):
        session.delete("/nothing.csv")
    with pytest.raises(InvalidInput):
        session.open_write("/bad\x01name.csv")
    assert {name for name, _ in session.listdir("/")} >= {"Profile", "results", "validate"}
    names = {name for name, _ in session.listdir("/results")}
    assert "push.csv.result.json" in names
    fd = session.open_read("/results/push.csv.result.json")
    os.close(fd)
    session.delete("/results/push.csv.result.json")
    assert session.stat("/").st_size >= 0
    with pytest.raises(NotFound):
        session.stat("/results/push.csv.result.json")


def test_accounts_of_other_apps_never_meet(intake: Intake) -> None:
    upload(login(intake), "/only-alpha.csv", complete=False)
    bob = login(intake, "bob")
    assert "only-alpha.csv.result.json" not in {n for n, _ in bob.listdir("/results")}
    with pytest.raises(NotFound):
        bob.open_read("/results/only-alpha.csv.result.json")
    with pytest.raises(NotFound):
        bob.open_read("/../alpha/results/only-alpha.csv.result.json")


def test_recovery_after_a_crash(intake: Intake) -> None:
    session = login(intake)
    box = intake.dropbox("alpha")
    principal: Principal = session.principal
    # 1. taken but never recorded: simulate by taking without the background worker.
    crashed = Spool(intake.settings, intake.db, on_received=intake.received.append, workers=1)
    crashed._submit = lambda spool_id, app_key: None  # type: ignore[method-assign]
    (box / "taken.csv").write_bytes(CONTENT)
    spool_id = crashed.take(Origin.of(principal), "", box / "taken.csv", "taken.csv")
    crashed.close()
    # 2. a meta file whose rename never happened.
    spool_dir = intake.settings.spool_dir / "alpha"
    (spool_dir / "deadbeef.json").write_text("{}")
    # 3. an upload that was being written when the server died, and a temp file.
    (box / "half.csv").write_bytes(CONTENT[:5])
    (box / "later.csv.part").write_bytes(CONTENT)
    assert intake.received == []

    restarted = Spool(intake.settings, intake.db, on_received=intake.received.append)
    try:
        restarted.recover()
        restarted.recover()  # a second recovery finds nothing more to do
    finally:
        restarted.close()
    names = {r.name: r for r in rows(intake)}
    assert names["taken.csv"].status is ImportStatus.RECEIVED
    assert names["taken.csv"].spool_path == f"spool/alpha/{spool_id}.data"
    assert names["half.csv"].status is ImportStatus.INCOMPLETE
    assert len(intake.received) == 1
    assert not (spool_dir / "deadbeef.json").exists()
    assert (box / "later.csv.part").exists()
    assert not (box / "half.csv").exists()

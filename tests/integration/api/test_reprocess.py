"""`POST /api/v1/imports/{id}/reprocess`: an operator's forced reprocess (SPEC §2, decision 0902).

Through a real server wired like ``ftpush serve`` (the spool as receiver and reprocessor,
an in-memory queue run in the test's thread), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftpush.pipeline.archive import archive_path, purge_archive
from ftpush.storage import attributes, imports
from tests.conftest import PgServer
from tests.integration.api.conftest import problem
from tests.integration.api.test_imports import PATH, PUSH_FILE, Wired, seed, serving

PROFILE = b'~~~extID~email~device token~tier\nu7~~~"gold"\n'


@pytest.fixture
def wired(backend: str, pg_server: PgServer | None, tmp_path: Path) -> Iterator[Wired]:
    with serving(backend, pg_server, tmp_path) as world:
        yield world


def _reprocess(wired: Wired, import_id: int, app: str = "alpha") -> dict[str, object]:
    answer = wired.client(app).post(f"{PATH}/{import_id}/reprocess")
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == f"{PATH}/{answer.json()['id']}"
    body: dict[str, object] = answer.json()
    return body


def test_a_duplicate_reprocessed_is_processed_and_sent_again(wired: Wired) -> None:
    seed(wired)
    first = wired.upload("push.csv", PUSH_FILE).json()
    wired.run_queue()
    assert len(wired.log.messages) == 2  # u1's two devices
    again = wired.upload("push.csv", PUSH_FILE).json()
    assert again["status"] == "duplicate"
    wired.run_queue()
    assert len(wired.log.messages) == 2  # a duplicate sends nothing

    forced = _reprocess(wired, again["id"])
    assert (forced["status"], forced["forced"], forced["name"], forced["folder"]) == (
        "received", True, "push.csv", "/",
    )  # fmt: skip
    assert forced["source"] == "api"
    assert forced["id"] not in (first["id"], again["id"])
    # A second press while the first reprocess is still queued sends nothing twice.
    pressed_twice = _reprocess(wired, again["id"])
    assert pressed_twice["status"] == "duplicate"
    assert pressed_twice["error_message"] == (
        f"import {forced['id']} (push.csv) of the same content is still queued; "
        "reprocess again once it has finished"
    )

    wired.run_queue()
    detail = wired.client().get(f"{PATH}/{forced['id']}").json()
    assert (detail["status"], detail["accepted"], detail["rejected"]) == ("partial", 2, 1)
    assert detail["counts"]["unknown_user"] == 1
    assert detail["campaign"]
    assert detail["campaign"] != first["campaign"]
    assert [e["line"] for e in detail["errors"]] == [4]
    assert len(wired.log.messages) == 4  # sent again, to the same two devices
    campaign = wired.client().get(f"/api/v1/campaigns/{detail['campaign']}").json()
    assert (campaign["status"], campaign["figures"]["sent"]) == ("done", 2)
    with wired.api.db.read() as session:
        row = imports.get_import(session, int(str(forced["id"])))
        assert row.received_by is not None
        assert row.received_by.startswith("api:")
    # A forced run is the newest processed file of that content: an upload is a duplicate.
    assert wired.upload("push.csv", PUSH_FILE).json()["status"] == "duplicate"
    # And the processed file itself can be reprocessed again.
    assert _reprocess(wired, first["id"])["status"] == "received"


def test_what_cannot_be_reprocessed(wired: Wired) -> None:
    seed(wired)
    queued = wired.upload("push.csv", PUSH_FILE).json()
    body = problem(wired.client().post(f"{PATH}/{queued['id']}/reprocess"), 409)
    assert body["code"] == "in_progress"
    assert "still queued" in body["detail"]
    wired.run_queue()

    # Another app's import, or none at all: 404, the same answer.
    for app, import_id in (("beta", queued["id"]), ("alpha", 999_999)):
        problem(wired.client(app).post(f"{PATH}/{import_id}/reprocess"), 404)

    # The archive's retention ran out: nothing left to process.
    assert archive_path(wired.api.settings, "alpha", queued["id"]).is_file()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    assert purge_archive(wired.api.settings, now=later) == 1
    body = problem(wired.client().post(f"{PATH}/{queued['id']}/reprocess"), 409)
    assert body["code"] == "content_not_kept"
    assert "no longer kept" in body["detail"]
    assert "upload the file again" in body["detail"]
    assert len(listed_ids(wired)) == 1  # nothing was recorded


def listed_ids(wired: Wired) -> list[int]:
    return [item["id"] for item in wired.client().get(PATH).json()["items"]]


def test_a_rejected_profile_file_is_reprocessed_from_failed_once_fixed(wired: Wired) -> None:
    rejected = wired.upload("tiers.txt", PROFILE).json()
    wired.run_queue()
    detail = wired.client().get(f"{PATH}/{rejected['id']}").json()
    assert (detail["status"], detail["error_code"]) == ("failed", "unknown_attribute")
    failed_copy = wired.api.settings.dropbox_dir / "alpha" / "failed" / "tiers.txt"
    assert failed_copy.read_bytes() == PROFILE

    with wired.api.db.transaction() as session:  # the operator declares the attribute
        attributes.declare_attribute(session, app_key="alpha", name="tier", type_="string")
    forced = _reprocess(wired, rejected["id"])
    assert (forced["folder"], forced["kind"], forced["forced"]) == ("/Profile", "profile", True)
    wired.run_queue()
    done = wired.client().get(f"{PATH}/{forced['id']}").json()
    assert (done["status"], done["accepted"]) == ("done", 1)
    user = wired.client().get("/api/v1/users/u7").json()
    assert user["attributes"] == {"tier": "gold"}

    # The customer replaced failed/tiers.txt with other bytes, then deleted it: not kept.
    failed_copy.write_bytes(b"other bytes")
    body = problem(wired.client().post(f"{PATH}/{rejected['id']}/reprocess"), 409)
    assert body["code"] == "content_not_kept"
    assert "failed/" in body["detail"]
    failed_copy.unlink()
    problem(wired.client().post(f"{PATH}/{rejected['id']}/reprocess"), 409)

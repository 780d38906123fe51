"""``ftpush import``, ``ftpush imports list|show`` and ``ftpush campaign list|show|cancel``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftpush.cli.imports import default_folder
from tests.conftest import SAMPLES
from tests.integration.cli.conftest import Ftpush

IOS = "ab" * 32
PUSH = b"ExternalID;Text;Deeplink\nu1;Hello\\nthere;https://x.example/a\nu2;nobody;\n;no id;\n"


@pytest.fixture
def demo(ftpush: Ftpush) -> Ftpush:
    ftpush("app", "create", "demo")
    ftpush("device", "add", "--app", "demo", "--external-id", "u1", "--token", IOS)
    ftpush("device", "add", "--app", "demo", "--external-id", "u1", "--token", "fcm:u1")
    return ftpush


def test_import_then_the_workers_send(demo: Ftpush, tmp_path: Path) -> None:
    file = tmp_path / "push.csv"
    file.write_bytes(PUSH)
    data = demo("import", str(file), "--app", "demo", "--json").json()
    assert (data["status"], data["source"], data["folder"]) == ("partial", "cli", "/")
    assert data["counts"] == {
        "lines": 3, "accepted": 2, "rejected": 1, "unknown_user": 1, "no_device": 0,
        "messages": 2,
    }  # fmt: skip
    assert data["queued_for_workers"] is True
    assert [Path(p).name for p in data["result_files"]] == [
        "push.csv.result.json", "push.csv.errors.csv",
    ]  # fmt: skip
    errors = Path(data["result_files"][1]).read_text()
    assert "4;" in errors  # the line without an ExternalID
    campaign = demo("campaign", "show", data["campaign"], "--json").json()
    assert campaign["figures"]["pending"] == 2
    assert campaign["figures"]["inbox_entries"] == 1
    # a worker (here: one pass of the queue in-process) sends them
    demo("worker", "--drain")
    campaign = demo("campaign", "show", data["campaign"], "--json").json()
    assert (campaign["status"], campaign["figures"]["sent"]) == ("done", 2)
    inbox = demo("user", "show", "--app", "demo", "u1", "--json").json()["inbox"]
    assert [entry["text"] for entry in inbox] == ["Hello\nthere"]


def test_import_and_send_here(demo: Ftpush, tmp_path: Path) -> None:
    file = tmp_path / "push.csv"
    file.write_bytes(PUSH)
    run = demo("import", str(file), "--app", "demo", "--send")
    assert "partial" in run.out
    assert "sent 2, dead tokens 0, failed 0" in run.out
    [campaign] = demo("campaign", "list", "--app", "demo", "--json").json()
    assert (campaign["status"], campaign["figures"]["sent"]) == ("done", 2)
    assert "done" in demo("campaign", "list", "--app", "demo").out


def test_duplicates_rejects_and_the_exit_status(demo: Ftpush, tmp_path: Path) -> None:
    file = tmp_path / "push.csv"
    file.write_bytes(PUSH)
    demo("import", str(file), "--app", "demo")
    again = demo("import", str(file), "--app", "demo", "--json").json()
    assert again["status"] == "duplicate"
    assert [Path(p).name for p in again["result_files"]] == ["push.csv.result.json"]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"u1;ok;\n\xff\xfe\n")
    run = demo.fails("import", str(bad), "--app", "demo")
    assert run.code == 1
    assert "not_utf8" in run.out
    assert "offset 7 (line 2)" in run.out
    listed = demo("imports", "list", "--app", "demo", "--json").json()
    assert [r["status"] for r in listed] == ["failed", "duplicate", "partial"]
    assert len(demo("imports", "list", "--app", "demo", "--before", str(listed[1]["id"]),
                    "--json").json()) == 1  # fmt: skip
    shown = demo("imports", "show", str(listed[0]["id"])).out
    assert "not_utf8" in shown
    assert "does not exist" in demo.fails("imports", "show", "999").err


def test_dry_run_folder_and_hostile_arguments(demo: Ftpush, tmp_path: Path) -> None:
    folder = tmp_path / "validate"
    folder.mkdir()
    file = folder / "check.csv"
    file.write_bytes(PUSH)
    data = demo("import", str(file), "--app", "demo", "--json").json()
    assert (data["folder"], data["dry_run"], data["campaign"]) == ("validate", True, None)
    assert demo("campaign", "list", "--app", "demo", "--json").json() == []
    assert "upload folder" in demo.fails("import", str(file), "--app", "demo",
                                         "--folder", "../etc").err  # fmt: skip
    assert "upload folder" in demo.fails("import", str(file), "--app", "demo",
                                         "--folder", "results").err  # fmt: skip
    assert "does not exist" in demo.fails("import", str(file), "--app", "nope").err
    part = tmp_path / "x.csv.part"
    part.write_bytes(PUSH)
    assert "temporary" in demo.fails("import", str(part), "--app", "demo").err


def test_cancel_a_campaign(demo: Ftpush, tmp_path: Path) -> None:
    file = tmp_path / "push.csv"
    file.write_bytes(PUSH)
    msg_id = demo("import", str(file), "--app", "demo", "--json").json()["campaign"]
    assert demo("campaign", "cancel", msg_id, "--json").json() == {
        "msg_id": msg_id, "cancelled": 2,
    }  # fmt: skip
    shown = demo("campaign", "show", msg_id).out
    assert "cancelled" in shown
    assert "does not exist" in demo.fails("campaign", "show", "m-nope").err


@pytest.mark.parametrize(
    ("path", "folder"),
    [
        ("a/Profile/users.txt", "Profile"),
        ("a/VALIDATE/profile/users.txt", "validate/Profile"),
        ("a/validate/push.csv", "validate"),
        ("a/push.csv", ""),
        ("a/users.txt", "Profile"),
    ],
)
def test_default_folder(path: str, folder: str) -> None:
    assert default_folder(Path(path)) == folder


def test_import_json_is_one_document(demo: Ftpush, tmp_path: Path) -> None:
    file = tmp_path / "p.csv"
    file.write_bytes(PUSH)
    assert isinstance(json.loads(demo("import", str(file), "--app", "demo", "--json").out), dict)


def test_campaign_send(demo: Ftpush) -> None:
    data = demo("campaign", "send", "--app", "demo", "--to", "u1", "--to", "nobody",
                "--text", "Your parcel", "--deeplink", "https://x.example/p", "--now",
                "--json").json()  # fmt: skip
    assert (data["recipients"], data["unknown_user"], data["messages"]) == (2, 1, 2)
    assert data["sent"]["sent"] == 2
    shown = demo("campaign", "show", data["msg_id"], "--json").json()
    assert (shown["type"], shown["status"], shown["figures"]["sent"]) == (
        "transactional",
        "done",
        2,
    )
    queued = demo("campaign", "send", "--app", "demo", "--to", "u1", "--text", "Later",
                  "--automated", "--no-inbox").out  # fmt: skip
    assert "1 users, 2 messages" in queued
    assert "deeplink" in demo.fails("campaign", "send", "--app", "demo", "--to", "u1",
                                    "--text", "x", "--deeplink", "nope").err  # fmt: skip


def test_import_a_profile_file(demo: Ftpush, tmp_path: Path) -> None:
    demo("attribute", "add", "--app", "demo", "attribute1", "string")
    demo("attribute", "add", "--app", "demo", "attribute2", "integer")
    folder = tmp_path / "Profile"
    folder.mkdir()
    file = folder / "profile.txt"
    file.write_bytes((SAMPLES / "Profile" / "profile.txt").read_bytes())
    data = demo("import", str(file), "--app", "demo", "--json").json()
    assert (data["folder"], data["kind"], data["status"]) == ("Profile", "profile", "done")
    assert data["counts"]["users_created"] == 2
    user = demo("user", "show", "--app", "demo", "12345", "--json").json()
    assert user["attributes"] == {"attribute1": "example data", "attribute2": 25}
    assert "token123" in [d["token"] for d in user["devices"]]
    undeclared = tmp_path / "Profile" / "other.txt"
    undeclared.write_bytes(b"~~~extID~email~device token~shoe\n1~~~42\n")
    run = demo.fails("import", str(undeclared), "--app", "demo")
    assert "unknown_attribute" in run.out

"""``ftpush imports reprocess ID``: the operator's forced reprocess, queued for the workers."""

from __future__ import annotations

from pathlib import Path

from tests.integration.cli.conftest import Ftpush
from tests.integration.cli.test_import_cli import IOS, PUSH


def test_a_duplicate_is_reprocessed_from_the_cli_and_sent_by_the_workers(
    ftpush: Ftpush, tmp_path: Path
) -> None:
    ftpush("app", "create", "demo")
    ftpush("app", "create", "other")
    ftpush("device", "add", "--app", "demo", "--external-id", "u1", "--token", IOS)
    file = tmp_path / "push.csv"
    file.write_bytes(PUSH)
    first = ftpush("import", str(file), "--app", "demo", "--json").json()
    duplicate = ftpush("import", str(file), "--app", "demo", "--json").json()
    assert duplicate["status"] == "duplicate"
    ftpush("worker", "--drain")

    # Not this app's import: refused, as is one that was never there.
    refused = ftpush.fails("imports", "reprocess", str(duplicate["id"]), "--app", "other")
    assert f"import {duplicate['id']} does not exist" in refused.err
    assert ftpush.fails("imports", "reprocess", "999999").code == 1

    run = ftpush("imports", "reprocess", str(duplicate["id"]), "--app", "demo")
    assert f"reprocess of import {duplicate['id']} (push.csv): received" in run.out
    assert "queued for the workers" in run.out
    [forced, *_] = ftpush("imports", "list", "--app", "demo", "--json").json()
    assert (forced["status"], forced["forced"], forced["source"]) == ("received", True, "cli")
    assert forced["received_by"].startswith("cli:")
    busy = ftpush.fails("imports", "reprocess", str(forced["id"]))
    assert "still queued" in busy.err

    ftpush("worker", "--drain")
    shown = ftpush("imports", "show", str(forced["id"]), "--json").json()
    assert (shown["status"], shown["accepted"], shown["rejected"]) == ("partial", 2, 1)
    assert shown["campaign"] != first["campaign"]
    campaign = ftpush("campaign", "show", shown["campaign"], "--json").json()
    assert (campaign["status"], campaign["figures"]["sent"]) == ("done", 1)
    again = ftpush("imports", "reprocess", str(forced["id"]), "--json").json()
    assert (again["status"], again["reprocess_of"]) == ("received", forced["id"])

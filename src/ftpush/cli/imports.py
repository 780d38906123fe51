"""``ftpush import FILE`` (a local file, processed like an upload) and ``ftpush imports``.

``ftpush import`` hands the file to the same spool and pipeline as an SFTP or
FTPS upload (duplicate detection, UTF-8 check, result files, archive), parses it
in this process with a progress bar, and leaves the sending to the workers of a
running ``ftpush serve`` / ``ftpush worker`` — or, with ``--send``, sends here
and now (docs/decisions/0500-cli-import.md).

``ftpush imports reprocess ID`` forces a new run of a finished file's kept content
(SPEC §2, duplicate detection skipped), queued for the workers like an upload
(docs/decisions/0902-panel-imports-reprocess.md).
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

import click

from ftpush.cli.campaigns import send_now
from ftpush.cli.context import CliContext, emit_json, emit_table, json_option, pass_cli
from ftpush.intake.reprocess import reprocess
from ftpush.intake.spool import Origin, Spool
from ftpush.jobs.runtime import JobRuntime
from ftpush.models import ImportSource, ImportStatus
from ftpush.pipeline.dispatch import DispatchSummary
from ftpush.pipeline.imports import ImportProcessor
from ftpush.pipeline.results import RESULTS_FOLDER
from ftpush.storage import apps, imports, ledger
from ftpush.storage.tables import ImportFile

FAILED_EXIT = 1


def import_dict(row: ImportFile, msg_id: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "folder": row.folder or "/",
        "kind": str(row.kind),
        "dry_run": row.dry_run,
        "forced": row.forced,
        "status": str(row.status),
        "source": str(row.source),
        "received_by": row.received_by,
        "size": row.size,
        "sha256": row.sha256,
        "received_at": row.received_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "lines": row.lines_total,
        "accepted": row.accepted,
        "rejected": row.rejected,
        "progress_line": row.checkpoint_line,
        "counts": dict(row.counts or {}),
        "error_code": row.error_code,
        "error_message": row.error_message,
        "campaign": msg_id,
    }


def _load(obj: CliContext, import_id: int) -> dict[str, Any]:
    with obj.session() as session:
        row = imports.get_import(session, import_id)
        campaign = ledger.file_campaign(session, row.id)
        data = import_dict(row, campaign.msg_id if campaign else None)
        app_key = apps.get_app_by_id(session, row.app_id).key
    box = obj.settings.dropbox_dir / app_key / RESULTS_FOLDER
    data["app"] = app_key
    names = [f"{row.name}.result.json"] + ([f"{row.name}.errors.csv"] if row.rejected else [])
    data["result_files"] = [str(box / n) for n in names if (box / n).is_file()]
    return data


def default_folder(file: Path) -> str:
    """The upload folder FILE's own path suggests: ``Profile/x.txt``, ``validate/x.csv``."""
    parts = [p.lower() for p in file.absolute().parts[:-1]]
    parent, grand = (parts[-1] if parts else ""), (parts[-2] if len(parts) > 1 else "")
    if parent == "profile":
        return "validate/Profile" if grand == "validate" else "Profile"
    if parent == "validate":
        return "validate"
    return "Profile" if file.suffix.lower() == ".txt" else ""


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--app", "app_key", required=True, metavar="KEY", help="The app it is for.")
@click.option(
    "--folder",
    help="Upload folder: /, Profile, validate or validate/Profile "
    "(default: from FILE's own folder; *.txt files go to Profile).",
)
@click.option(
    "--send",
    is_flag=True,
    help="Send the pushes from this process now (default: the workers of a running "
    "`ftpush serve` or `ftpush worker` send them).",
)
@json_option
@pass_cli
def import_file(
    obj: CliContext, file: Path, app_key: str, folder: str | None, send: bool, as_json: bool
) -> None:
    """Process FILE for app KEY exactly like an upload, then print the summary.

    Exit status 1 when the file is rejected as a whole.
    """
    settings = obj.settings
    with obj.session() as session:
        app = apps.get_app(session, app_key)
        origin = Origin(app.id, app.key, ImportSource.CLI, f"cli:{_user()}", None)
    target = default_folder(file) if folder is None else folder
    spool = Spool(settings, obj.db)
    try:
        with file.open("rb") as fh:
            import_id = spool.receive(origin, target, file.name, fh)
    finally:
        spool.close()
    runtime = None if send else JobRuntime(settings, obj.db)
    with obj.session() as session:
        received = imports.get_import(session, import_id).status is ImportStatus.RECEIVED
    if received:
        _process(obj, import_id, file, runtime, quiet=as_json)
    data = _load(obj, import_id)
    sent = None
    if send and data["campaign"]:
        sent = send_now(obj, data["campaign"], quiet=as_json)
        data = _load(obj, import_id)
    if runtime is not None and data["campaign"]:
        data["queued_for_workers"] = True
    if as_json:
        emit_json(data | ({"sent": vars(sent)} if sent else {}))
    else:
        _summary(data, sent)
    if data["status"] == str(ImportStatus.FAILED):
        click.get_current_context().exit(FAILED_EXIT)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def _process(
    obj: CliContext, import_id: int, file: Path, runtime: JobRuntime | None, *, quiet: bool
) -> None:
    on_ready = runtime.queue.enqueue_dispatch if runtime is not None else None
    size = file.stat().st_size
    if quiet or size < 1 << 20:
        ImportProcessor(obj.settings, obj.db, on_campaign_ready=on_ready).process(import_id)
        return
    with click.progressbar(length=size, label=f"importing {file.name}", file=sys.stderr) as bar:
        done = [0]

        def advance(total: int) -> None:
            bar.update(total - done[0])
            done[0] = total

        ImportProcessor(
            obj.settings, obj.db, on_campaign_ready=on_ready, on_progress=advance
        ).process(import_id)


def _summary(data: dict[str, Any], sent: DispatchSummary | None) -> None:
    where = f"{data['folder'].rstrip('/')}/{data['name']}".replace("//", "/")
    click.echo(f"import {data['id']}: {where} for app {data['app']}: {data['status']}")
    if data["error_message"]:
        click.echo(f"  {data['error_code']}: {data['error_message']}")
    counts = data["counts"]
    if counts:
        click.echo("  " + ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items()))
    if data["campaign"]:
        click.echo(f"  campaign {data['campaign']}")
    if sent is not None:
        click.echo(
            f"  sent {sent.sent}, dead tokens {sent.invalid_token}, failed {sent.failed}, "
            f"waiting for a retry {sent.retry}"
        )
    elif data.get("queued_for_workers"):
        click.echo("  the pushes are queued for the workers of `ftpush serve` / `ftpush worker`")
    for path in data["result_files"]:
        click.echo(f"  result: {path}")


# --- ftpush imports ------------------------------------------------------------------


@click.group("imports")
def command() -> None:
    """Received files and what became of them."""


@command.command("list")
@click.option("--app", "app_key", required=True, metavar="KEY")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--before", type=int, metavar="ID", help="Older than this import (next page).")
@json_option
@pass_cli
def list_(obj: CliContext, app_key: str, limit: int, before: int | None, as_json: bool) -> None:
    """The app's imports, newest first."""
    with obj.session() as session:
        rows = [
            import_dict(row, None)
            for row in imports.list_imports(session, app_key, limit=limit, before_id=before)
        ]
    if as_json:
        emit_json(rows)
    else:
        emit_table(rows, ["id", "name", "folder", "status", "accepted", "rejected", "received_at"])


@command.command("show")
@click.argument("import_id", type=int, metavar="ID")
@json_option
@pass_cli
def show(obj: CliContext, import_id: int, as_json: bool) -> None:
    """One import: status, counts, progress, errors and result files."""
    data = _load(obj, import_id)
    if as_json:
        emit_json(data)
        return
    for name, value in data.items():
        shown = value
        if name == "counts":
            shown = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif name == "result_files":
            shown = "\n" + "\n".join(f"  {p}" for p in value) if value else "-"
        click.echo(f"{name + ':':<15} {'-' if shown is None else shown}")


@command.command("reprocess")
@click.argument("import_id", type=int, metavar="ID")
@click.option(
    "--app", "app_key", metavar="KEY", help="Refuse unless import ID belongs to this app."
)
@json_option
@pass_cli
def reprocess_(obj: CliContext, import_id: int, app_key: str | None, as_json: bool) -> None:
    """Process import ID's kept content again as a new, forced import.

    Duplicate detection is skipped; the new import is queued for the workers of
    `ftpush serve` / `ftpush worker`, like an upload. Fails when the file is still
    being processed or its content is no longer kept (archive retention).
    """
    settings = obj.settings
    app_id = None
    if app_key is not None:
        with obj.session() as session:
            app_id = apps.get_app(session, app_key).id
    runtime = JobRuntime(settings, obj.db)
    spool = Spool(settings, obj.db, on_received=runtime.queue.enqueue_import)
    try:
        new_id = reprocess(spool, import_id, app_id=app_id, forced_by=f"cli:{_user()}")
    finally:
        spool.close()
        runtime.close()
    data = _load(obj, new_id) | {"reprocess_of": import_id}
    if as_json:
        emit_json(data)
        return
    click.echo(
        f"import {new_id}: reprocess of import {import_id} ({data['name']}): {data['status']}"
    )
    if data["error_message"]:
        click.echo(f"  {data['error_code']}: {data['error_message']}")
    if data["status"] == str(ImportStatus.RECEIVED):
        click.echo("  queued for the workers of `ftpush serve` / `ftpush worker`")

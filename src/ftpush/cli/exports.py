"""``ftpush export``: where an app's reports go, testing it, and the delivery history."""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
from pathlib import Path
from typing import Any

import click

from ftpush.cli.context import CliContext, emit_json, emit_table, json_option, pass_cli
from ftpush.cli.remote_url import parse_remote_url, read_key_file, read_secret_stdin
from ftpush.crypto import SecretBox
from ftpush.errors import InvalidInput
from ftpush.jobs.exports import connection_test, retry_delivery, send_reports
from ftpush.models import ExportFormat, ReportName
from ftpush.pipeline.destinations import (
    DestinationView,
    configure_destination,
    view_of,
)
from ftpush.storage import exports
from ftpush.storage.remotes import RemoteServerSpec
from ftpush.storage.tables import ExportDelivery, ExportRun


@click.group("export")
def command() -> None:
    """Reports delivered to the app's server or dropbox: destination, test, send, history."""


def destination_dict(view: DestinationView) -> dict[str, Any]:
    data: dict[str, Any] = {
        "destination": view.label,
        "kind": view.kind,
        "path": view.path,
        "reports": list(view.reports),
        "format": view.format,
        "delimiter": view.delimiter,
        "schedule_enabled": view.schedule_enabled,
    }
    if view.auth is not None:
        data["auth"] = view.auth
        data["public_key"] = view.public_key  # to install it again
        data["host_key"] = view.host_key_fingerprint
        data["tls_fingerprint"] = view.tls_cert_fingerprint
    return data


def delivery_dict(delivery: ExportDelivery, run: ExportRun) -> dict[str, Any]:
    return dataclasses.asdict(exports.delivery_record(delivery, run))


def _reports(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(exports.normalize_reports([v.strip() for v in value.split(",") if v.strip()]))


@command.command("destination")
@click.option("--app", "app_key", required=True)
@click.option("--url", help="sftp://user@host:port/path, ftps://... or ftp://...")
@click.option("--dropbox", is_flag=True, help="Deliver into the app's own dropbox reports/.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Private key file (SFTP).",
)
@click.option(
    "--generate-key",
    is_flag=True,
    help="SFTP: make a new key pair for this app and print the public key to install there.",
)
@click.option("--host-key", help="Pinned SSH host key fingerprint, SHA256:... (SFTP).")
@click.option("--tls-fingerprint", help="Pinned certificate SHA-256 (FTPS, self-signed).")
@click.option("--no-tls-verify", is_flag=True, help="FTPS: do not verify the certificate.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in ExportFormat]),
    default=ExportFormat.XLSX.value,
    show_default=True,
)
@click.option("--delimiter", default=",", show_default=True, help="CSV: , ; | ~ ^ or tab.")
@click.option("--reports", help="Comma-separated report names (default: all).")
@click.option("--no-schedule", is_flag=True, help="Do not send the reports every night.")
@json_option
@pass_cli
def destination(
    obj: CliContext,
    app_key: str,
    url: str | None,
    dropbox: bool,
    password_stdin: bool,
    key_file: Path | None,
    generate_key: bool,
    host_key: str | None,
    tls_fingerprint: str | None,
    no_tls_verify: bool,
    fmt: str,
    delimiter: str,
    reports: str | None,
    no_schedule: bool,
    as_json: bool,
) -> None:
    """Set where the app's reports go: --url of its server, or --dropbox."""
    if bool(url) == dropbox:
        raise InvalidInput("give either --url or --dropbox", field="url")
    remote: RemoteServerSpec | None = None
    path = "/"
    private_key = read_key_file(key_file) if key_file else None
    if generate_key and key_file:
        raise InvalidInput("give either --key or --generate-key", field="key")
    if url:
        parsed = parse_remote_url(url)
        path = parsed.path
        remote = RemoteServerSpec(
            app_key=app_key,
            name=exports.EXPORT_SERVER_NAME,
            protocol=parsed.protocol,
            host=parsed.host,
            port=parsed.port,
            username=parsed.username,
            password=read_secret_stdin() if password_stdin else None,
            private_key=private_key,
            host_key_fingerprint=host_key,
            tls_verify=not no_tls_verify,
            tls_cert_fingerprint=tls_fingerprint,
        )
    elif password_stdin or private_key or generate_key or host_key or tls_fingerprint:
        raise InvalidInput("credentials are for --url, not --dropbox", field="dropbox")
    spec = exports.DestinationSpec(
        app_key=app_key,
        remote=remote,
        path=path,
        reports=_reports(reports),
        format=ExportFormat(fmt),
        delimiter=delimiter,
        schedule_enabled=not no_schedule,
    )
    box = SecretBox.from_keys_dir(obj.settings.keys_dir)
    data = destination_dict(configure_destination(obj.db, box, spec, generate_key=generate_key))
    if as_json:
        emit_json(data)
        return
    click.echo(f"reports of {app_key} now go to {data['destination']}")
    if generate_key:
        click.echo("add this line to ~/.ssh/authorized_keys of that user on the server:")
        click.echo(data["public_key"])


@command.command("show")
@click.option("--app", "app_key", required=True)
@json_option
@pass_cli
def show(obj: CliContext, app_key: str, as_json: bool) -> None:
    """Show the app's export destination (never its secrets)."""
    box = SecretBox.from_keys_dir(obj.settings.keys_dir)
    with obj.db.read() as session:
        data = destination_dict(view_of(*exports.get_destination(session, app_key), box=box))
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        shown = ",".join(value) if isinstance(value, list) else value
        click.echo(f"{key + ':':<18} {shown}")


@command.command("test")
@click.option("--app", "app_key", required=True)
@click.option(
    "--timeout", type=click.FloatRange(1, 300), default=30.0, show_default=True, help="Seconds."
)
@json_option
@pass_cli
def test(obj: CliContext, app_key: str, timeout: float, as_json: bool) -> None:
    """Test connection: write, rename, check and delete a probe file; exit 1 on failure."""
    result = connection_test(obj.settings, obj.db, app_key, timeout=timeout)
    if as_json:
        emit_json(result.to_json())
    elif result.ok:
        click.echo(f"ok: {result.destination}: {result.message}")
    else:
        click.echo(f"failed ({result.stage}): {result.destination}: {result.message}", err=True)
    if not result.ok:
        raise click.exceptions.Exit(1)


@command.command("list")
@click.option("--app", "app_key", required=True)
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@json_option
@pass_cli
def list_(obj: CliContext, app_key: str, limit: int, as_json: bool) -> None:
    """The app's deliveries, newest first."""
    with obj.session() as session:
        rows = [
            delivery_dict(d, r) for d, r in exports.list_deliveries(session, app_key, limit=limit)
        ]
    if as_json:
        emit_json(rows)
        return
    emit_table(
        rows, ["id", "trigger", "window_start", "file_name", "status", "attempts", "bytes", "error"]
    )


@command.command("send")
@click.option("--app", "app_key", required=True)
@click.option(
    "--report", "reports", multiple=True, metavar="NAME",
    help="A report to send (repeat; default: those the destination receives). "
    + ", ".join(r.value for r in ReportName),
)  # fmt: skip
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), help="First day (app-local).")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last day, up to today.")
@json_option
@pass_cli
def send(
    obj: CliContext,
    app_key: str,
    reports: tuple[str, ...],
    first: dt.datetime | None,
    last: dt.datetime | None,
    as_json: bool,
) -> None:
    """Send reports now (default: yesterday's, app-local) to the app's destination.

    The operator's command is not counted against the app's daily Send limit.
    Exit status 1 when a file could not be delivered (it is retried later).
    """
    result = send_reports(
        obj.settings, obj.db, app_key, list(reports),
        first=first.date() if first else None, last=last.date() if last else None,
        requested_by=f"cli:{_user()}", unlimited=True,
    )  # fmt: skip
    deliveries = [
        {"file_name": d.file_name, "status": str(d.status), "bytes": d.size, "sha256": d.sha256,
         "error": d.error}
        for d in result.run.deliveries
    ]  # fmt: skip
    if as_json:
        emit_json({"run_id": result.run.run_id, "files": result.files, "rows": result.rows,
                   "ok": result.run.ok, "deliveries": deliveries})  # fmt: skip
    else:
        for d in deliveries:
            click.echo(f"{d['status']:<10} {d['file_name']} ({d['bytes']} bytes)"
                       + (f": {d['error']}" if d["error"] else ""))  # fmt: skip
        click.echo(f"{result.files} files, {result.rows} rows, run {result.run.run_id}")
    if not result.run.ok:
        click.get_current_context().exit(1)


@command.command("retry")
@click.option("--app", "app_key", required=True)
@click.argument("delivery_id", type=click.IntRange(min=1))
@json_option
@pass_cli
def retry(obj: CliContext, app_key: str, delivery_id: int, as_json: bool) -> None:
    """Retry a failed delivery now: one attempt with the file kept; exit 1 if it fails again."""
    retry_delivery(obj.settings, obj.db, app_key, delivery_id)
    with obj.session() as session:
        data = delivery_dict(*exports.get_app_delivery(session, app_key, delivery_id))
    if as_json:
        emit_json(data)
    else:
        click.echo(
            f"{data['status']:<10} {data['file_name']} (attempt {data['attempts']})"
            + (f": {data['error']}" if data["error"] else "")
        )
    if data["status"] != "delivered":
        raise click.exceptions.Exit(1)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"

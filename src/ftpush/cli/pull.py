"""``ftpush pull``: pull mode, importing files from a customer's own server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from ftpush.cli.context import CliContext, emit_json, json_option, pass_cli
from ftpush.cli.remote_url import parse_remote_url, read_key_file, read_secret_stdin
from ftpush.crypto import SecretBox
from ftpush.intake.poller import Poller, PollSummary
from ftpush.intake.spool import Spool
from ftpush.storage import remotes
from ftpush.storage.remotes import RemoteServerSpec
from ftpush.storage.tables import RemoteServer

SERVER_NAME = "pull"


@click.group("pull")
def command() -> None:
    """Pull mode: poll a customer's server for files to import."""


def server_dict(server: RemoteServer) -> dict[str, Any]:
    return {
        "name": server.name,
        "url": f"{server.protocol}://{server.username}@{server.host}:{server.port}"
        f"{server.import_path or '/'}",
        "enabled": server.import_enabled,
        "move_processed": server.move_processed,
        "auth": "key" if server.private_key_encrypted else "password",
        "host_key": server.host_key_fingerprint,
        "tls_verify": server.tls_verify,
        "tls_fingerprint": server.tls_cert_fingerprint,
    }


@command.command("configure")
@click.option("--app", "app_key", required=True)
@click.option("--url", required=True, help="sftp://user@host:port/path, ftps://... or ftp://...")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Private key file (SFTP).",
)
@click.option("--host-key", help="Pinned SSH host key fingerprint, SHA256:... (SFTP).")
@click.option("--tls-fingerprint", help="Pinned certificate SHA-256 (FTPS, self-signed).")
@click.option("--no-tls-verify", is_flag=True, help="FTPS: do not verify the certificate.")
@click.option("--move-processed", is_flag=True, help="Move taken files to processed/.")
@json_option
@pass_cli
def configure(
    obj: CliContext,
    app_key: str,
    url: str,
    password_stdin: bool,
    key_file: Path | None,
    host_key: str | None,
    tls_fingerprint: str | None,
    no_tls_verify: bool,
    move_processed: bool,
    as_json: bool,
) -> None:
    """Poll URL for the app's files (enables pull mode)."""
    parsed = parse_remote_url(url)
    spec = RemoteServerSpec(
        app_key=app_key,
        name=SERVER_NAME,
        protocol=parsed.protocol,
        host=parsed.host,
        port=parsed.port,
        username=parsed.username,
        password=read_secret_stdin() if password_stdin else None,
        private_key=read_key_file(key_file) if key_file else None,
        host_key_fingerprint=host_key,
        tls_verify=not no_tls_verify,
        tls_cert_fingerprint=tls_fingerprint,
        import_path=parsed.path,
        import_enabled=True,
        move_processed=move_processed,
    )
    box = SecretBox.from_keys_dir(obj.settings.keys_dir)
    with obj.session() as session:
        data = server_dict(remotes.save_remote_server(session, box, spec))
    if as_json:
        emit_json(data)
    else:
        click.echo(f"app {app_key} now pulls from {data['url']}")


@command.command("show")
@click.option("--app", "app_key", required=True)
@json_option
@pass_cli
def show(obj: CliContext, app_key: str, as_json: bool) -> None:
    """Show the app's pull settings (never its secrets)."""
    with obj.session() as session:
        data = server_dict(remotes.get_remote_server(session, app_key, SERVER_NAME))
    if as_json:
        emit_json(data)
    else:
        for key, value in data.items():
            click.echo(f"{key + ':':<16} {value}")


@command.command("disable")
@click.option("--app", "app_key", required=True)
@pass_cli
def disable(obj: CliContext, app_key: str) -> None:
    """Stop polling the app's server (its settings are kept)."""
    with obj.session() as session:
        remotes.get_remote_server(session, app_key, SERVER_NAME).import_enabled = False
    click.echo(f"pull mode of {app_key} is off")


@command.command("now")
@click.option(
    "--settle",
    type=click.FloatRange(0, 600),
    default=2.0,
    show_default=True,
    help="Seconds between the two looks that prove a file stopped growing.",
)
@json_option
@pass_cli
def now(obj: CliContext, settle: float, as_json: bool) -> None:
    """Poll every pull-mode server now: look twice, take the files that did not change."""
    settings, db = obj.settings, obj.db
    spool = Spool(settings, db)
    try:
        poller = Poller(settings, db, spool, SecretBox.from_keys_dir(settings.keys_dir))

        async def twice() -> PollSummary:
            first = await poller.poll_once()
            await asyncio.sleep(settle)
            second = await poller.poll_once()
            second.taken[:0] = first.taken
            second.results_uploaded[:0] = first.results_uploaded
            return second

        summary = asyncio.run(twice())
        spool.wait_idle()
    finally:
        spool.close()
    data = {"taken": summary.taken, "results": summary.results_uploaded, "errors": summary.errors}
    if as_json:
        emit_json(data)
        return
    for path in summary.taken:
        click.echo(f"taken {path}")
    for error in summary.errors:
        click.echo(f"error: {error}", err=True)

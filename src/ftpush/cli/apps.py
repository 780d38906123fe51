"""``ftpush app``: create, list, show apps and switch their FTP offer."""

from __future__ import annotations

from typing import Any

import click

from ftpush.cli.context import CliContext, emit_json, emit_table, json_option, pass_cli
from ftpush.storage import apps
from ftpush.storage.tables import App


def app_dict(app: App) -> dict[str, Any]:
    return {
        "key": app.key,
        "name": app.name,
        "timezone": app.timezone,
        "ftp_enabled": app.ftp_enabled,
        "inbox_enabled": app.inbox_enabled,
        "created_at": app.created_at.isoformat(),
    }


@click.group("app")
def command() -> None:
    """Apps: the customers' applications."""


@command.command("create")
@click.argument("key")
@click.option("--name", help="Display name (default: the key).")
@click.option("--timezone", default="UTC", show_default=True, help="IANA timezone.")
@json_option
@pass_cli
def create(obj: CliContext, key: str, name: str | None, timezone: str, as_json: bool) -> None:
    """Create the app KEY (lowercase letters, digits, '-')."""
    with obj.session() as session:
        app = apps.create_app(session, key=key, name=name, timezone=timezone)
        data = app_dict(app)
    if as_json:
        emit_json(data)
    else:
        click.echo(f"created app {key} ({data['name']}, {timezone}); FTP offer on")


@command.command("list")
@json_option
@pass_cli
def list_(obj: CliContext, as_json: bool) -> None:
    """List every app."""
    with obj.session() as session:
        rows = [app_dict(a) for a in apps.list_apps(session)]
    if as_json:
        emit_json(rows)
    else:
        emit_table(rows, ["key", "name", "timezone", "ftp_enabled"])


@command.command("show")
@click.argument("key")
@json_option
@pass_cli
def show(obj: CliContext, key: str, as_json: bool) -> None:
    """Show one app."""
    with obj.session() as session:
        data = app_dict(apps.get_app(session, key))
    if as_json:
        emit_json(data)
    else:
        for field, value in data.items():
            click.echo(f"{field + ':':<15} {value}")


def _switch(obj: CliContext, key: str, enabled: bool) -> None:
    with obj.session() as session:
        apps.set_ftp_enabled(session, key, enabled)
    click.echo(f"FTP offer of {key} is now {'on' if enabled else 'off'}")


@command.command("enable-ftp")
@click.argument("key")
@pass_cli
def enable_ftp(obj: CliContext, key: str) -> None:
    """Switch the FTP offer on: logins, pull polling and nightly exports."""
    _switch(obj, key, True)


@command.command("disable-ftp")
@click.argument("key")
@pass_cli
def disable_ftp(obj: CliContext, key: str) -> None:
    """Switch the FTP offer off: logins refused, pollers and exports stop."""
    _switch(obj, key, False)

"""``ftpush db``: the database schema."""

from __future__ import annotations

import click

from ftpush.cli.context import CliContext, emit_json, json_option, pass_cli
from ftpush.config import mask_url
from ftpush.storage import Database, migrate
from ftpush.storage.engine import make_engine


@click.group("db")
def command() -> None:
    """Database schema management."""


@command.command("upgrade")
@pass_cli
def upgrade(obj: CliContext) -> None:
    """Apply every pending migration."""
    db = Database.open(obj.settings, upgrade=True)
    try:
        revision = migrate.current_revision(db.engine)
    finally:
        db.close()
    click.echo(f"database {mask_url(obj.settings.database_url())} is at revision {revision}")


@command.command("status")
@json_option
@pass_cli
def status(obj: CliContext, as_json: bool) -> None:
    """Show the schema revision of the database and of the code."""
    db = Database(make_engine(obj.settings))
    try:
        current = migrate.current_revision(db.engine)
    finally:
        db.close()
    head = migrate.head_revision()
    if as_json:
        emit_json({"current": current, "head": head, "up_to_date": current == head})
    else:
        click.echo(f"database at {current or 'nothing'}, code at {head}")

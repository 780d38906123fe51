"""What every subcommand gets as ``ctx.obj``: the settings and a lazy database.

Commands never build engines themselves; they ask the context, which opens
the database once (upgrading the schema if allowed) and closes it on exit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ftpush.config import Settings
from ftpush.storage import Database, Session


class CliContext:
    """Settings plus the database, opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database.open(self.settings)
        return self._db

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on error."""
        with self.db.transaction() as session:
            yield session

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


pass_cli = click.make_pass_decorator(CliContext)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of text."
)


def emit_json(data: Any) -> None:
    """Print one JSON document (sorted keys, ISO dates) to stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str, ensure_ascii=False))


def emit_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Print rows as aligned columns, or a note when there are none."""
    if not rows:
        click.echo("(none)")
        return
    widths = {c: max(len(c), *(len(_cell(r[c])) for r in rows)) for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        click.echo("  ".join(_cell(row[c]).ljust(widths[c]) for c in columns).rstrip())


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    return "-" if value is None else str(value)

"""``ftpush admin``: panel administrators."""

from __future__ import annotations

import sys

import click

from ftpush.cli.context import CliContext, pass_cli
from ftpush.errors import InvalidInput
from ftpush.models import Role
from ftpush.storage import panel_users


@click.group("admin")
def command() -> None:
    """Panel administrators (they see every app)."""


def read_new_password() -> str:
    """Prompt twice on a terminal; read one line from a pipe otherwise."""
    if sys.stdin.isatty():
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    line = sys.stdin.readline()
    if not line:
        raise InvalidInput("no password on standard input", field="password")
    return line.rstrip("\r\n")


@command.command("create")
@click.argument("username")
@pass_cli
def create(obj: CliContext, username: str) -> None:
    """Create admin USERNAME; the password is prompted for, or read from stdin."""
    password = read_new_password()
    with obj.session() as session:
        panel_users.create_panel_user(
            session, username=username, password=password, role=Role.ADMIN
        )
    click.echo(f"created admin {username}")

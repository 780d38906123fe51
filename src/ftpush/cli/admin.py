"""``ftpush admin``: panel users — administrators, and the members of an app."""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from ftpush.cli.context import CliContext, emit_json, emit_table, json_option, pass_cli
from ftpush.errors import InvalidInput
from ftpush.models import Role
from ftpush.storage import panel_users


@click.group("admin")
def command() -> None:
    """Panel users: administrators (every app) and app members (one app)."""


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


@command.command("create-member")
@click.argument("username")
@click.option("--app", "app_key", required=True, help="The one app the member sees.")
@json_option
@pass_cli
def create_member(obj: CliContext, username: str, app_key: str, as_json: bool) -> None:
    """Create USERNAME, a member of app --app; prints the generated password once."""
    with obj.session() as session:
        _user, password = panel_users.create_member(session, username=username, app_key=app_key)
    if as_json:
        emit_json({"username": username, "role": "member", "app": app_key, "password": password})
        return
    click.echo(f"created member {username} of app {app_key}")
    click.echo(f"password: {password}")
    click.echo("(shown once: it is stored only as a hash; they can change it in the panel)")


@command.command("list")
@click.option("--app", "app_key", help="Only the members of this app.")
@json_option
@pass_cli
def list_(obj: CliContext, app_key: str | None, as_json: bool) -> None:
    """List panel users (never their passwords)."""
    with obj.db.read() as session:
        rows = [asdict(u) for u in panel_users.list_panel_users(session, app_key)]
    if as_json:
        emit_json(rows)
    else:
        emit_table(rows, ["username", "role", "app_key", "enabled", "last_login_at"])


@command.command("disable")
@click.argument("username")
@pass_cli
def disable(obj: CliContext, username: str) -> None:
    """Disable panel user USERNAME: their sessions end now, their logins are refused."""
    with obj.session() as session:
        ended = panel_users.set_panel_user_enabled(session, username, False)
    click.echo(f"disabled {username} ({ended} session{'s' if ended != 1 else ''} ended)")


@command.command("enable")
@click.argument("username")
@pass_cli
def enable(obj: CliContext, username: str) -> None:
    """Enable panel user USERNAME again."""
    with obj.session() as session:
        panel_users.set_panel_user_enabled(session, username, True)
    click.echo(f"enabled {username}")


@command.command("remove")
@click.argument("username")
@pass_cli
def remove(obj: CliContext, username: str) -> None:
    """Delete panel user USERNAME and end their sessions."""
    with obj.session() as session:
        panel_users.remove_panel_user(session, username)
    click.echo(f"removed {username}")

"""``ftpush account``: FTP accounts of an app's dropbox."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from ftpush.cli.context import CliContext, emit_json, emit_table, json_option, pass_cli
from ftpush.errors import InvalidInput
from ftpush.storage import accounts


@click.group("account")
def command() -> None:
    """FTP accounts (platform-hosted logins)."""


def _read_keys(paths: tuple[Path, ...]) -> list[str]:
    lines: list[str] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read SSH key file {path}: {exc}", field="ssh_key") from None
        found = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        if not found:
            raise InvalidInput(f"SSH key file {path} holds no key", field="ssh_key")
        lines.extend(found)
    return lines


@command.command("add")
@click.option("--app", "app_key", required=True, help="The app whose dropbox it opens.")
@click.argument("username")
@click.option(
    "--ssh-key",
    "ssh_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File with an OpenSSH public key (repeatable).",
)
@click.option(
    "--allow", "cidrs", multiple=True, help="CIDR allowed to log in (repeatable; none = nobody)."
)
@json_option
@pass_cli
def add(
    obj: CliContext,
    app_key: str,
    username: str,
    ssh_keys: tuple[Path, ...],
    cidrs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create USERNAME and print its generated password once."""
    key_lines = _read_keys(ssh_keys)
    with obj.session() as session:
        account, password = accounts.add_account(
            session, app_key=app_key, username=username, ssh_keys=key_lines, cidrs=cidrs
        )
        networks = accounts.networks_of(session, account.id)
    if as_json:
        emit_json(
            {"username": username, "app": app_key, "password": password, "networks": networks}
        )
        return
    click.echo(f"created account {username} for app {app_key}")
    click.echo(f"password: {password}")
    click.echo("(shown once: it is stored only as a hash)")
    if not networks:
        click.echo(
            f"note: no --allow given, so nobody can log in yet: "
            f"ftpush account allow-ip {username} CIDR",
            err=True,
        )


@command.command("list")
@click.option("--app", "app_key", required=True)
@json_option
@pass_cli
def list_(obj: CliContext, app_key: str, as_json: bool) -> None:
    """List the accounts of an app (never their passwords)."""
    with obj.session() as session:
        rows = [asdict(v) for v in accounts.list_accounts(session, app_key)]
    if as_json:
        emit_json(rows)
    else:
        emit_table(rows, ["username", "enabled", "networks", "ssh_keys"])


@command.command("remove")
@click.argument("username")
@pass_cli
def remove(obj: CliContext, username: str) -> None:
    """Delete an account; its sessions can no longer log in."""
    with obj.session() as session:
        accounts.remove_account(session, username)
    click.echo(f"removed account {username}")


@command.command("allow-ip")
@click.argument("username")
@click.argument("cidr")
@pass_cli
def allow_ip(obj: CliContext, username: str, cidr: str) -> None:
    """Allow logins of USERNAME from CIDR (IPv4 or IPv6)."""
    with obj.session() as session:
        network = accounts.allow_ip(session, username, cidr)
    click.echo(f"{username} may now log in from {network}")


@command.command("add-key")
@click.argument("username")
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_cli
def add_key(obj: CliContext, username: str, key_file: Path) -> None:
    """Authorise the SSH public key(s) in KEY_FILE for USERNAME."""
    with obj.session() as session:
        prints = [accounts.add_ssh_key(session, username, ln) for ln in _read_keys((key_file,))]
    for fingerprint in prints:
        click.echo(f"added key {fingerprint} to {username}")

"""``ftpush device`` and ``ftpush user``: the people and phones pushes go to."""

from __future__ import annotations

from typing import Any

import click

from ftpush.cli.context import CliContext, emit_json, json_option, pass_cli
from ftpush.models import Platform
from ftpush.storage import users
from ftpush.storage.tables import Device, InboxEntry


def device_dict(device: Device) -> dict[str, Any]:
    return {
        "token": device.token,
        "platform": str(device.platform),
        "app_version": device.app_version,
        "os_version": device.os_version,
        "push_permission": device.push_permission,
        "token_state": str(device.token_state),
        "installed_at": device.installed_at.isoformat(),
        "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
    }


def inbox_dict(entry: InboxEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "text": entry.text,
        "deeplink": entry.deeplink,
        "status": str(entry.status),
        "created_at": entry.created_at.isoformat(),
    }


@click.group("device")
def device_command() -> None:
    """Devices (push tokens)."""


@device_command.command("add")
@click.option("--app", "app_key", required=True)
@click.option("--external-id", required=True, help="The user the device belongs to.")
@click.option("--token", required=True, help="The APNs or FCM token.")
@click.option(
    "--platform",
    type=click.Choice([p.value for p in Platform]),
    help="Default: ios for 64 hex characters, android otherwise.",
)
@click.option("--app-version")
@json_option
@pass_cli
def device_add(
    obj: CliContext,
    app_key: str,
    external_id: str,
    token: str,
    platform: str | None,
    app_version: str | None,
    as_json: bool,
) -> None:
    """Register (or update) a device for a user, creating the user if needed."""
    with obj.session() as session:
        device = users.register_device(
            session,
            app_key=app_key,
            token=token,
            external_id=external_id,
            platform=platform,
            app_version=app_version,
        )
        data = device_dict(device)
    if as_json:
        emit_json(data)
    else:
        click.echo(f"device {data['platform']} {token[:12]}… belongs to {external_id}")


@click.group("user")
def user_command() -> None:
    """Users (by external ID)."""


@user_command.command("show")
@click.option("--app", "app_key", required=True)
@click.argument("external_id")
@json_option
@pass_cli
def user_show(obj: CliContext, app_key: str, external_id: str, as_json: bool) -> None:
    """Show a user's profile, devices and inbox."""
    with obj.session() as session:
        found = users.profile(session, app_key, external_id)
        data: dict[str, Any] = {
            "external_id": found.user.external_id,
            "email": found.user.email,
            "msisdn": found.user.msisdn,
            "attributes": found.user.attributes or {},
            "updated_at": found.user.updated_at.isoformat(),
            "devices": [device_dict(d) for d in found.devices],
            "inbox": [inbox_dict(e) for e in found.inbox],
        }
    if as_json:
        emit_json(data)
        return
    click.echo(f"user {data['external_id']}")
    for key in ("email", "msisdn"):
        click.echo(f"  {key:<10} {data[key] or '-'}")
    for name, value in sorted(data["attributes"].items()):
        click.echo(f"  {name:<10} {value!r}")
    click.echo(f"devices ({len(data['devices'])})")
    for d in data["devices"]:
        click.echo(f"  {d['platform']:<8} {d['token'][:16]}…  {d['token_state']}")
    click.echo(f"inbox ({len(data['inbox'])})")
    for e in data["inbox"]:
        first = e["text"].splitlines()[0] if e["text"] else ""
        click.echo(f"  [{e['status']}] {first}")

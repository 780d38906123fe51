"""``ftpush campaign list|show|cancel|send``: sends and their figures."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from ftpush.cli.context import CliContext, emit_json, emit_table, json_option, pass_cli
from ftpush.crypto import SecretBox
from ftpush.jobs.runtime import JobRuntime
from ftpush.pipeline.dispatch import Dispatcher, DispatchSummary
from ftpush.pipeline.providers import StoredProviders
from ftpush.pipeline.transactional import SendRequest, send_to_users
from ftpush.storage import apps, ledger
from ftpush.storage.tables import Campaign


def campaign_dict(campaign: Campaign, figures: dict[str, int] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "msg_id": campaign.msg_id,
        "type": str(campaign.type),
        "name": campaign.name,
        "status": str(campaign.status),
        "import_id": campaign.import_file_id,
        "created_at": campaign.created_at.isoformat(),
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
        "cancelled_at": campaign.cancelled_at.isoformat() if campaign.cancelled_at else None,
    }
    if figures is not None:
        data["figures"] = figures
    return data


@click.group("campaign")
def command() -> None:
    """Campaigns: one per push file, transactional or automated send."""


@command.command("list")
@click.option("--app", "app_key", required=True, metavar="KEY")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
@pass_cli
def list_(obj: CliContext, app_key: str, limit: int, as_json: bool) -> None:
    """The app's campaigns, newest first, with their figures."""
    with obj.session() as session:
        app = apps.get_app(session, app_key)
        rows = [
            campaign_dict(c, ledger.campaign_figures(session, c.id))
            for c in ledger.list_campaigns(session, app.id, limit=limit)
        ]
    if as_json:
        emit_json(rows)
        return
    flat = [
        {**{k: r[k] for k in ("msg_id", "type", "name", "status")}, **r["figures"]} for r in rows
    ]
    emit_table(flat, ["msg_id", "type", "name", "status", "messages", "sent", "failed", "clicked"])


@command.command("show")
@click.argument("msg_id", metavar="MSGID")
@json_option
@pass_cli
def show(obj: CliContext, msg_id: str, as_json: bool) -> None:
    """One campaign and its figures: lines, messages by status, clicks, inbox entries."""
    with obj.session() as session:
        campaign = ledger.get_campaign(session, msg_id)
        data = campaign_dict(campaign, ledger.campaign_figures(session, campaign.id))
        data["app"] = apps.get_app_by_id(session, campaign.app_id).key
    if as_json:
        emit_json(data)
        return
    figures = data.pop("figures")
    for name, value in data.items():
        click.echo(f"{name + ':':<15} {'-' if value is None else value}")
    for name, value in figures.items():
        click.echo(f"  {name + ':':<15} {value}")


@command.command("cancel")
@click.argument("msg_id", metavar="MSGID")
@json_option
@pass_cli
def cancel(obj: CliContext, msg_id: str, as_json: bool) -> None:
    """Stop a campaign: its messages not yet sent become cancelled."""
    with obj.session() as session:
        campaign = ledger.get_campaign(session, msg_id)
        cancelled = ledger.cancel_campaign(session, campaign.id)
    if as_json:
        emit_json({"msg_id": msg_id, "cancelled": cancelled})
    else:
        click.echo(f"campaign {msg_id} cancelled: {cancelled} messages will not be sent")


def send_now(obj: CliContext, msg_id: str, *, quiet: bool) -> DispatchSummary:
    with obj.session() as session:
        campaign_id = ledger.get_campaign(session, msg_id).id
    if not quiet:
        click.echo(f"sending campaign {msg_id}…", err=True)
    resolver = StoredProviders(obj.settings, obj.db, SecretBox.from_keys_dir(obj.settings.keys_dir))

    async def run() -> DispatchSummary:
        try:
            return await Dispatcher(obj.settings, obj.db, resolver).run_campaign(campaign_id)
        finally:
            await resolver.aclose()

    return asyncio.run(run())


@command.command("send")
@click.option("--app", "app_key", required=True, metavar="KEY")
@click.option("--to", "external_ids", multiple=True, required=True, metavar="ID",
              help="A recipient's external ID (repeat, up to 1000).")  # fmt: skip
@click.option("--text", required=True, help="The message (a real line break is allowed).")
@click.option("--deeplink", help="An absolute URI opened by the notification.")
@click.option("--inbox/--no-inbox", default=True, show_default=True,
              help="Also write an Inbox entry per user.")  # fmt: skip
@click.option("--automated", is_flag=True,
              help="Count it as an automated campaign (sent by an outside system).")  # fmt: skip
@click.option("--now", "send_here", is_flag=True,
              help="Send from this process instead of leaving it to the workers.")  # fmt: skip
@json_option
@pass_cli
def send(
    obj: CliContext,
    app_key: str,
    external_ids: tuple[str, ...],
    text: str,
    deeplink: str | None,
    inbox: bool,
    automated: bool,
    send_here: bool,
    as_json: bool,
) -> None:
    """A transactional push to some users, through the same ledger as a push file."""
    request = SendRequest(list(external_ids), text, deeplink, inbox=inbox, automated=automated)
    runtime = None if send_here else JobRuntime(obj.settings, obj.db)
    result = send_to_users(
        obj.db, app_key, request,
        on_campaign_ready=runtime.queue.enqueue_dispatch if runtime else None,
    )  # fmt: skip
    data: dict[str, Any] = {
        "msg_id": result.msg_id, "recipients": result.recipients,
        "unknown_user": result.unknown_user, "no_device": result.no_device,
        "messages": result.messages, "inbox_entries": result.inbox_entries,
    }  # fmt: skip
    if send_here:
        data["sent"] = vars(send_now(obj, result.msg_id, quiet=as_json))
    if as_json:
        emit_json(data)
        return
    click.echo(
        f"campaign {result.msg_id}: {result.recipients} users, {result.messages} messages, "
        f"{result.unknown_user} unknown, {result.no_device} without a device"
    )
    if send_here:
        click.echo(f"  sent {data['sent']['sent']}, failed {data['sent']['failed']}")

"""``ftpush campaign list|show|cancel``: sends and their figures."""

from __future__ import annotations

from typing import Any

import click

from ftpush.cli.context import CliContext, emit_json, emit_table, json_option, pass_cli
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

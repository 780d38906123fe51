"""`/campaigns`: campaigns (file, transactional, automated) and their figures."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from ftpush.storage import ledger
from ftpush.storage.tables import Campaign
from ftpush.web.auth import AppCaller, Db
from ftpush.web.pagination import Cursor, Limit, Page, decode_cursor, next_cursor

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

MsgId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


class Figures(BaseModel):
    lines: int
    unknown_user: int
    no_device: int
    messages: int
    pending: int
    leased: int
    sent: int
    failed: int
    invalid_token: int
    cancelled: int
    clicked: int
    inbox_entries: int


class CampaignOut(BaseModel):
    msg_id: str
    type: str
    name: str
    status: str
    import_id: int | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    figures: Figures


def campaign_out(campaign: Campaign, figures: dict[str, int]) -> CampaignOut:
    return CampaignOut(
        msg_id=campaign.msg_id,
        type=str(campaign.type),
        name=campaign.name,
        status=str(campaign.status),
        import_id=campaign.import_file_id,
        created_at=campaign.created_at,
        started_at=campaign.started_at,
        finished_at=campaign.finished_at,
        cancelled_at=campaign.cancelled_at,
        figures=Figures(**figures),
    )


@router.get("", summary="The app's campaigns, newest first, with their figures")
def list_campaigns(
    caller: AppCaller, db: Db, limit: Limit = 50, cursor: Cursor = None
) -> Page[CampaignOut]:
    with db.read() as session:
        rows = ledger.list_campaigns(
            session, caller.app_id, limit=limit, before_id=decode_cursor(cursor)
        )
        items = [campaign_out(c, ledger.campaign_figures(session, c.id)) for c in rows]
        ids = [c.id for c in rows]
    return Page[CampaignOut](items=items, next_cursor=next_cursor(ids, limit))


@router.get("/{msg_id}", summary="One campaign and its figures")
def get_campaign(caller: AppCaller, db: Db, msg_id: MsgId) -> CampaignOut:
    with db.read() as session:
        campaign = ledger.get_campaign(session, msg_id, app_id=caller.app_id)
        return campaign_out(campaign, ledger.campaign_figures(session, campaign.id))


class Cancelled(BaseModel):
    msg_id: str
    cancelled: int  # messages that will not be sent


@router.post("/{msg_id}/cancel", summary="Stop a campaign: what is not sent yet is cancelled")
def cancel_campaign(caller: AppCaller, db: Db, msg_id: MsgId) -> Cancelled:
    with db.transaction() as session:
        campaign = ledger.get_campaign(session, msg_id, app_id=caller.app_id)
        return Cancelled(msg_id=msg_id, cancelled=ledger.cancel_campaign(session, campaign.id))

"""`/push`: transactional and automated pushes to up to 1000 users by external ID.

The request takes the road of a push file's line (:mod:`ftpush.pipeline.transactional`):
a campaign, one message per push-enabled device, an inbox entry per known user, and a
dispatch task on the queue the workers consume. The answer comes once the campaign is
committed, before anything is sent (202); its figures are at ``/campaigns/{msg_id}``.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from ftpush.models import CampaignType
from ftpush.pipeline.transactional import MAX_RECIPIENTS, SendRequest, send_to_users
from ftpush.web.auth import AppCaller, Db
from ftpush.web.services import Queue

router = APIRouter(prefix="/push", tags=["push"])


class PushIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_ids: list[str] = Field(
        min_length=1,
        max_length=MAX_RECIPIENTS,
        description="The recipients (1-1000); repeats are sent once.",
        examples=[["12345", "67890"]],
    )
    text: str = Field(
        min_length=1,
        max_length=4096,
        description="The notification text; with the deeplink it must fit 4 KB.",
    )
    deeplink: str | None = Field(
        default=None, max_length=2048, description="An absolute URI (`https://…`, `myapp://…`)."
    )
    inbox: bool | None = Field(
        default=None,
        description="Write an inbox entry per user (default: the app's Inbox setting, on).",
    )
    automated: bool = Field(
        default=False,
        description="Triggered by the customer's automation: an `automated` campaign "
        "instead of a `transactional` one.",
    )
    name: str | None = Field(
        default=None, max_length=255, description="Campaign name shown in lists and reports."
    )


class PushOut(BaseModel):
    msg_id: str = Field(description="The campaign; its figures: `GET /api/v1/campaigns/{msg_id}`.")
    type: str
    recipients: int = Field(description="Distinct external IDs.")
    unknown_user: int
    no_device: int
    messages: int = Field(description="One per push-enabled device, queued for sending.")
    inbox_entries: int


@router.post(
    "",
    status_code=202,
    summary="Send a text to up to 1000 users (a transactional or automated campaign)",
)
def push(body: PushIn, caller: AppCaller, db: Db, queue: Queue, response: Response) -> PushOut:
    request = SendRequest(
        external_ids=body.external_ids,
        text=body.text,
        deeplink=body.deeplink or None,
        inbox=caller.inbox_enabled if body.inbox is None else body.inbox,
        automated=body.automated,
        name=body.name or None,
    )
    result = send_to_users(db, caller.app_key, request, on_campaign_ready=queue.enqueue_dispatch)
    response.headers["Location"] = f"/api/v1/campaigns/{result.msg_id}"
    return PushOut(
        msg_id=result.msg_id,
        type=str(CampaignType.AUTOMATED if body.automated else CampaignType.TRANSACTIONAL),
        recipients=result.recipients,
        unknown_user=result.unknown_user,
        no_device=result.no_device,
        messages=result.messages,
        inbox_entries=result.inbox_entries,
    )

"""Sends not tied to a file: a text to up to 1000 users by external ID.

The REST API's transactional push (SPEC §7) and campaigns triggered by outside
automation both come here and then take the file path's road: a campaign, one
campaign line per recipient, one message per device in the ledger, an inbox
entry per user (unless switched off), and a dispatch task. The same rules as a
push file's line apply to the text and the Deeplink.

Example::

    result = send_to_users(db, "demo", SendRequest(["12345"], "Your parcel is here"),
                           on_campaign_ready=queue.enqueue_dispatch)
    result.msg_id   # "m3f0c..."
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ftpush.errors import InvalidInput
from ftpush.formats.deeplinks import DEFAULT_MAX_PAYLOAD_BYTES, is_deeplink, payload_bytes
from ftpush.models import CampaignType
from ftpush.storage import Database, apps, ledger
from ftpush.storage.ledger import LineInput

MAX_RECIPIENTS = 1000
MAX_EXTERNAL_ID = 255


@dataclass(frozen=True)
class SendRequest:
    external_ids: Sequence[str]
    text: str
    deeplink: str | None = None
    inbox: bool = True
    automated: bool = False  # triggered by the customer's automation, not a person
    name: str | None = None


@dataclass(frozen=True)
class SendResult:
    msg_id: str
    campaign_id: int
    recipients: int
    unknown_user: int
    no_device: int
    messages: int
    inbox_entries: int


def check_request(request: SendRequest) -> list[str]:
    """The recipients without repeats, in order; InvalidInput names the bad field."""
    ids = request.external_ids
    if isinstance(ids, str) or not ids:
        raise InvalidInput("give 1 to 1000 external IDs", field="external_ids")
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_RECIPIENTS:
        raise InvalidInput(
            f"{len(unique)} external IDs; at most {MAX_RECIPIENTS} per send", field="external_ids"
        )
    for index, ext in enumerate(unique):
        if not isinstance(ext, str) or not ext.strip() or ext != ext.strip():
            raise InvalidInput(
                f"external ID #{index + 1} is empty or has spaces around it",
                field="external_ids",
            )
        if len(ext) > MAX_EXTERNAL_ID or not ext.isprintable():
            raise InvalidInput(
                f"external ID #{index + 1} is longer than {MAX_EXTERNAL_ID} characters "
                "or has control characters",
                field="external_ids",
            )
    if not isinstance(request.text, str) or not request.text.strip():
        raise InvalidInput("the text is empty", field="text")
    if request.deeplink is not None and not is_deeplink(request.deeplink):
        raise InvalidInput(
            "the deeplink must be an absolute URI (scheme:...), without spaces", field="deeplink"
        )
    size = payload_bytes(request.text, request.deeplink)
    if size > DEFAULT_MAX_PAYLOAD_BYTES:
        raise InvalidInput(
            f"text and deeplink make a {size}-byte payload; the limit is "
            f"{DEFAULT_MAX_PAYLOAD_BYTES}",
            field="text",
        )
    return unique


def send_to_users(
    db: Database,
    app_key: str,
    request: SendRequest,
    *,
    on_campaign_ready: Callable[[int], None] | None = None,
) -> SendResult:
    """Write the campaign and its ledger rows in one transaction, then queue the send."""
    recipients = check_request(request)
    kind = CampaignType.AUTOMATED if request.automated else CampaignType.TRANSACTIONAL
    deeplink = request.deeplink or None
    with db.transaction() as session:
        app = apps.get_app(session, app_key)
        name = request.name or f"{kind} send to {len(recipients)} users"
        campaign = ledger.create_campaign(session, app.id, kind, name[:255])
        lines = [
            LineInput(number, ext, request.text, deeplink)
            for number, ext in enumerate(recipients, start=1)
        ]
        counts = ledger.write_lines(session, campaign, app, lines, inbox=request.inbox)
        result = SendResult(
            msg_id=campaign.msg_id,
            campaign_id=campaign.id,
            recipients=len(recipients),
            unknown_user=counts.unknown_user,
            no_device=counts.no_device,
            messages=counts.messages,
            inbox_entries=counts.inbox,
        )
    if on_campaign_ready is not None:
        on_campaign_ready(result.campaign_id)
    return result

"""Transactional and automated sends: checked like a file's line, then the ledger's road."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from ftpush.errors import InvalidInput
from ftpush.models import CampaignType
from ftpush.pipeline.dispatch import Dispatcher
from ftpush.pipeline.transactional import SendRequest, send_to_users
from ftpush.push.log import LogProvider
from ftpush.storage import ledger
from ftpush.storage.tables import Campaign
from tests.integration.intake.conftest import Intake
from tests.integration.pipeline.test_push_import import seed_users


def test_a_send_reaches_every_device_once_and_the_inbox(intake: Intake) -> None:
    seed_users(intake.db)
    queued: list[int] = []
    result = send_to_users(
        intake.db, "alpha",
        SendRequest(["u1", "u3", "u1", "ghost", "u2"], "Parcel\nhere", "myapp://parcel/7"),
        on_campaign_ready=queued.append,
    )  # fmt: skip
    assert (result.recipients, result.unknown_user, result.no_device) == (4, 1, 1)
    assert (result.messages, result.inbox_entries) == (3, 3)
    assert queued == [result.campaign_id]
    log = LogProvider(record=True)
    summary = asyncio.run(
        Dispatcher(intake.settings, intake.db, lambda a, p: log).run_campaign(result.campaign_id)
    )
    assert summary.sent == 3
    assert {m.text for m in log.messages} == {"Parcel\nhere"}
    assert {m.deeplink for m in log.messages} == {"myapp://parcel/7"}
    with intake.db.transaction() as s:
        campaign = ledger.get_campaign(s, result.msg_id)
        assert campaign.type is CampaignType.TRANSACTIONAL
        assert str(campaign.status) == "done"


def test_automated_and_without_inbox(intake: Intake) -> None:
    seed_users(intake.db)
    result = send_to_users(
        intake.db, "alpha", SendRequest(["u1"], "Hi", inbox=False, automated=True, name="Cart")
    )
    assert (result.messages, result.inbox_entries) == (2, 0)
    with intake.db.transaction() as s:
        campaign = s.scalar(select(Campaign))
        assert campaign is not None
        assert (campaign.type, campaign.name) == (CampaignType.AUTOMATED, "Cart")


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (SendRequest([], "x"), "external_ids"),
        (SendRequest("u1", "x"), "external_ids"),  # type: ignore[arg-type]
        (SendRequest([f"u{i}" for i in range(1001)], "x"), "external_ids"),
        (SendRequest([" u1"], "x"), "external_ids"),
        (SendRequest(["u\x00"], "x"), "external_ids"),
        (SendRequest(["x" * 256], "x"), "external_ids"),
        (SendRequest(["u1"], "  "), "text"),
        (SendRequest(["u1"], "é" * 4000), "text"),
        (SendRequest(["u1"], "x", "not a link"), "deeplink"),
        (SendRequest(["u1"], "x", "/relative"), "deeplink"),
    ],
)
def test_bad_requests_name_the_field_and_write_nothing(
    intake: Intake, request_: SendRequest, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        send_to_users(intake.db, "alpha", request_)
    assert caught.value.field == field
    with intake.db.transaction() as s:
        assert s.scalar(select(Campaign)) is None


def test_a_thousand_recipients_is_the_limit(intake: Intake) -> None:
    ids = [f"u{i % 1000}" for i in range(1500)]  # repeats collapse to 1000
    assert send_to_users(intake.db, "alpha", SendRequest(ids, "x")).recipients == 1000

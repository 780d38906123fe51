"""Sending campaigns from the ledger: every message once, retries, dead tokens, cancel."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

import pytest
from sqlalchemy import select

from ftpush.models import CampaignStatus, MessageStatus, Platform, TokenState
from ftpush.pipeline.dispatch import Dispatcher, backoff
from ftpush.pipeline.imports import ImportProcessor
from ftpush.push.base import OnOutcome, Outcome, OutcomeKind, Provider, PushMessage
from ftpush.push.log import LogProvider
from ftpush.storage import ledger
from ftpush.storage.apps import get_app
from ftpush.storage.tables import Campaign, Device, User
from tests.integration.intake.conftest import Intake
from tests.integration.pipeline.test_push_import import FILE, receive, seed_users


def campaign_from_file(intake: Intake) -> int:
    seed_users(intake.db)
    import_id = receive(intake, "/push.csv", FILE)
    ImportProcessor(intake.settings, intake.db).process(import_id)
    with intake.db.transaction() as s:
        campaign = s.scalar(select(Campaign))
        assert campaign is not None
        return campaign.id


class Scripted:
    """A provider that answers from a script per token, then SENT."""

    name = "scripted"

    def __init__(self, script: dict[str, list[OutcomeKind]]) -> None:
        self.script = script
        self.seen: list[PushMessage] = []

    async def send(
        self, messages: Sequence[PushMessage], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:  # reports nothing as it goes: the dispatcher copes
        out = []
        for m in messages:
            self.seen.append(m)
            steps = self.script.get(m.token, [])
            kind = steps.pop(0) if steps else OutcomeKind.SENT
            out.append(Outcome(m.message_id, kind, reason=str(kind), retry_after=30.0))
        return out

    async def aclose(self) -> None:
        return None


def test_every_message_is_sent_once(intake: Intake) -> None:
    campaign_id = campaign_from_file(intake)
    log = LogProvider(record=True)
    dispatcher = Dispatcher(intake.settings, intake.db, lambda app_id, platform: log)
    summary = asyncio.run(dispatcher.run_campaign(campaign_id))
    assert (summary.claimed, summary.sent) == (3, 3)
    assert sorted(m.platform for m in log.messages) == [
        Platform.ANDROID, Platform.ANDROID, Platform.IOS,
    ]  # fmt: skip
    texts = {m.text for m in log.messages}
    assert "Welcome!\nEnjoy." in texts
    assert all(m.key.startswith(m.campaign + ":") for m in log.messages)
    again = asyncio.run(dispatcher.run_campaign(campaign_id))
    assert again.claimed == 0
    with intake.db.transaction() as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        assert campaign.status is CampaignStatus.DONE
        assert ledger.message_status_counts(s, campaign_id) == {"sent": 3}


def test_retries_dead_tokens_and_giving_up(intake: Intake) -> None:
    campaign_id = campaign_from_file(intake)
    script = {
        "a" * 64: [OutcomeKind.RETRY, OutcomeKind.RETRY],  # sent on the third attempt
        "fcm-u1": [OutcomeKind.INVALID_TOKEN],
        "fcm-u3": [OutcomeKind.RETRY] * 10,  # more than max_attempts
    }
    provider = Scripted(script)
    later: list[tuple[int, float]] = []
    clock = [dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)]
    dispatcher = Dispatcher(
        intake.settings,
        intake.db,
        lambda app_id, platform: provider,
        on_retry_later=lambda cid, delay: later.append((cid, delay)),
        clock=lambda: clock[0],
    )
    for _ in range(intake.settings.push.max_attempts + 1):
        asyncio.run(dispatcher.run_campaign(campaign_id))
        clock[0] += dt.timedelta(seconds=700)  # past any backoff
    with intake.db.transaction() as s:
        counts = ledger.message_status_counts(s, campaign_id)
        dead = s.scalar(select(Device).where(Device.token == "fcm-u1"))
        assert dead is not None
        assert dead.token_state is TokenState.UNINSTALLED
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        assert campaign.status is CampaignStatus.DONE
    assert counts == {"sent": 1, "invalid_token": 1, "failed": 1}
    assert later
    assert later[0] == (campaign_id, 30.0)


def test_no_provider_for_a_platform_fails_those_messages(intake: Intake) -> None:
    campaign_id = campaign_from_file(intake)
    log = LogProvider()

    def ios_only(app_id: int, platform: Platform) -> Provider | None:
        return log if platform is Platform.IOS else None

    summary = asyncio.run(
        Dispatcher(intake.settings, intake.db, ios_only).run_campaign(campaign_id)
    )
    assert (summary.sent, summary.failed) == (1, 2)


def test_a_cancelled_campaign_sends_nothing(intake: Intake) -> None:
    campaign_id = campaign_from_file(intake)
    with intake.db.transaction() as s:
        assert ledger.cancel_campaign(s, campaign_id) == 3
    log = LogProvider()
    summary = asyncio.run(
        Dispatcher(intake.settings, intake.db, lambda a, p: log).run_campaign(campaign_id)
    )
    assert summary.claimed == 0
    assert log.sent == 0


def test_backoff() -> None:
    assert backoff(1, None) == 1.0
    assert backoff(4, None) == 8.0
    assert backoff(30, None) == 600.0
    assert backoff(1, 42.0) == 42.0
    assert backoff(1, 10_000.0) == 600.0
    assert MessageStatus.PENDING.value == "pending"


class Stalling:
    """Reports its first outcomes, then hangs until released: a worker about to die."""

    name = "stalling"

    def __init__(self, answered: int) -> None:
        self.answered = answered
        self.release = asyncio.Event()
        self.stalled = asyncio.Event()

    async def send(
        self, messages: Sequence[PushMessage], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        outcomes = [Outcome(m.message_id, OutcomeKind.SENT) for m in messages]
        for index, outcome in enumerate(outcomes[: self.answered]):
            assert on_outcome is not None
            on_outcome(index, outcome)
        self.stalled.set()
        await self.release.wait()
        return outcomes

    async def aclose(self) -> None:
        return None


def test_outcomes_are_committed_while_the_batch_is_still_in_flight(intake: Intake) -> None:
    settings = intake.settings.model_copy(
        update={"push": intake.settings.push.model_copy(update={"commit_every": 2})}
    )
    data = b"".join(f"x{i};hi;\n".encode() for i in range(5))
    seed_more(intake, 5)
    import_id = receive(intake, "/five.csv", data)
    ImportProcessor(intake.settings, intake.db).process(import_id)
    with intake.db.transaction() as s:
        campaign_id = s.scalar(select(Campaign.id))
    assert campaign_id is not None
    provider = Stalling(answered=4)

    async def run() -> tuple[dict[str, int], int]:
        dispatcher = Dispatcher(settings, intake.db, lambda app_id, platform: provider)
        task = asyncio.create_task(dispatcher.run_campaign(campaign_id))
        await provider.stalled.wait()
        for _ in range(100):  # the commits run in a thread
            await asyncio.sleep(0.02)
            counts = await asyncio.to_thread(_counts, intake, campaign_id)
            if counts.get("sent") == 4:
                break
        provider.release.set()
        summary = await task
        return counts, summary.sent

    during, sent = asyncio.run(run())
    assert during == {"sent": 4, "leased": 1}  # committed before the batch ended
    assert sent == 5
    assert _counts(intake, campaign_id) == {"sent": 5}


def _counts(intake: Intake, campaign_id: int) -> dict[str, int]:
    with intake.db.transaction() as s:
        return ledger.message_status_counts(s, campaign_id)


def seed_more(intake: Intake, count: int) -> None:
    with intake.db.transaction() as s:
        app_id = get_app(s, "alpha").id
        for i in range(count):
            user = User(app_id=app_id, external_id=f"x{i}")
            s.add(user)
            s.flush()
            s.add(Device(app_id=app_id, user_id=user.id, token=f"fcm-x{i}",
                         platform=Platform.ANDROID))  # fmt: skip


def test_the_apps_rate_limit_paces_the_batches(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_id = campaign_from_file(intake)  # 3 messages
    with intake.db.transaction() as s:
        get_app(s, "alpha").rate_limit_per_second = 2
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded(delay: float) -> None:
        pauses.append(delay)
        await real_sleep(0)

    monkeypatch.setattr("ftpush.pipeline.dispatch.asyncio.sleep", recorded)
    log = LogProvider(record=True)
    summary = asyncio.run(
        Dispatcher(intake.settings, intake.db, lambda a, p: log).run_campaign(campaign_id)
    )
    assert (summary.sent, summary.batches) == (3, 2)  # at most 2 per second: 2 + 1
    assert [round(p) for p in pauses] == [1, 0]  # 2 messages / 2 per s, then 1 / 2 - elapsed
    assert pauses[0] > 0.5

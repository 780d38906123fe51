"""Sending a campaign: claim leased batches from the ledger, send, record outcomes.

:meth:`Dispatcher.run_campaign` is the body of the ``dispatch`` task. Any
number may run for the same campaign at once (the ledger's leases split the
work) and a run that dies is harmless: its lease runs out and another worker
claims the same messages with a higher attempt number; the dead worker's late
writes are fenced out.

Outcomes are committed right after each provider answer, batch by batch, to
keep the one unavoidable duplicate window small: a message the provider
accepted but whose outcome was not committed before a crash is sent again.
Providers make that repeat harmless (``apns-collapse-id`` / Android ``tag``
= the message key).

Example::

    dispatcher = Dispatcher(settings, db, providers)
    summary = asyncio.run(dispatcher.run_campaign(7))
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ftpush.config import Settings
from ftpush.models import CampaignStatus, MessageStatus, Platform, TokenState
from ftpush.pipeline.imports import worker_name
from ftpush.push.base import Outcome, OutcomeKind, Provider, PushMessage
from ftpush.push.log import LogProvider
from ftpush.storage import Database, Session, ledger
from ftpush.storage.ledger import Claimed, OutcomeRecord
from ftpush.storage.tables import App, Campaign, ImportFile
from ftpush.storage.types import utcnow

log = logging.getLogger("ftpush.pipeline.dispatch")

MAX_BACKOFF_SECONDS = 600.0


class ProviderResolver(Protocol):
    """Which provider sends an app's messages for a platform (None: none configured)."""

    def __call__(self, app_id: int, platform: Platform) -> Provider | None: ...


class LogOnly:
    """The default routing: every message goes to one shared :class:`LogProvider`."""

    def __init__(self) -> None:
        self.provider = LogProvider()

    def __call__(self, app_id: int, platform: Platform) -> Provider | None:
        return self.provider


@dataclass
class DispatchSummary:
    claimed: int = 0
    sent: int = 0
    invalid_token: int = 0
    retry: int = 0
    failed: int = 0
    fenced_out: int = 0
    batches: int = 0
    by_provider: dict[str, int] = field(default_factory=dict)


def backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds before the next attempt: the server's word, else exponential."""
    if retry_after is not None:
        return max(0.0, min(retry_after, MAX_BACKOFF_SECONDS))
    return float(min(2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS))


class Dispatcher:
    """Sends campaigns; keep one per worker thread so provider connections are reused."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        providers: ProviderResolver | None = None,
        *,
        owner: str | None = None,
        on_retry_later: Callable[[int, float], None] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.db = db
        self.providers: ProviderResolver = providers or LogOnly()
        self.owner = owner or worker_name()
        self.on_retry_later = on_retry_later
        self.clock = clock

    async def run_campaign(self, campaign_id: int) -> DispatchSummary:
        """Send every due message of the campaign; returns what happened."""
        summary = DispatchSummary()
        app_id, rate = await asyncio.to_thread(self._start, campaign_id)
        if app_id is None:
            return summary
        limit = self.settings.push.batch_size
        if rate:
            limit = max(1, min(limit, rate))
        committer = _Committer(self._record, self.settings.push.commit_every)

        def claim_next() -> asyncio.Task[list[Claimed]]:
            return asyncio.ensure_future(asyncio.to_thread(self._claim, campaign_id, limit))

        upcoming = claim_next()
        unsettled: collections.deque[asyncio.Task[int] | None] = collections.deque()
        try:
            while True:
                started = time.monotonic()
                batch = await upcoming
                if not batch:
                    break
                upcoming = claim_next()  # the next batch is leased while this one goes out
                summary.claimed += len(batch)
                summary.batches += 1
                await self._send(app_id, batch, summary, committer)
                # Commits overlap the next batch, but never lag more than one batch behind.
                unsettled.append(committer.flush())
                if len(unsettled) > 1 and (previous := unsettled.popleft()) is not None:
                    await asyncio.wait([previous])
                close_stale = getattr(self.providers, "close_stale", None)
                if close_stale is not None:  # providers replaced by changed settings
                    await close_stale()
                if rate:  # the app's messages-per-second limit
                    await asyncio.sleep(max(0.0, len(batch) / rate - (time.monotonic() - started)))
        finally:
            total, written = await committer.finish()
            summary.fenced_out += total - written
        await asyncio.to_thread(self._finish, campaign_id)
        return summary

    # --- database steps (run in a thread) -----------------------------------------

    def _start(self, campaign_id: int) -> tuple[int | None, int | None]:
        with self.db.transaction() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None or campaign.status is CampaignStatus.CANCELLED:
                return None, None
            if campaign.status is CampaignStatus.PENDING:
                campaign.status = CampaignStatus.RUNNING
                campaign.started_at = self.clock()
            app = campaign_app(session, campaign)
            return campaign.app_id, app.rate_limit_per_second if app else None

    def _claim(self, campaign_id: int, limit: int) -> list[Claimed]:
        with self.db.transaction() as session:
            return ledger.claim(
                session,
                owner=self.owner,
                limit=limit,
                lease_seconds=self.settings.push.lease_seconds,
                campaign_id=campaign_id,
                now=self.clock(),
            )

    def _record(self, records: list[OutcomeRecord], dead_devices: list[int]) -> int:
        with self.db.transaction() as session:
            written = ledger.record_outcomes(session, records, now=self.clock())
            ledger.mark_devices_uninstalled(session, dead_devices)
        return written

    def _finish(self, campaign_id: int) -> None:
        """Close the campaign when nothing is left; schedule a run for pending retries."""
        with self.db.transaction() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None or campaign.status is not CampaignStatus.RUNNING:
                return
            if campaign.import_file_id is not None:
                source = session.get(ImportFile, campaign.import_file_id)
                if source is not None and source.finished_at is None:
                    return  # the file is still being read; its end re-enqueues us
            if ledger.open_message_counts(session, campaign_id):
                wait = ledger.seconds_to_next_attempt(session, campaign_id, self.clock())
                if wait is not None and self.on_retry_later is not None:
                    self.on_retry_later(campaign_id, wait)
                return
            campaign.status = CampaignStatus.DONE
            campaign.finished_at = self.clock()

    # --- sending -------------------------------------------------------------------

    async def _send(
        self,
        app_id: int,
        batch: Sequence[Claimed],
        summary: DispatchSummary,
        committer: _Committer,
    ) -> None:
        """Send the batch; each outcome goes to ``committer`` as soon as it is known."""

        def settle(claimed: Claimed, provider: str, outcome: Outcome) -> None:
            record = self._record_of(claimed, provider, outcome)
            counter = _COUNTERS[record.status]
            setattr(summary, counter, getattr(summary, counter) + 1)
            dead = record.status is MessageStatus.INVALID_TOKEN
            committer.add(record, claimed.device_id if dead else None)

        groups: dict[str, tuple[Provider, list[tuple[Claimed, PushMessage]]]] = {}
        for claimed in batch:
            if claimed.token_state is not TokenState.ACTIVE:
                # The device died after the message was written: never send to it.
                settle(claimed, "none", _dead_outcome(claimed))
                continue
            provider = self.providers(app_id, claimed.platform)
            if provider is None:
                outcome = Outcome(
                    claimed.message_id,
                    OutcomeKind.FAILED,
                    reason=f"no push provider configured for {claimed.platform}",
                )
                settle(claimed, "none", outcome)
                continue
            group = groups.setdefault(provider.name + str(id(provider)), (provider, []))
            group[1].append((claimed, to_message(claimed)))

        async def send_group(provider: Provider, items: list[tuple[Claimed, PushMessage]]) -> None:
            settled = [False] * len(items)

            def on_outcome(index: int, outcome: Outcome) -> None:
                if not settled[index]:
                    settled[index] = True
                    settle(items[index][0], provider.name, outcome)

            outcomes = await provider.send([m for _, m in items], on_outcome=on_outcome)
            for index, outcome in enumerate(outcomes):  # a provider that did not report one
                on_outcome(index, outcome)
            summary.by_provider[provider.name] = summary.by_provider.get(provider.name, 0) + len(
                items
            )

        await asyncio.gather(*(send_group(p, items) for p, items in groups.values()))

    def _record_of(self, claimed: Claimed, provider: str, outcome: Outcome) -> OutcomeRecord:
        status = {
            OutcomeKind.SENT: MessageStatus.SENT,
            OutcomeKind.INVALID_TOKEN: MessageStatus.INVALID_TOKEN,
            OutcomeKind.FAILED: MessageStatus.FAILED,
            OutcomeKind.RETRY: MessageStatus.PENDING,
        }[outcome.kind]
        next_at = None
        reason = outcome.reason
        if status is MessageStatus.PENDING:
            if claimed.attempt >= self.settings.push.max_attempts:
                status = MessageStatus.FAILED
                reason = f"gave up after {claimed.attempt} attempts: {outcome.reason}"
            else:
                delay = backoff(claimed.attempt, outcome.retry_after)
                next_at = self.clock() + dt.timedelta(seconds=delay)
        return OutcomeRecord(
            message_id=claimed.message_id,
            attempt=claimed.attempt,
            status=status,
            provider=provider,
            provider_message_id=outcome.provider_message_id,
            error_code=None if status is MessageStatus.SENT else str(outcome.kind),
            error_reason=reason,
            next_attempt_at=next_at,
        )


_COUNTERS = {
    MessageStatus.SENT: "sent",
    MessageStatus.INVALID_TOKEN: "invalid_token",
    MessageStatus.PENDING: "retry",
    MessageStatus.FAILED: "failed",
}


class _Committer:
    """Commits outcomes in small batches while the rest of a batch is still in flight.

    A worker killed mid-batch then loses only the outcomes since its last commit
    (at most ``every``) plus the requests in flight: those messages are claimed
    again after the lease and sent a second time — the documented duplicate window.
    Commits run one after another, in a thread, overlapping the sending.
    """

    def __init__(self, record: Callable[[list[OutcomeRecord], list[int]], int], every: int) -> None:
        self._record = record
        self._every = every
        self._records: list[OutcomeRecord] = []
        self._dead: list[int] = []
        self._last: asyncio.Task[int] | None = None
        self._tasks: list[asyncio.Task[int]] = []
        self.total = 0

    def add(self, record: OutcomeRecord, dead_device: int | None) -> None:
        self._records.append(record)
        self.total += 1
        if dead_device is not None:
            self._dead.append(dead_device)
        if len(self._records) >= self._every:
            self.flush()

    def flush(self) -> asyncio.Task[int] | None:
        """Start committing what is pending; returns the task of the latest commit."""
        if self._records:
            records, dead = self._records, self._dead
            self._records, self._dead = [], []
            self._last = asyncio.ensure_future(self._commit(self._last, records, dead))
            self._tasks.append(self._last)
        return self._last

    async def _commit(
        self, previous: asyncio.Task[int] | None, records: list[OutcomeRecord], dead: list[int]
    ) -> int:
        if previous is not None:
            await asyncio.wait([previous])  # one commit at a time, in order
        return await asyncio.to_thread(self._record, records, dead)

    async def finish(self) -> tuple[int, int]:
        """Commit the rest; (outcomes, how many were still ours to write)."""
        self.flush()
        written = sum(await asyncio.gather(*self._tasks))
        return self.total, written


def _dead_outcome(claimed: Claimed) -> Outcome:
    return Outcome(claimed.message_id, OutcomeKind.INVALID_TOKEN, reason="device uninstalled")


def to_message(claimed: Claimed) -> PushMessage:
    return PushMessage(
        message_id=claimed.message_id,
        key=claimed.key,
        token=claimed.token,
        platform=claimed.platform,
        text=claimed.text,
        deeplink=claimed.deeplink,
        campaign=claimed.msg_id,
    )


def campaign_app(session: Session, campaign: Campaign) -> App | None:
    return session.get(App, campaign.app_id)

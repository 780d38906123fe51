"""The delivery ledger: campaigns, their lines, inbox entries and messages.

Every write here is idempotent, so any step can be re-run after a crash:
rows are inserted with ``ON CONFLICT DO NOTHING`` against the unique keys
(campaign, line) and (campaign, line, device). Dispatch claims messages with
a lease (owner, expiry, ``attempt + 1``) and records outcomes *fenced* on
that attempt: a worker whose lease expired and was taken over cannot
overwrite the newer attempt.

Example::

    >>> campaign = ensure_file_campaign(session, import_row)          # doctest: +SKIP
    >>> write_lines(session, campaign, app, [LineInput(1, "12345", "Hi", None)])  # doctest: +SKIP
    >>> batch = claim(session, owner="w1", limit=500, lease_seconds=120)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BigInteger, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ftpush.errors import NotFound
from ftpush.models import (
    CampaignStatus,
    CampaignType,
    InboxStatus,
    MessageStatus,
    Platform,
    TokenState,
)
from ftpush.storage.tables import (
    App,
    Campaign,
    CampaignLine,
    Device,
    ImportFile,
    InboxEntry,
    Message,
    User,
)
from ftpush.storage.types import utcnow

_IN_CHUNK = 900  # stays below SQLite's bound-parameter limits on old builds


@dataclass(frozen=True, slots=True)
class LineInput:
    """An accepted line of a push file (or one recipient of a transactional send)."""

    line: int
    external_id: str
    text: str
    deeplink: str | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A leased message with everything the provider needs."""

    message_id: int
    attempt: int
    campaign_id: int
    msg_id: str
    line: int
    device_id: int
    token: str
    platform: Platform
    token_state: TokenState
    text: str
    deeplink: str | None

    @property
    def key(self) -> str:
        """The idempotency key: the same on every attempt of this message."""
        return f"{self.msg_id}:{self.line}:{self.device_id}"


def new_msg_id() -> str:
    """A public campaign id: short, random, URL-safe."""
    return "m" + secrets.token_hex(8)


def _insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows, silently skipping those that already exist (idempotency)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(builder(table).on_conflict_do_nothing(), rows)


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ensure_file_campaign(session: Session, import_row: ImportFile) -> Campaign:
    """The campaign of a push file, created on first call (unique per import file)."""
    campaign = session.scalar(select(Campaign).where(Campaign.import_file_id == import_row.id))
    if campaign is not None:
        return campaign
    campaign = Campaign(
        app_id=import_row.app_id,
        msg_id=new_msg_id(),
        type=CampaignType.FILE,
        name=import_row.name,
        import_file_id=import_row.id,
        status=CampaignStatus.PENDING,
    )
    session.add(campaign)
    session.flush()
    return campaign


def file_campaign(session: Session, import_file_id: int) -> Campaign | None:
    """The campaign of a push file, if it was created."""
    return session.scalar(select(Campaign).where(Campaign.import_file_id == import_file_id))


def create_campaign(session: Session, app_id: int, type_: CampaignType, name: str) -> Campaign:
    """A campaign not tied to a file (transactional or automated sends)."""
    campaign = Campaign(app_id=app_id, msg_id=new_msg_id(), type=type_, name=name)
    session.add(campaign)
    session.flush()
    return campaign


def resolve_users(session: Session, app_id: int, external_ids: Sequence[str]) -> dict[str, int]:
    """External ID → user id for the ones that exist."""
    found: dict[str, int] = {}
    for chunk in _chunks(list(dict.fromkeys(external_ids))):
        rows = session.execute(
            select(User.external_id, User.id).where(
                User.app_id == app_id, User.external_id.in_(chunk)
            )
        )
        found.update((ext, uid) for ext, uid in rows)
    return found


def push_devices(
    session: Session, user_ids: Iterable[int]
) -> dict[int, list[tuple[int, Platform]]]:
    """user id → its devices that can receive a push (active token, permission given)."""
    by_user: dict[int, list[tuple[int, Platform]]] = defaultdict(list)
    ids = list(dict.fromkeys(user_ids))
    for chunk in _chunks(ids):
        rows = session.execute(
            select(Device.user_id, Device.id, Device.platform)
            .where(
                Device.user_id.in_(chunk),
                Device.token_state == TokenState.ACTIVE,
                Device.push_permission.is_(True),
            )
            .order_by(Device.id)
        )
        for user_id, device_id, platform in rows:
            if user_id is not None:
                by_user[user_id].append((device_id, platform))
    return by_user


@dataclass
class WriteCounts:
    lines: int = 0
    unknown_user: int = 0
    no_device: int = 0
    messages: int = 0
    inbox: int = 0


@dataclass
class LinePlan:
    """The rows some accepted lines become; built from reads, inserted later."""

    counts: WriteCounts
    line_rows: list[dict[str, Any]]
    inbox_rows: list[dict[str, Any]]
    message_rows: list[dict[str, Any]]


def plan_lines(
    session: Session,
    campaign_id: int,
    app_id: int,
    lines: Sequence[LineInput],
    *,
    inbox: bool,
) -> LinePlan:
    """Resolve users and devices and build the ledger rows; only reads.

    On SQLite this runs in a read session (``Database.read``), so the write lock is
    held only for :func:`insert_plan`, not while Python builds the rows.
    """
    counts = WriteCounts(lines=len(lines))
    users = resolve_users(session, app_id, [ln.external_id for ln in lines])
    devices = push_devices(session, users.values())
    now = utcnow()
    line_rows, inbox_rows, message_rows = [], [], []
    pending, active = MessageStatus.PENDING.value, InboxStatus.UNREAD.value
    for ln in lines:
        user_id = users.get(ln.external_id)
        user_devices = devices.get(user_id, []) if user_id is not None else []
        outcome = None
        if user_id is None:
            outcome = "unknown_user"
            counts.unknown_user += 1
        elif not user_devices:
            outcome = "no_device"
            counts.no_device += 1
        line_rows.append(
            {
                "campaign_id": campaign_id,
                "line_no": ln.line,
                "external_id": ln.external_id,
                "user_id": user_id,
                "text": ln.text,
                "deeplink": ln.deeplink,
                "outcome": outcome,
            }
        )
        if user_id is not None and inbox:
            inbox_rows.append(
                {
                    "app_id": app_id,
                    "user_id": user_id,
                    "campaign_id": campaign_id,
                    "line_no": ln.line,
                    "text": ln.text,
                    "deeplink": ln.deeplink,
                    "status": active,
                    "created_at": now,
                }
            )
        for device_id, platform in user_devices:
            message_rows.append(
                {
                    "campaign_id": campaign_id,
                    "line_no": ln.line,
                    "device_id": device_id,
                    "user_id": user_id,
                    "platform": Platform(platform).value,
                    "status": pending,
                    "attempt": 0,
                    "created_at": now,
                }
            )
    counts.messages = len(message_rows)
    counts.inbox = len(inbox_rows)
    return LinePlan(counts, line_rows, inbox_rows, message_rows)


def insert_plan(session: Session, plan: LinePlan) -> WriteCounts:
    """Insert planned rows; rows already there (a re-run) are left as they are."""
    _insert(session, CampaignLine.__table__, plan.line_rows)
    _insert(session, InboxEntry.__table__, plan.inbox_rows)
    _insert(session, Message.__table__, plan.message_rows)
    return plan.counts


def write_lines(
    session: Session,
    campaign: Campaign,
    app: App,
    lines: Sequence[LineInput],
    *,
    inbox: bool | None = None,
) -> WriteCounts:
    """Write the ledger rows of some accepted lines; re-running it changes nothing.

    ``inbox`` overrides the app's Inbox switch (a transactional send may skip it).
    """
    with_inbox = app.inbox_enabled if inbox is None else inbox
    return insert_plan(session, plan_lines(session, campaign.id, app.id, lines, inbox=with_inbox))


def line_outcomes(session: Session, campaign_id: int) -> dict[str, int]:
    """How many lines had no user / no device (from the ledger, so exact after resumes)."""
    rows = session.execute(
        select(CampaignLine.outcome, func.count())
        .where(CampaignLine.campaign_id == campaign_id)
        .group_by(CampaignLine.outcome)
    )
    counts = {outcome or "targeted": n for outcome, n in rows}
    counts["lines"] = sum(counts.values())
    return counts


# --- dispatch -----------------------------------------------------------------


def _claimable(now: dt.datetime) -> Any:
    return or_(
        and_(
            Message.status == MessageStatus.PENDING,
            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
        ),
        and_(Message.status == MessageStatus.LEASED, Message.lease_expires_at < now),
    )


def claim(
    session: Session,
    *,
    owner: str,
    limit: int,
    lease_seconds: float,
    campaign_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[Claimed]:
    """Lease up to ``limit`` due messages (pending, or leased with an expired lease)."""
    now = now or utcnow()
    candidates = select(Message.id).where(_claimable(now))
    if campaign_id is not None:
        candidates = candidates.where(Message.campaign_id == campaign_id)
    candidates = candidates.order_by(Message.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    # Re-check the claim condition in the UPDATE itself: on SQLite the write lock
    # already serialises claims; on PostgreSQL SKIP LOCKED hands each row to one worker.
    session.execute(
        update(Message)
        .where(Message.id.in_(ids), _claimable(now))
        .values(
            status=MessageStatus.LEASED,
            lease_owner=owner,
            lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
            attempt=Message.attempt + 1,
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(
            Message.id,
            Message.attempt,
            Message.campaign_id,
            Campaign.msg_id,
            Message.line_no,
            Message.device_id,
            Device.token,
            Device.platform,
            Device.token_state,
            CampaignLine.text,
            CampaignLine.deeplink,
        )
        .join(Campaign, Campaign.id == Message.campaign_id)
        .join(Device, Device.id == Message.device_id)
        .join(
            CampaignLine,
            and_(
                CampaignLine.campaign_id == Message.campaign_id,
                CampaignLine.line_no == Message.line_no,
            ),
        )
        .where(Message.id.in_(ids), Message.lease_owner == owner)
        .order_by(Message.id)
    )
    return [Claimed(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """What happened to one claimed attempt."""

    message_id: int
    attempt: int
    status: MessageStatus  # SENT, FAILED, INVALID_TOKEN, or PENDING to retry
    provider: str
    provider_message_id: str | None = None
    error_code: str | None = None
    error_reason: str | None = None
    next_attempt_at: dt.datetime | None = None


def record_outcomes(
    session: Session, outcomes: Sequence[OutcomeRecord], *, now: dt.datetime | None = None
) -> int:
    """Write outcomes of claimed attempts; returns how many were still ours (fencing).

    One statement executed for many rows (``executemany``): a row is written only
    while its attempt number and ``leased`` status are the ones claimed.
    """
    if not outcomes:
        return 0
    now = now or utcnow()
    params = [
        {
            "o_id": o.message_id,
            "o_attempt": o.attempt,
            "o_status": o.status,
            "o_provider": o.provider,
            "o_provider_message_id": o.provider_message_id,
            "o_error_code": o.error_code,
            "o_error_reason": o.error_reason,
            "o_next_attempt_at": o.next_attempt_at,
            "o_sent_at": now if o.status is MessageStatus.SENT else None,
        }
        for o in outcomes
    ]
    result = session.execute(_RECORD_OUTCOME, params)
    return int(result.rowcount)  # type: ignore[attr-defined]  # summed over the rows


_MESSAGES = cast(Table, Message.__table__)
_RECORD_OUTCOME = (
    _MESSAGES.update()
    .where(
        _MESSAGES.c.id == bindparam("o_id"),
        _MESSAGES.c.attempt == bindparam("o_attempt"),
        _MESSAGES.c.status == MessageStatus.LEASED,
    )
    .values(
        status=bindparam("o_status"),
        provider=bindparam("o_provider"),
        provider_message_id=bindparam("o_provider_message_id"),
        error_code=bindparam("o_error_code"),
        error_reason=bindparam("o_error_reason"),
        lease_owner=None,
        lease_expires_at=None,
        next_attempt_at=bindparam("o_next_attempt_at"),
        sent_at=bindparam("o_sent_at"),
    )
)


def mark_devices_uninstalled(session: Session, device_ids: Iterable[int]) -> None:
    """Dead tokens: never tried again."""
    ids = list(dict.fromkeys(device_ids))
    if not ids:
        return
    now = utcnow()
    session.execute(
        update(Device)
        .where(Device.id.in_(ids))
        .values(token_state=TokenState.UNINSTALLED, uninstalled_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


_OVER = frozenset({CampaignStatus.DONE, CampaignStatus.FAILED, CampaignStatus.CANCELLED})


def cancel_campaign(session: Session, campaign_id: int) -> int:
    """Stop what has not been sent; returns how many messages were cancelled.

    A campaign already over (done, failed or cancelled) is left as it is: a late or
    repeated Cancel changes nothing.
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.status in _OVER:
        return 0
    result = session.execute(
        update(Message)
        .where(Message.campaign_id == campaign_id, Message.status == MessageStatus.PENDING)
        .values(status=MessageStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    campaign.status = CampaignStatus.CANCELLED
    campaign.cancelled_at = utcnow()
    return int(result.rowcount)  # type: ignore[attr-defined]


def open_message_counts(session: Session, campaign_id: int) -> int:
    """Messages not yet final (pending or leased)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.campaign_id == campaign_id,
                Message.status.in_((MessageStatus.PENDING, MessageStatus.LEASED)),
            )
        )
        or 0
    )


def message_status_counts(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Message.status, func.count())
        .where(Message.campaign_id == campaign_id)
        .group_by(Message.status)
    )
    return {str(status): int(n) for status, n in rows}


def get_campaign(session: Session, msg_id: str, app_id: int | None = None) -> Campaign:
    """A campaign by its public id; with ``app_id`` it must belong to that app (tenancy)."""
    campaign = session.scalar(select(Campaign).where(Campaign.msg_id == msg_id))
    if campaign is None or (app_id is not None and campaign.app_id != app_id):
        raise NotFound(f"campaign {msg_id} does not exist")
    return campaign


def list_campaigns(
    session: Session, app_id: int, *, limit: int = 50, before_id: int | None = None
) -> Sequence[Campaign]:
    """Newest first; ``before_id`` is the cursor of the next page."""
    query = select(Campaign).where(Campaign.app_id == app_id)
    if before_id is not None:
        query = query.where(Campaign.id < before_id)
    return session.scalars(query.order_by(Campaign.id.desc()).limit(limit)).all()


def campaign_figures(session: Session, campaign_id: int) -> dict[str, int]:
    """Lines, messages by status, clicks and inbox entries of one campaign."""
    lines = line_outcomes(session, campaign_id)
    by_status = message_status_counts(session, campaign_id)
    clicked = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.campaign_id == campaign_id, Message.clicked_at.is_not(None))
    )
    inbox = session.scalar(
        select(func.count()).select_from(InboxEntry).where(InboxEntry.campaign_id == campaign_id)
    )
    figures = {
        "lines": lines.get("lines", 0),
        "unknown_user": lines.get("unknown_user", 0),
        "no_device": lines.get("no_device", 0),
        "messages": sum(by_status.values()),
    }
    for status in MessageStatus:
        figures[str(status)] = by_status.get(str(status), 0)
    figures["clicked"] = int(clicked or 0)
    figures["inbox_entries"] = int(inbox or 0)
    return figures


def campaigns_with_due_messages(session: Session, now: dt.datetime | None = None) -> list[int]:
    """Campaigns that have messages to send now (the sweeper re-enqueues them)."""
    now = now or utcnow()
    rows = session.scalars(select(Message.campaign_id).where(_claimable(now)).distinct())
    return list(rows)


def message_count(session: Session, campaign_id: int) -> int:
    """Messages the campaign targets (one per line and device)."""
    return int(
        session.scalar(
            select(func.count()).select_from(Message).where(Message.campaign_id == campaign_id)
        )
        or 0
    )


def seconds_to_next_attempt(session: Session, campaign_id: int, now: dt.datetime) -> float | None:
    """Seconds until the campaign's earliest delayed retry (None when there is none)."""
    earliest = session.scalar(
        select(func.min(Message.next_attempt_at)).where(
            Message.campaign_id == campaign_id, Message.status == MessageStatus.PENDING
        )
    )
    if earliest is None:
        return None
    if earliest.tzinfo is None:  # aggregates bypass the column type on SQLite
        earliest = dt.datetime.fromisoformat(str(earliest)).replace(tzinfo=dt.UTC)
    return max(0.0, (earliest - now).total_seconds())


# --- a campaign's activity over time (the panel's chart) ---------------------------


@dataclass(frozen=True, slots=True)
class ActivityBucket:
    """Messages sent, failed and clicked in ``[start, start + width)``."""

    start: dt.datetime  # aware UTC
    sent: int
    failed: int
    clicked: int


_FAILED = (MessageStatus.FAILED, MessageStatus.INVALID_TOKEN)


def _epoch(session: Session, column: Any) -> Any:
    """Seconds since 1970 of a UTC timestamp column, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return func.strftime("%s", column).cast(BigInteger)


def _bucket(session: Session, column: Any, origin: int, step: int) -> Any:
    """The index of the ``step``-second bucket from ``origin`` that a time falls in."""
    offset = _epoch(session, column) - origin
    if session.get_bind().dialect.name == "postgresql":
        return func.floor(offset / step)  # EXTRACT gives a numeric
    return offset // step  # integers (only times from the origin on are counted)


def _activity_columns() -> dict[str, tuple[Any, Any]]:
    """Per series: the time column and the condition of the messages it counts.

    The ledger keeps no time of failure, so a failed message counts at the time it
    was queued (``created_at``); sent messages at ``sent_at``, clicks at ``clicked_at``.
    """
    return {
        "sent": (Message.sent_at, Message.status == MessageStatus.SENT),
        "failed": (Message.created_at, Message.status.in_(_FAILED)),
        "clicked": (Message.clicked_at, Message.clicked_at.is_not(None)),
    }


def campaign_activity_span(
    session: Session, campaign_id: int
) -> tuple[dt.datetime, dt.datetime] | None:
    """The first and last time a message of the campaign was sent, failed or clicked.

    None when nothing has happened yet.
    """
    first: float | None = None
    last: float | None = None
    for column, condition in _activity_columns().values():
        seconds = _epoch(session, column)
        low, high = session.execute(
            select(func.min(seconds), func.max(seconds)).where(
                Message.campaign_id == campaign_id, condition, column.is_not(None)
            )
        ).one()
        if low is not None:
            first = float(low) if first is None else min(first, float(low))
            last = float(high) if last is None else max(last, float(high))
    if first is None or last is None:
        return None
    return (
        dt.datetime.fromtimestamp(first, dt.UTC),
        dt.datetime.fromtimestamp(last, dt.UTC),
    )


def campaign_activity(
    session: Session,
    campaign_id: int,
    *,
    start: dt.datetime,
    width: dt.timedelta,
    count: int,
) -> list[ActivityBucket]:
    """``count`` buckets of ``width`` from ``start``: what was sent, failed and clicked.

    Counted in SQL (one grouped query per series), so a campaign of millions of
    messages gives a few dozen rows; buckets with nothing are there with zeros.
    """
    origin = int(start.timestamp())
    step = int(width.total_seconds())
    if step <= 0 or count <= 0:
        raise ValueError("a timeline needs a positive width and count")
    counts: dict[str, list[int]] = {}
    for name, (column, condition) in _activity_columns().items():
        bucket = _bucket(session, column, origin, step)
        values = [0] * count
        rows = session.execute(
            select(bucket, func.count())
            .where(
                Message.campaign_id == campaign_id,
                condition,
                column.is_not(None),
                _epoch(session, column) >= origin,
            )
            .group_by(bucket)
        )
        for index, n in rows:
            position = int(index)
            if 0 <= position < count:
                values[position] += int(n)
        counts[name] = values
    return [
        ActivityBucket(
            start + width * i, counts["sent"][i], counts["failed"][i], counts["clicked"][i]
        )
        for i in range(count)
    ]

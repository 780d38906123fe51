"""Read-only queries behind the reports (SPEC §5), streamed in batches.

Every function yields lists of plain tuples, at most ``batch`` at a time, from a
result fetched with ``yield_per`` (a server-side cursor on PostgreSQL), so a
report never holds a whole table in memory. Times are aware UTC datetimes; the
report layer turns them into the app's local time.

Windows are half-open UTC bounds ``[start, end)``; ``start=None`` means "from the
beginning" (the ``bulk`` installations report).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from ftpush.errors import NotFound
from ftpush.models import CampaignType, InboxStatus, MessageStatus, Platform
from ftpush.storage.tables import (
    App,
    Campaign,
    CampaignLine,
    Device,
    Event,
    InboxEntry,
    Message,
    User,
)

BATCH = 5000
_IN_CHUNK = 500

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class AppInfo:
    id: int
    key: str
    timezone: str


@dataclass(frozen=True, slots=True)
class CampaignRef:
    id: int
    msg_id: str


@dataclass(slots=True)
class CampaignFigures:
    """One campaign's row of the campaigns report, before formatting."""

    id: int
    msg_id: str
    type: str
    name: str
    text: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    # per platform ("ios", "android") -> [targeted, sent, failed, clicked]
    by_platform: dict[str, list[int]]
    inbox: dict[str, int]

    def total(self, index: int) -> int:
        return sum(values[index] for values in self.by_platform.values())


def app_info(session: Session, app_key: str) -> AppInfo:
    row = session.execute(select(App.id, App.key, App.timezone).where(App.key == app_key)).first()
    if row is None:
        raise NotFound(f"app {app_key!r} does not exist")
    return AppInfo(int(row[0]), str(row[1]), str(row[2] or "UTC"))


def _stream(session: Session, query: Executable, batch: int) -> Iterator[list[Row]]:
    result = session.execute(query.execution_options(yield_per=batch))
    for part in result.partitions(batch):
        yield [tuple(row) for row in part]


def _in_window(column: Any, start: dt.datetime | None, end: dt.datetime) -> Any:
    if start is None:
        return column < end
    return and_(column >= start, column < end)


def _campaign_filter(
    app_id: int, start: dt.datetime | None, end: dt.datetime, type_: CampaignType | None
) -> list[Any]:
    # A campaign belongs to the window in which it started (or was created, if it never did).
    where = [
        Campaign.app_id == app_id,
        or_(
            and_(Campaign.started_at.is_not(None), _in_window(Campaign.started_at, start, end)),
            and_(Campaign.started_at.is_(None), _in_window(Campaign.created_at, start, end)),
        ),
    ]
    if type_ is not None:
        where.append(Campaign.type == type_)
    return where


def campaigns_in_window(
    session: Session,
    app_id: int,
    start: dt.datetime | None,
    end: dt.datetime,
    *,
    type_: CampaignType | None = None,
) -> list[CampaignRef]:
    """The campaigns of the window, oldest first (ids only: one report file each)."""
    rows = session.execute(
        select(Campaign.id, Campaign.msg_id)
        .where(*_campaign_filter(app_id, start, end, type_))
        .order_by(Campaign.id)
    )
    return [CampaignRef(int(i), str(m)) for i, m in rows]


def campaign_figures(
    session: Session,
    app_id: int,
    start: dt.datetime | None,
    end: dt.datetime,
    *,
    type_: CampaignType | None = None,
    batch: int = _IN_CHUNK,
) -> Iterator[list[CampaignFigures]]:
    """Campaigns of the window with their delivery, click and inbox figures, in batches."""
    first_text = (
        select(CampaignLine.text)
        .where(CampaignLine.campaign_id == Campaign.id)
        .order_by(CampaignLine.line_no)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            Campaign.id,
            Campaign.msg_id,
            Campaign.type,
            Campaign.name,
            first_text,
            Campaign.created_at,
            Campaign.started_at,
            Campaign.finished_at,
        )
        .where(*_campaign_filter(app_id, start, end, type_))
        .order_by(Campaign.id)
    )
    for part in _stream(session, query, batch):
        figures = {
            int(r[0]): CampaignFigures(
                id=int(r[0]),
                msg_id=str(r[1]),
                type=str(r[2]),
                name=str(r[3]),
                text=r[4],
                created_at=r[5],
                started_at=r[6],
                finished_at=r[7],
                by_platform={str(p): [0, 0, 0, 0] for p in Platform},
                inbox={str(s): 0 for s in InboxStatus},
            )
            for r in part
        }
        _add_message_counts(session, figures)
        yield list(figures.values())


def _add_message_counts(session: Session, figures: dict[int, CampaignFigures]) -> None:
    ids = list(figures)
    sent = func.sum(case((Message.status == MessageStatus.SENT, 1), else_=0))
    failed = func.sum(
        case(
            (Message.status.in_((MessageStatus.FAILED, MessageStatus.INVALID_TOKEN)), 1),
            else_=0,
        )
    )
    clicked = func.count(Message.clicked_at)
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        rows = session.execute(
            select(Message.campaign_id, Message.platform, func.count(), sent, failed, clicked)
            .where(Message.campaign_id.in_(chunk))
            .group_by(Message.campaign_id, Message.platform)
        )
        for campaign_id, platform, *counts in rows:
            figures[int(campaign_id)].by_platform[str(platform)] = [int(n or 0) for n in counts]
        inbox_rows = session.execute(
            select(InboxEntry.campaign_id, InboxEntry.status, func.count())
            .where(InboxEntry.campaign_id.in_(chunk))
            .group_by(InboxEntry.campaign_id, InboxEntry.status)
        )
        for campaign_id, status, n in inbox_rows:
            figures[int(campaign_id)].inbox[str(status)] = int(n)


def recipient_rows(
    session: Session, campaign_id: int, *, batch: int = BATCH
) -> Iterator[list[Row]]:
    """(external ID, platform, device token, status, error reason, sent at, clicked at).

    One row per message (a device of a recipient), in ledger order; then one row
    per line that made no message, with its outcome (``unknown_user``,
    ``no_device``) as the status.
    """
    messages = (
        select(
            CampaignLine.external_id,
            Message.platform,
            Device.token,
            Message.status,
            Message.error_reason,
            Message.sent_at,
            Message.clicked_at,
        )
        .join(
            CampaignLine,
            and_(
                CampaignLine.campaign_id == Message.campaign_id,
                CampaignLine.line_no == Message.line_no,
            ),
        )
        .join(Device, Device.id == Message.device_id)
        .where(Message.campaign_id == campaign_id)
        .order_by(Message.id)
    )
    yield from _stream(session, messages, batch)
    undelivered = (
        select(CampaignLine.external_id, CampaignLine.outcome)
        .where(CampaignLine.campaign_id == campaign_id, CampaignLine.outcome.is_not(None))
        .order_by(CampaignLine.line_no)
    )
    for part in _stream(session, undelivered, batch):
        yield [(ext, None, None, outcome, None, None, None) for ext, outcome in part]


def event_rows(
    session: Session,
    app_id: int,
    start: dt.datetime | None,
    end: dt.datetime,
    *,
    names: Sequence[str] | None = None,
    batch: int = BATCH,
) -> Iterator[list[Row]]:
    """(external ID, device token, event name, occurred at, params) in time order."""
    query = (
        select(User.external_id, Device.token, Event.name, Event.occurred_at, Event.params)
        .select_from(Event)
        .outerjoin(User, User.id == Event.user_id)
        .outerjoin(Device, Device.id == Event.device_id)
        .where(Event.app_id == app_id, _in_window(Event.occurred_at, start, end))
        .order_by(Event.occurred_at, Event.id)
    )
    if names is not None:
        query = query.where(Event.name.in_(list(names)))
    yield from _stream(session, query, batch)


def installation_rows(
    session: Session,
    app_id: int,
    start: dt.datetime | None,
    end: dt.datetime,
    *,
    batch: int = BATCH,
) -> Iterator[list[Row]]:
    """(external ID, platform, token, app version, OS version, installed at, last seen at,
    push permission, token state) of the devices installed or changed in the window."""
    query = (
        select(
            User.external_id,
            Device.platform,
            Device.token,
            Device.app_version,
            Device.os_version,
            Device.installed_at,
            Device.last_seen_at,
            Device.push_permission,
            Device.token_state,
        )
        .select_from(Device)
        .outerjoin(User, User.id == Device.user_id)
        .where(Device.app_id == app_id)
        .order_by(Device.id)
    )
    if start is None:
        query = query.where(Device.installed_at < end)
    else:
        query = query.where(
            or_(
                _in_window(Device.installed_at, start, end),
                _in_window(Device.updated_at, start, end),
            )
        )
    yield from _stream(session, query, batch)

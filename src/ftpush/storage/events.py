"""Events of users and devices (SPEC §7): lookups for a batch, push opens, the insert.

A batch of events is checked completely before anything is written: the API layer
resolves every device, user and opened message with the read functions here, and
only then calls :func:`mark_opened` and :func:`insert_events`, all in one
transaction, so a bad event leaves nothing half-applied.

Every lookup takes the app id: a device, user or message of another app is simply
not found (tenancy).

Example::

    >>> ref = message_by_id(session, app_id, 42)  # doctest: +SKIP
    >>> mark_opened(session, [ref], when=now)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ftpush.storage import inbox
from ftpush.storage.tables import Campaign, CampaignLine, Device, Event, InboxEntry, Message, User
from ftpush.storage.types import utcnow

_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class DeviceRef:
    id: int
    user_id: int | None


@dataclass(frozen=True, slots=True)
class OpenedRef:
    """What a ``push_opened`` event points at: a campaign line and maybe its message."""

    campaign_id: int
    line_no: int
    user_id: int | None
    message_id: int | None
    device_id: int | None


@dataclass(frozen=True, slots=True)
class EventRow:
    user_id: int | None
    device_id: int | None
    name: str
    occurred_at: dt.datetime
    params: dict[str, Any]


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def devices_by_token(session: Session, app_id: int, tokens: Iterable[str]) -> dict[str, DeviceRef]:
    found: dict[str, DeviceRef] = {}
    for chunk in _chunks(list(dict.fromkeys(tokens))):
        rows = session.execute(
            select(Device.token, Device.id, Device.user_id).where(
                Device.app_id == app_id, Device.token.in_(chunk)
            )
        )
        found.update((token, DeviceRef(did, uid)) for token, did, uid in rows)
    return found


def devices_by_id(session: Session, app_id: int, ids: Iterable[int]) -> dict[int, DeviceRef]:
    found: dict[int, DeviceRef] = {}
    for chunk in _chunks(list(dict.fromkeys(ids))):
        rows = session.execute(
            select(Device.id, Device.user_id).where(Device.app_id == app_id, Device.id.in_(chunk))
        )
        found.update((did, DeviceRef(did, uid)) for did, uid in rows)
    return found


def ensure_users(session: Session, app_id: int, external_ids: Iterable[str]) -> dict[str, int]:
    """External ID → user id, creating the users that do not exist yet.

    Callers validate the IDs first; a concurrent creation of the same user is
    absorbed by ``ON CONFLICT DO NOTHING`` and the second read.
    """
    wanted = list(dict.fromkeys(external_ids))
    found = _user_ids(session, app_id, wanted)
    missing = [ext for ext in wanted if ext not in found]
    if missing:
        now = utcnow()
        rows = [
            {"app_id": app_id, "external_id": ext, "attributes": {}, "created_at": now,
             "updated_at": now}
            for ext in missing
        ]  # fmt: skip
        dialect = session.get_bind().dialect.name
        builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(builder(User).on_conflict_do_nothing(), rows)
        found.update(_user_ids(session, app_id, missing))
    return found


def _user_ids(session: Session, app_id: int, external_ids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(external_ids):
        rows = session.execute(
            select(User.external_id, User.id).where(
                User.app_id == app_id, User.external_id.in_(chunk)
            )
        )
        found.update((ext, uid) for ext, uid in rows)
    return found


_OPENED = (
    Message.campaign_id,
    Message.line_no,
    Message.user_id,
    Message.id,
    Message.device_id,
)


def message_by_id(session: Session, app_id: int, message_id: int) -> OpenedRef | None:
    """A message by its ledger id (what the push payload carries as ``message_id``)."""
    row = session.execute(
        select(*_OPENED)
        .join(Campaign, Campaign.id == Message.campaign_id)
        .where(Message.id == message_id, Campaign.app_id == app_id)
    ).first()
    return OpenedRef(*row) if row is not None else None


def message_by_key(
    session: Session, app_id: int, msg_id: str, line_no: int, device_id: int
) -> OpenedRef | None:
    """A message by its idempotency key ``msg_id:line:device_id``."""
    row = session.execute(
        select(*_OPENED)
        .join(Campaign, Campaign.id == Message.campaign_id)
        .where(
            Campaign.msg_id == msg_id,
            Campaign.app_id == app_id,
            Message.line_no == line_no,
            Message.device_id == device_id,
        )
    ).first()
    return OpenedRef(*row) if row is not None else None


def campaign_msg_id(session: Session, campaign_id: int) -> str | None:
    return session.scalar(select(Campaign.msg_id).where(Campaign.id == campaign_id))


def line_of_user(
    session: Session, app_id: int, msg_id: str, user_id: int, device_id: int | None
) -> OpenedRef | None:
    """The user's line of a campaign (one per user and campaign) and the message opened.

    The message is the one sent to ``device_id`` when the device got one, else the
    user's first message of the line; ``message_id`` is None when no push was made
    (the line only has an inbox entry). The line is found through the user's inbox
    (indexed by user) and, when the inbox was off, through the campaign's lines.
    """
    campaign_id = session.scalar(
        select(Campaign.id).where(Campaign.msg_id == msg_id, Campaign.app_id == app_id)
    )
    if campaign_id is None:
        return None
    line_no = session.scalar(
        select(InboxEntry.line_no).where(
            InboxEntry.user_id == user_id, InboxEntry.campaign_id == campaign_id
        )
    )
    if line_no is None:
        line_no = session.scalar(
            select(CampaignLine.line_no)
            .where(CampaignLine.campaign_id == campaign_id, CampaignLine.user_id == user_id)
            .order_by(CampaignLine.line_no)
            .limit(1)
        )
    if line_no is None:
        return None
    messages = select(Message.id, Message.device_id).where(
        Message.campaign_id == campaign_id, Message.line_no == line_no
    )
    row = None
    if device_id is not None:
        row = session.execute(messages.where(Message.device_id == device_id)).first()
    if row is None:
        row = session.execute(messages.order_by(Message.id).limit(1)).first()
    message_id, sent_to = (row[0], row[1]) if row is not None else (None, None)
    return OpenedRef(campaign_id, line_no, user_id, message_id, sent_to)


def mark_opened(session: Session, opened: Iterable[tuple[OpenedRef, dt.datetime]]) -> None:
    """Messages clicked (the first open's time is kept) and their inbox entries read."""
    first: dict[int, dt.datetime] = {}
    lines: dict[tuple[int, int], dt.datetime] = {}
    for ref, when in opened:
        if ref.message_id is not None:
            first[ref.message_id] = min(when, first.get(ref.message_id, when))
        key = (ref.campaign_id, ref.line_no)
        lines[key] = min(when, lines.get(key, when))
    for message_id, when in first.items():
        session.execute(
            update(Message)
            .where(Message.id == message_id, Message.clicked_at.is_(None))
            .values(clicked_at=when)
            .execution_options(synchronize_session=False)
        )
    by_time: dict[dt.datetime, list[tuple[int, int]]] = {}
    for key, when in lines.items():
        by_time.setdefault(when, []).append(key)
    for when, keys in by_time.items():
        inbox.mark_lines_read(session, keys, when=when)


def insert_events(session: Session, app_id: int, rows: Sequence[EventRow]) -> None:
    if not rows:
        return
    now = utcnow()
    session.execute(
        insert(Event),
        [
            {"app_id": app_id, "user_id": r.user_id, "device_id": r.device_id, "name": r.name,
             "occurred_at": r.occurred_at, "params": r.params, "received_at": now}
            for r in rows
        ],
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class RecentEvent:
    """An event of a user, with the token of the device it came from (if any)."""

    name: str
    occurred_at: dt.datetime
    params: dict[str, Any]
    device_token: str | None


def recent_user_events(
    session: Session, app_id: int, user_id: int, *, since: dt.datetime, limit: int
) -> list[RecentEvent]:
    """The user's latest events that occurred from ``since`` on, newest first.

    Events are indexed by app and time, not by user: ``since`` bounds the scan.
    """
    rows = session.execute(
        select(Event.name, Event.occurred_at, Event.params, Device.token)
        .select_from(Event)
        .outerjoin(Device, Device.id == Event.device_id)
        .where(Event.app_id == app_id, Event.occurred_at >= since, Event.user_id == user_id)
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(limit)
    )
    return [RecentEvent(name, at, dict(params or {}), token) for name, at, params, token in rows]

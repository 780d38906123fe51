"""A user's in-app Inbox: list by status (newest first), count unread, change status.

Entries are written by the delivery ledger (one per campaign line); this module only
reads them and moves them between ``unread``, ``read`` and ``deleted``. Every
function takes the app and the user, so an entry of another user or app is simply
not found (tenancy).

Example::

    >>> page = list_entries(session, user_id, status=None, limit=50)  # doctest: +SKIP
    >>> unread_count(session, user_id)  # doctest: +SKIP
    3
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from ftpush.errors import NotFound
from ftpush.models import InboxStatus
from ftpush.storage.tables import Campaign, InboxEntry
from ftpush.storage.types import utcnow

_CHUNK = 200  # (campaign, line) pairs per statement: 400 bound parameters


@dataclass(frozen=True, slots=True)
class Entry:
    """An inbox entry with its campaign's public id."""

    entry: InboxEntry
    msg_id: str


def list_entries(
    session: Session,
    user_id: int,
    *,
    status: InboxStatus | None,
    limit: int,
    before_id: int | None = None,
) -> list[Entry]:
    """Newest first; ``status=None`` lists unread and read (not deleted) entries."""
    query = (
        select(InboxEntry, Campaign.msg_id)
        .join(Campaign, Campaign.id == InboxEntry.campaign_id)
        .where(InboxEntry.user_id == user_id)
    )
    if status is None:
        query = query.where(InboxEntry.status != InboxStatus.DELETED)
    else:
        query = query.where(InboxEntry.status == status)
    if before_id is not None:
        query = query.where(InboxEntry.id < before_id)
    rows = session.execute(query.order_by(InboxEntry.id.desc()).limit(limit))
    return [Entry(entry, msg_id) for entry, msg_id in rows]


def unread_count(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(InboxEntry)
            .where(InboxEntry.user_id == user_id, InboxEntry.status == InboxStatus.UNREAD)
        )
        or 0
    )


def get_entry(session: Session, app_id: int, user_id: int, entry_id: int) -> Entry:
    """One entry of this user of this app; NotFound otherwise (whoever else owns it)."""
    row = session.execute(
        select(InboxEntry, Campaign.msg_id)
        .join(Campaign, Campaign.id == InboxEntry.campaign_id)
        .where(
            InboxEntry.id == entry_id,
            InboxEntry.app_id == app_id,
            InboxEntry.user_id == user_id,
        )
    ).first()
    if row is None:
        raise NotFound(f"inbox entry {entry_id} does not exist")
    return Entry(row[0], row[1])


def set_status(entry: InboxEntry, status: InboxStatus, *, now: dt.datetime | None = None) -> None:
    """Move an entry to ``status``; ``read_at`` and ``deleted_at`` follow it.

    ``read_at`` is the first time it was read (kept when it is deleted later);
    ``unread`` clears both stamps, a way back from ``deleted`` included.
    """
    now = now or utcnow()
    if status is InboxStatus.UNREAD:
        entry.read_at = None
        entry.deleted_at = None
    elif status is InboxStatus.READ:
        entry.read_at = entry.read_at or now
        entry.deleted_at = None
    else:
        entry.deleted_at = entry.deleted_at or now
    entry.status = status


def mark_lines_read(
    session: Session, lines: Iterable[tuple[int, int]], *, when: dt.datetime
) -> int:
    """Unread entries of these (campaign id, line) pairs become read; returns how many.

    Read or deleted entries stay as they are (an open never undeletes).
    """
    pairs: Sequence[tuple[int, int]] = list(dict.fromkeys(lines))
    marked = 0
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        result = session.execute(
            update(InboxEntry)
            .where(
                or_(
                    *(and_(InboxEntry.campaign_id == c, InboxEntry.line_no == n) for c, n in chunk)
                ),
                InboxEntry.status == InboxStatus.UNREAD,
            )
            .values(status=InboxStatus.READ, read_at=when)
            .execution_options(synchronize_session=False)
        )
        marked += int(result.rowcount)  # type: ignore[attr-defined]
    return marked


def recent_entries(session: Session, user_id: int, *, limit: int) -> list[Entry]:
    """The user's latest entries in every status (deleted too), newest first."""
    rows = session.execute(
        select(InboxEntry, Campaign.msg_id)
        .join(Campaign, Campaign.id == InboxEntry.campaign_id)
        .where(InboxEntry.user_id == user_id)
        .order_by(InboxEntry.id.desc())
        .limit(limit)
    )
    return [Entry(entry, msg_id) for entry, msg_id in rows]


def status_counts(session: Session, user_id: int) -> dict[str, int]:
    """How many of the user's entries are unread, read and deleted (every status named)."""
    counts = {str(status): 0 for status in InboxStatus}
    rows = session.execute(
        select(InboxEntry.status, func.count())
        .where(InboxEntry.user_id == user_id)
        .group_by(InboxEntry.status)
    )
    counts.update((str(status), int(n)) for status, n in rows)
    return counts

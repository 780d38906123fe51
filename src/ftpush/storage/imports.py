"""Import files: recording what arrived, duplicate detection, history.

A file is recorded once: ``spool_path`` is unique, so a restart that finds a
spooled file it had already recorded gets the existing row back. Duplicate
detection (SPEC §2) is serialised per (app, content) so two uploads of the
same bytes at the same moment cannot both be processed.

Example::

    >>> rec = record_import(session, NewImport(app_id=1, name="push.csv", ...))  # doctest: +SKIP
    >>> rec.duplicate_of is None
    True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.orm import Session

from ftpush.errors import NotFound
from ftpush.models import CampaignStatus, ImportKind, ImportSource, ImportStatus, MessageStatus
from ftpush.storage.apps import get_app
from ftpush.storage.tables import Campaign, ImportFile, Message
from ftpush.storage.types import utcnow

# A file whose content equals one of these (same app, within the window) is a duplicate.
# Files still in flight count too: otherwise a client retrying quickly would be sent twice.
IN_FLIGHT = (ImportStatus.RECEIVED, ImportStatus.PROCESSING)
COUNTS_FOR_DUPLICATES = (*IN_FLIGHT, ImportStatus.DONE, ImportStatus.PARTIAL)
# What an operator may force a reprocess of: finished files whose content was kept.
REPROCESSABLE = frozenset(
    {ImportStatus.DONE, ImportStatus.PARTIAL, ImportStatus.DUPLICATE, ImportStatus.FAILED}
)


@dataclass(frozen=True)
class NewImport:
    """Everything known about a file when it is handed over."""

    app_id: int
    name: str
    folder: str
    kind: ImportKind
    dry_run: bool
    sha256: str
    size: int
    source: ImportSource
    received_by: str | None
    remote_addr: str | None
    spool_path: str | None
    remote_server_id: int | None = None
    status: ImportStatus = ImportStatus.RECEIVED
    error_code: str | None = None
    error_message: str | None = None
    # An operator's reprocess of kept content: processed even if it was seen before.
    forced: bool = False


@dataclass(frozen=True)
class Recorded:
    """The recorded row; ``duplicate_of`` is set when it was found to be a duplicate."""

    import_file: ImportFile
    duplicate_of: ImportFile | None
    created: bool


def _lock_content(session: Session, app_id: int, sha256: str) -> None:
    # SQLite transactions already hold the database write lock (BEGIN IMMEDIATE);
    # PostgreSQL needs an explicit lock so two sessions cannot both miss each other.
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(bytes.fromhex(sha256[:16]), "big", signed=True) ^ app_id
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def find_duplicate(
    session: Session,
    app_id: int,
    sha256: str,
    window_days: int,
    now: dt.datetime,
    statuses: Sequence[ImportStatus] = COUNTS_FOR_DUPLICATES,
) -> ImportFile | None:
    """The earlier file of this app with the same content that makes this one a duplicate."""
    return session.scalar(
        select(ImportFile)
        .where(
            ImportFile.app_id == app_id,
            ImportFile.sha256 == sha256,
            ImportFile.dry_run.is_(False),
            ImportFile.status.in_(statuses),
            ImportFile.received_at >= now - dt.timedelta(days=window_days),
        )
        .order_by(ImportFile.id)
        .limit(1)
    )


def record_import(
    session: Session, new: NewImport, *, window_days: int = 30, now: dt.datetime | None = None
) -> Recorded:
    """Record a received file once, marking it ``duplicate`` when its content was seen.

    A ``forced`` file (an operator's reprocess) is compared only with files still in
    flight: what was processed before does not stop it, but a second press of the
    button while the first reprocess is queued or running is still a duplicate.
    """
    if new.spool_path is not None:
        existing = session.scalar(select(ImportFile).where(ImportFile.spool_path == new.spool_path))
        if existing is not None:
            return Recorded(existing, None, created=False)
    now = now or utcnow()
    status, duplicate = new.status, None
    if status is ImportStatus.RECEIVED and not new.dry_run:
        _lock_content(session, new.app_id, new.sha256)
        duplicate = find_duplicate(
            session, new.app_id, new.sha256, window_days, now,
            statuses=IN_FLIGHT if new.forced else COUNTS_FOR_DUPLICATES,
        )  # fmt: skip
        if duplicate is not None:
            status = ImportStatus.DUPLICATE
    if duplicate is None:
        error_code, error_message = new.error_code, new.error_message
    elif new.forced:
        state = "queued" if duplicate.status is ImportStatus.RECEIVED else "being processed"
        error_code, error_message = (
            "duplicate",
            (
                f"import {duplicate.id} ({duplicate.name}) of the same content is still {state}; "
                "reprocess again once it has finished"
            ),
        )
    else:
        error_code, error_message = (
            "duplicate",
            (
                f"same content as import {duplicate.id} ({duplicate.name}) received "
                f"{duplicate.received_at:%Y-%m-%d %H:%M} UTC"
            ),
        )
    row = ImportFile(
        app_id=new.app_id,
        name=new.name,
        folder=new.folder,
        kind=new.kind,
        dry_run=new.dry_run,
        sha256=new.sha256,
        size=new.size,
        source=new.source,
        received_by=new.received_by,
        remote_addr=new.remote_addr,
        spool_path=new.spool_path,
        remote_server_id=new.remote_server_id,
        forced=new.forced,
        status=status,
        error_code=error_code,
        error_message=error_message,
        received_at=now,
        finished_at=None if status is ImportStatus.RECEIVED else now,
        counts={},
    )
    session.add(row)
    session.flush()
    return Recorded(row, duplicate, created=True)


def get_import(session: Session, import_id: int, app_id: int | None = None) -> ImportFile:
    """One import file; with ``app_id`` it must belong to that app (tenancy)."""
    row = session.get(ImportFile, import_id)
    if row is None or (app_id is not None and row.app_id != app_id):
        raise NotFound(f"import {import_id} does not exist")
    return row


def list_imports(
    session: Session, app_key: str, *, limit: int = 50, before_id: int | None = None
) -> Sequence[ImportFile]:
    """Newest first; ``before_id`` is the cursor of the next page."""
    app = get_app(session, app_key)
    query = select(ImportFile).where(ImportFile.app_id == app.id)
    if before_id is not None:
        query = query.where(ImportFile.id < before_id)
    return session.scalars(query.order_by(ImportFile.id.desc()).limit(limit)).all()


def imports_by_ids(session: Session, app_id: int, import_ids: Sequence[int]) -> list[ImportFile]:
    """These imports of the app (another app's ids are left out), newest first."""
    if not import_ids:
        return []
    query = select(ImportFile).where(
        ImportFile.app_id == app_id, ImportFile.id.in_(list(import_ids))
    )
    return list(session.scalars(query.order_by(ImportFile.id.desc())))


@dataclass(frozen=True)
class CampaignProgress:
    """Where the campaign of a push file is: its status and its messages by status."""

    msg_id: str
    status: CampaignStatus
    messages: dict[str, int]

    @property
    def pushes(self) -> int:
        return sum(self.messages.values())

    @property
    def sent(self) -> int:
        return self.messages.get(MessageStatus.SENT, 0)

    @property
    def failed(self) -> int:
        return self.messages.get(MessageStatus.FAILED, 0) + self.messages.get(
            MessageStatus.INVALID_TOKEN, 0
        )

    @property
    def waiting(self) -> int:
        return self.messages.get(MessageStatus.PENDING, 0) + self.messages.get(
            MessageStatus.LEASED, 0
        )

    @property
    def cancelled(self) -> int:
        return self.messages.get(MessageStatus.CANCELLED, 0)

    @property
    def running(self) -> bool:
        """Still sending (or about to): it can be cancelled."""
        return self.status in (CampaignStatus.PENDING, CampaignStatus.RUNNING)


def campaign_progress(session: Session, import_ids: Sequence[int]) -> dict[int, CampaignProgress]:
    """The campaign of each of these push files, with its messages counted by status."""
    if not import_ids:
        return {}
    campaigns = session.execute(
        select(Campaign.id, Campaign.import_file_id, Campaign.msg_id, Campaign.status).where(
            Campaign.import_file_id.in_(list(import_ids))
        )
    ).all()
    counts: dict[int, dict[str, int]] = {c.id: {} for c in campaigns}
    if counts:
        rows = session.execute(
            select(Message.campaign_id, Message.status, func.count())
            .where(Message.campaign_id.in_(list(counts)))
            .group_by(Message.campaign_id, Message.status)
        )
        for campaign_id, status, n in rows:
            counts[campaign_id][str(status)] = int(n)
    return {
        c.import_file_id: CampaignProgress(c.msg_id, c.status, counts[c.id])
        for c in campaigns
        if c.import_file_id is not None
    }


def campaign_msg_ids(session: Session, import_ids: Sequence[int]) -> dict[int, str]:
    """The msg_id of each of these push files' campaigns (files without one are absent)."""
    if not import_ids:
        return {}
    rows = session.execute(
        select(Campaign.import_file_id, Campaign.msg_id).where(
            Campaign.import_file_id.in_(list(import_ids))
        )
    )
    return {file_id: msg_id for file_id, msg_id in rows if file_id is not None}


def recorded_spool_paths(session: Session, paths: Sequence[str]) -> set[str]:
    """Which of these spool paths already have a row (start-up recovery)."""
    if not paths:
        return set()
    rows = session.scalars(select(ImportFile.spool_path).where(ImportFile.spool_path.in_(paths)))
    return {p for p in rows if p is not None}


FINAL_STATUSES = (
    ImportStatus.DONE,
    ImportStatus.PARTIAL,
    ImportStatus.FAILED,
    ImportStatus.DUPLICATE,
    ImportStatus.INCOMPLETE,
)


def pending_result_uploads(session: Session, remote_server_id: int) -> Sequence[ImportFile]:
    """Pulled files that reached a final status but whose results are not yet sent back."""
    return session.scalars(
        select(ImportFile)
        .where(
            ImportFile.remote_server_id == remote_server_id,
            ImportFile.status.in_(FINAL_STATUSES),
            ImportFile.results_delivered_at.is_(None),
        )
        .order_by(ImportFile.id)
    ).all()


def mark_results_delivered(session: Session, import_id: int, when: dt.datetime) -> None:
    row = session.get(ImportFile, import_id)
    if row is not None:
        row.results_delivered_at = when


# --- processing leases ------------------------------------------------------------


def claim_import(
    session: Session, import_id: int, owner: str, lease_seconds: float, now: dt.datetime
) -> ImportFile | None:
    """Take a received file (or one whose worker's lease ran out) for processing."""
    result = session.execute(
        update(ImportFile)
        .where(
            ImportFile.id == import_id,
            or_(
                ImportFile.status == ImportStatus.RECEIVED,
                and_(
                    ImportFile.status == ImportStatus.PROCESSING,
                    or_(ImportFile.lease_expires_at.is_(None), ImportFile.lease_expires_at < now),
                ),
            ),
        )
        .values(
            status=ImportStatus.PROCESSING,
            lease_owner=owner,
            lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
            started_at=func.coalesce(ImportFile.started_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(ImportFile, import_id, populate_existing=True)


def renew_import(
    session: Session,
    import_id: int,
    owner: str,
    lease_seconds: float,
    now: dt.datetime,
    *,
    checkpoint_line: int | None = None,
) -> bool:
    """Extend our lease (and move the checkpoint); False when the lease was lost."""
    values: dict[str, object] = {"lease_expires_at": now + dt.timedelta(seconds=lease_seconds)}
    if checkpoint_line is not None:
        values["checkpoint_line"] = checkpoint_line
    result = session.execute(
        update(ImportFile)
        .where(
            ImportFile.id == import_id,
            ImportFile.lease_owner == owner,
            ImportFile.status == ImportStatus.PROCESSING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def unfinished_imports(session: Session, now: dt.datetime) -> list[int]:
    """Files waiting for a worker, or whose worker died (the sweeper re-enqueues them)."""
    rows = session.scalars(
        select(ImportFile.id).where(
            or_(
                ImportFile.status == ImportStatus.RECEIVED,
                and_(
                    ImportFile.status == ImportStatus.PROCESSING,
                    or_(ImportFile.lease_expires_at.is_(None), ImportFile.lease_expires_at < now),
                ),
            )
        )
    )
    return list(rows)

"""Export destinations, runs and deliveries of an app's reports (SPEC §5).

An app has at most one destination: a remote server of its own (the
``remote_servers`` row called :data:`EXPORT_SERVER_NAME`, secrets encrypted) and a
path there, or — ``remote_server_id`` ``NULL`` — its own dropbox ``reports/``.
Every run (nightly, Send, retry) is an ``export_runs`` row; a nightly run carries
an idempotency key so a night runs once across workers. Every file of a run is an
``export_deliveries`` row that records its outcome attempt by attempt.

Example::

    >>> set_destination(session, box, DestinationSpec(app_key="demo", path="/in",
    ...     remote=RemoteServerSpec(app_key="demo", name=EXPORT_SERVER_NAME, ...)))
    ... # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ftpush.crypto import SecretBox
from ftpush.errors import InvalidInput, NotFound
from ftpush.models import DeliveryStatus, ExportFormat, ExportTrigger, JobStatus, ReportName
from ftpush.storage.apps import get_app
from ftpush.storage.remotes import RemoteServerSpec, save_remote_server
from ftpush.storage.tables import App, ExportDelivery, ExportDestination, ExportRun, RemoteServer

EXPORT_SERVER_NAME = "export"
DELIMITERS = {",": ",", ";": ";", "|": "|", "~": "~", "^": "^", "\t": "\t", "tab": "\t"}
DROPBOX = "dropbox"


@dataclass(frozen=True)
class DestinationSpec:
    """Where an app's reports go. ``remote`` ``None`` means the app's dropbox ``reports/``.

    ``reports`` empty means every report of SPEC §5.
    """

    app_key: str
    remote: RemoteServerSpec | None = None
    path: str = "/"
    reports: tuple[str, ...] = field(default_factory=tuple)
    format: ExportFormat = ExportFormat.XLSX
    delimiter: str = ","
    schedule_enabled: bool = True


def normalize_delimiter(delimiter: str) -> str:
    """One of ``,`` ``;`` ``|`` ``~`` ``^`` or tab (``tab`` and ``\\t`` accepted).

    >>> normalize_delimiter("tab") == "\\t", normalize_delimiter(";")
    (True, ';')
    """
    value = DELIMITERS.get(delimiter.replace("\\t", "\t"))
    if value is None:
        raise InvalidInput(
            f"delimiter {delimiter!r} is not allowed: use , ; | ~ ^ or tab", field="delimiter"
        )
    return value


def normalize_reports(reports: Sequence[str]) -> list[str]:
    """Known report names, deduplicated in the given order.

    >>> normalize_reports(["events", "campaigns", "events"])
    ['events', 'campaigns']
    """
    known = {r.value for r in ReportName}
    out: list[str] = []
    for name in reports:
        if name not in known:
            raise InvalidInput(
                f"unknown report {name!r}: use {', '.join(sorted(known))}", field="reports"
            )
        if name not in out:
            out.append(name)
    return out


def set_destination(session: Session, box: SecretBox, spec: DestinationSpec) -> ExportDestination:
    """Create or replace the app's export destination (and its remote server)."""
    app = get_app(session, spec.app_key)
    reports = normalize_reports(spec.reports)
    delimiter = normalize_delimiter(spec.delimiter)
    path = spec.path or "/"
    if "\x00" in path or "\n" in path or "\r" in path or len(path) > 1000:
        raise InvalidInput("invalid export path", field="path")
    server_id: int | None = None
    if spec.remote is not None:
        if spec.remote.app_key != spec.app_key or spec.remote.name != EXPORT_SERVER_NAME:
            raise InvalidInput("the export server belongs to the same app", field="remote")
        server_id = save_remote_server(session, box, spec.remote).id
    dest = session.scalar(select(ExportDestination).where(ExportDestination.app_id == app.id))
    if dest is None:
        dest = ExportDestination(app_id=app.id)
        session.add(dest)
    dest.remote_server_id = server_id
    dest.path = path if spec.remote is not None else "/reports"
    dest.reports = reports
    dest.format = ExportFormat(spec.format)
    dest.delimiter = delimiter
    dest.schedule_enabled = spec.schedule_enabled
    session.flush()
    if spec.remote is None:  # a dropbox destination keeps no stale credentials
        old = session.scalar(
            select(RemoteServer).where(
                RemoteServer.app_id == app.id, RemoteServer.name == EXPORT_SERVER_NAME
            )
        )
        if old is not None:
            session.delete(old)
            session.flush()
    return dest


def find_destination(
    session: Session, app_key: str
) -> tuple[ExportDestination, RemoteServer | None] | None:
    """The app's destination and its server (``None`` for the dropbox), if it has one."""
    app = get_app(session, app_key)
    dest = session.scalar(select(ExportDestination).where(ExportDestination.app_id == app.id))
    if dest is None:
        return None
    server = session.get(RemoteServer, dest.remote_server_id) if dest.remote_server_id else None
    return dest, server


def get_destination(
    session: Session, app_key: str
) -> tuple[ExportDestination, RemoteServer | None]:
    """Like :func:`find_destination`, or :class:`NotFound`."""
    found = find_destination(session, app_key)
    if found is None:
        raise NotFound(
            f"app {app_key!r} has no export destination: set one with `ftpush export destination`"
        )
    return found


def scheduled_destinations(session: Session) -> Sequence[tuple[App, ExportDestination]]:
    """Apps whose reports go out every night (schedule on)."""
    rows = session.execute(
        select(App, ExportDestination)
        .join(ExportDestination, ExportDestination.app_id == App.id)
        .where(ExportDestination.schedule_enabled.is_(True))
        .order_by(App.id)
    ).all()
    return [(app, dest) for app, dest in rows]


def destination_label(dest: ExportDestination, server: RemoteServer | None) -> str:
    """``sftp://user@host:port/path`` or ``dropbox:/reports`` — safe to show and record."""
    if server is None:
        return f"{DROPBOX}:/reports"
    path = dest.path if dest.path.startswith("/") else f"/{dest.path}"
    return f"{server.protocol}://{server.username}@{server.host}:{server.port}{path}"


# --- runs and deliveries ---------------------------------------------------------------


def start_run(
    session: Session,
    app_key: str,
    *,
    trigger: ExportTrigger,
    window_start: dt.date,
    window_end: dt.date,
    idempotency_key: str | None = None,
    requested_by: str | None = None,
) -> ExportRun | None:
    """A new run, or ``None`` when a run with ``idempotency_key`` already exists."""
    if window_end < window_start:
        raise InvalidInput("the window ends before it starts", field="window")
    app = get_app(session, app_key)
    run = ExportRun(
        app_id=app.id,
        trigger=ExportTrigger(trigger),
        idempotency_key=idempotency_key,
        window_start=window_start,
        window_end=window_end,
        requested_by=requested_by,
        status=JobStatus.RUNNING,
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        if idempotency_key is None:
            raise
        return None
    return run


def add_delivery(
    session: Session,
    run_id: int,
    *,
    report: str,
    file_name: str,
    destination: str,
    rows: int,
    size: int,
    sha256: str,
) -> ExportDelivery:
    """Record a file to deliver (``pending``, no attempt yet)."""
    delivery = ExportDelivery(
        run_id=run_id,
        report=report,
        file_name=file_name,
        destination=destination,
        rows=rows,
        bytes=size,
        sha256=sha256,
        status=DeliveryStatus.PENDING,
        attempts=0,
    )
    session.add(delivery)
    session.flush()
    return delivery


def get_delivery(session: Session, delivery_id: int) -> ExportDelivery:
    delivery = session.get(ExportDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"export delivery {delivery_id} does not exist")
    return delivery


def record_attempt(
    session: Session,
    delivery_id: int,
    *,
    now: dt.datetime,
    error: str | None = None,
    next_attempt_at: dt.datetime | None = None,
) -> ExportDelivery:
    """One attempt's outcome: delivered (no ``error``), retrying (a next attempt) or failed."""
    delivery = get_delivery(session, delivery_id)
    delivery.attempts += 1
    delivery.error = error
    if error is None:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif next_attempt_at is not None:
        delivery.status = DeliveryStatus.RETRYING
        delivery.next_attempt_at = next_attempt_at
    else:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    session.flush()
    return delivery


def finish_run(session: Session, run_id: int, *, now: dt.datetime) -> ExportRun:
    """Close a run once none of its deliveries is pending or retrying."""
    run = session.get(ExportRun, run_id)
    if run is None:
        raise NotFound(f"export run {run_id} does not exist")
    statuses = set(
        session.scalars(select(ExportDelivery.status).where(ExportDelivery.run_id == run_id))
    )
    if statuses & {DeliveryStatus.PENDING, DeliveryStatus.RETRYING}:
        run.status = JobStatus.RUNNING
        run.finished_at = None
    else:
        run.status = JobStatus.FAILED if DeliveryStatus.FAILED in statuses else JobStatus.DONE
        run.finished_at = now
    session.flush()
    return run


def due_deliveries(
    session: Session, now: dt.datetime, *, app_key: str | None = None
) -> Sequence[tuple[ExportDelivery, ExportRun, App]]:
    """Deliveries waiting for another attempt whose time has come, oldest first."""
    query = (
        select(ExportDelivery, ExportRun, App)
        .join(ExportRun, ExportRun.id == ExportDelivery.run_id)
        .join(App, App.id == ExportRun.app_id)
        .where(
            ExportDelivery.status == DeliveryStatus.RETRYING,
            ExportDelivery.next_attempt_at <= now,
        )
        .order_by(ExportDelivery.next_attempt_at, ExportDelivery.id)
    )
    if app_key is not None:
        query = query.where(App.key == app_key)
    return [(d, r, a) for d, r, a in session.execute(query).all()]


def list_deliveries(
    session: Session, app_key: str, *, limit: int = 100, before_id: int | None = None
) -> Sequence[tuple[ExportDelivery, ExportRun]]:
    """The app's delivery history, newest first; ``before_id`` is the next page's cursor."""
    app = get_app(session, app_key)
    query = (
        select(ExportDelivery, ExportRun)
        .join(ExportRun, ExportRun.id == ExportDelivery.run_id)
        .where(ExportRun.app_id == app.id)
    )
    if before_id is not None:
        query = query.where(ExportDelivery.id < before_id)
    rows = session.execute(query.order_by(ExportDelivery.id.desc()).limit(limit)).all()
    return [(d, r) for d, r in rows]


def sends_since(session: Session, app_key: str, since: dt.datetime) -> int:
    """Manual Send runs of the app created since ``since`` (the daily limit counts them)."""
    app = get_app(session, app_key)
    return int(
        session.scalar(
            select(func.count())
            .select_from(ExportRun)
            .where(
                ExportRun.app_id == app.id,
                ExportRun.trigger == ExportTrigger.SEND,
                ExportRun.created_at >= since,
            )
        )
        or 0
    )

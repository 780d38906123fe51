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
from dataclasses import dataclass, field, replace

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ftpush.crypto import SecretBox
from ftpush.errors import Conflict, InvalidInput, NotFound
from ftpush.models import (
    DeliveryStatus,
    ExportFormat,
    ExportTrigger,
    JobStatus,
    RemoteProtocol,
    ReportName,
)
from ftpush.storage.apps import get_app
from ftpush.storage.remotes import DEFAULT_PORTS, RemoteServerSpec, credentials, save_remote_server
from ftpush.storage.tables import App, ExportDelivery, ExportDestination, ExportRun, RemoteServer

EXPORT_SERVER_NAME = "export"
DELIMITERS = {",": ",", ";": ";", "|": "|", "~": "~", "^": "^", "\t": "\t", "tab": "\t"}
DROPBOX = "dropbox"


@dataclass(frozen=True)
class DestinationSpec:
    """Where an app's reports go. ``remote`` ``None`` means the app's dropbox ``reports/``.

    ``reports`` empty means every report of SPEC §5.

    ``keep_password`` / ``keep_private_key``: a ``remote`` without that secret keeps the
    one stored for the app's export server (a form that never shows secrets leaves them
    empty to mean "unchanged"). The password is kept only while protocol, host, port and
    username stay the same — it is sent to the server at login, so a changed server must
    be given it again; the private key (never sent) is kept while the protocol is SFTP.
    """

    app_key: str
    remote: RemoteServerSpec | None = None
    path: str = "/"
    reports: tuple[str, ...] = field(default_factory=tuple)
    format: ExportFormat = ExportFormat.XLSX
    delimiter: str = ","
    schedule_enabled: bool = True
    keep_password: bool = False
    keep_private_key: bool = False


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
        remote = _with_kept_secrets(session, box, app.id, spec, spec.remote)
        server_id = save_remote_server(session, box, remote).id
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


def _with_kept_secrets(
    session: Session, box: SecretBox, app_id: int, spec: DestinationSpec, remote: RemoteServerSpec
) -> RemoteServerSpec:
    """``remote`` with the stored secrets it leaves out and may keep (see DestinationSpec)."""
    if not (spec.keep_password or spec.keep_private_key):
        return remote
    old = session.scalar(
        select(RemoteServer).where(
            RemoteServer.app_id == app_id, RemoteServer.name == EXPORT_SERVER_NAME
        )
    )
    if old is None:
        return remote
    stored = credentials(box, old)
    protocol = RemoteProtocol(remote.protocol)
    same_login = (old.protocol, old.host, old.port, old.username) == (
        protocol, remote.host, remote.port or DEFAULT_PORTS[protocol], remote.username,
    )  # fmt: skip
    if spec.keep_password and remote.password is None and stored.password and same_login:
        remote = replace(remote, password=stored.password)
    if (
        spec.keep_private_key
        and remote.private_key is None
        and stored.private_key
        and protocol is RemoteProtocol.SFTP
    ):
        remote = replace(remote, private_key=stored.private_key, public_key=old.public_key)
    return remote


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
    """Apps whose reports go out every night: the offer on and the schedule on."""
    rows = session.execute(
        select(App, ExportDestination)
        .join(ExportDestination, ExportDestination.app_id == App.id)
        .where(ExportDestination.schedule_enabled.is_(True), App.ftp_enabled.is_(True))
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
    retry_until: dt.datetime | None = None,
) -> ExportRun | None:
    """A new run, or ``None`` when a run with ``idempotency_key`` already exists.

    Failed attempts of its files are retried until ``retry_until`` (no bound: the
    backoff's attempt limit alone).
    """
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
        retry_until=retry_until,
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
    delivery.attempting_until = None
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


def claim_due_deliveries(
    session: Session,
    now: dt.datetime,
    *,
    lease_until: dt.datetime,
    app_key: str | None = None,
    limit: int = 1000,
) -> Sequence[tuple[ExportDelivery, ExportRun, App]]:
    """Deliveries waiting for another attempt whose time has come, oldest first, claimed.

    Each is claimed by setting its ``attempting_until`` to ``lease_until`` with a
    conditional update, so two processes never attempt the same delivery at once;
    recording the attempt lets go (and if the process died, the lease runs out).
    """
    query = (
        select(ExportDelivery, ExportRun, App)
        .join(ExportRun, ExportRun.id == ExportDelivery.run_id)
        .join(App, App.id == ExportRun.app_id)
        .where(
            ExportDelivery.status == DeliveryStatus.RETRYING,
            ExportDelivery.next_attempt_at <= now,
            _free(now),
        )
        .order_by(ExportDelivery.next_attempt_at, ExportDelivery.id)
        .limit(limit)
    )
    if app_key is not None:
        query = query.where(App.key == app_key)
    claimed = []
    for delivery, run, app in session.execute(query).all():
        if _lease(session, delivery.id, [DeliveryStatus.RETRYING], now, lease_until):
            delivery.attempting_until = lease_until
            claimed.append((delivery, run, app))
    return claimed


def get_app_delivery(
    session: Session, app_key: str, delivery_id: int
) -> tuple[ExportDelivery, ExportRun]:
    """One of the app's deliveries and its run, or :class:`NotFound`."""
    app = get_app(session, app_key)
    row = session.execute(
        select(ExportDelivery, ExportRun)
        .join(ExportRun, ExportRun.id == ExportDelivery.run_id)
        .where(ExportDelivery.id == delivery_id, ExportRun.app_id == app.id)
    ).first()
    if row is None:
        raise NotFound(f"app {app_key!r} has no export delivery {delivery_id}")
    return row[0], row[1]


def claim_for_retry(
    session: Session, app_key: str, delivery_id: int, *, now: dt.datetime, lease_until: dt.datetime
) -> tuple[ExportDelivery, ExportRun]:
    """Claim one of the app's ``failed`` or ``retrying`` deliveries for a manual retry now.

    :class:`NotFound` if the delivery is not the app's; :class:`Conflict` if it was
    delivered or another process is attempting it right now.
    """
    delivery, run = get_app_delivery(session, app_key, delivery_id)
    if delivery.status in {DeliveryStatus.DELIVERED, DeliveryStatus.PENDING}:
        raise Conflict(f"export delivery {delivery_id} is {delivery.status}: nothing to retry")
    statuses = [DeliveryStatus.FAILED, DeliveryStatus.RETRYING]
    if not _lease(session, delivery_id, statuses, now, lease_until):
        raise Conflict(f"export delivery {delivery_id} is being attempted right now")
    session.refresh(delivery)
    run.alerted_at = None  # failing again is worth telling again
    run.alert_error = None
    session.flush()
    return delivery, run


def _free(now: dt.datetime) -> ColumnElement[bool]:
    """No process is attempting the delivery (none claimed it, or its lease ran out)."""
    return ExportDelivery.attempting_until.is_(None) | (ExportDelivery.attempting_until < now)


def _lease(
    session: Session,
    delivery_id: int,
    statuses: Sequence[DeliveryStatus],
    now: dt.datetime,
    lease_until: dt.datetime,
) -> bool:
    """Claim a delivery in one of ``statuses`` that no process is attempting."""
    result = session.execute(
        update(ExportDelivery)
        .where(ExportDelivery.id == delivery_id, ExportDelivery.status.in_(statuses), _free(now))
        .values(attempting_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def resume_run(session: Session, run_id: int, *, now: dt.datetime) -> int:
    """Make the never-attempted files of a run (its process died) due now; how many."""
    result = session.execute(
        update(ExportDelivery)
        .where(ExportDelivery.run_id == run_id, ExportDelivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.RETRYING, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def find_run(session: Session, idempotency_key: str) -> ExportRun | None:
    return session.scalar(select(ExportRun).where(ExportRun.idempotency_key == idempotency_key))


def run_deliveries(session: Session, run_id: int) -> Sequence[ExportDelivery]:
    return session.scalars(
        select(ExportDelivery).where(ExportDelivery.run_id == run_id).order_by(ExportDelivery.id)
    ).all()


# --- alerts -------------------------------------------------------------------------------


def runs_to_alert(session: Session, *, since: dt.datetime) -> Sequence[tuple[ExportRun, App]]:
    """Runs that ended ``failed`` since ``since`` and whose contacts were not told yet."""
    rows = session.execute(
        select(ExportRun, App)
        .join(App, App.id == ExportRun.app_id)
        .where(
            ExportRun.status == JobStatus.FAILED,
            ExportRun.alerted_at.is_(None),
            ExportRun.finished_at >= since,
        )
        .order_by(ExportRun.id)
    ).all()
    return [(run, app) for run, app in rows]


def claim_alert(session: Session, run_id: int, *, now: dt.datetime) -> bool:
    """Take the duty of telling a failed run's contacts; ``False`` if someone has."""
    result = session.execute(
        update(ExportRun)
        .where(ExportRun.id == run_id, ExportRun.alerted_at.is_(None))
        .values(alerted_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def record_alert(session: Session, run_id: int, *, error: str | None) -> None:
    run = session.get(ExportRun, run_id)
    if run is not None:
        run.alert_error = error
        session.flush()


@dataclass(frozen=True)
class DeliveryRecord:
    """One delivery of the history as every interface shows it (plain values)."""

    id: int
    run_id: int
    trigger: str
    window_start: dt.date
    window_end: dt.date
    report: str
    file_name: str
    destination: str
    rows: int
    bytes: int
    sha256: str | None
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None

    @property
    def retryable(self) -> bool:
        """Retry applies (``failed``, or ``retrying`` and not delivered yet)."""
        return self.status in (DeliveryStatus.FAILED, DeliveryStatus.RETRYING)


def delivery_record(delivery: ExportDelivery, run: ExportRun) -> DeliveryRecord:
    return DeliveryRecord(
        id=delivery.id,
        run_id=run.id,
        trigger=str(run.trigger),
        window_start=run.window_start,
        window_end=run.window_end,
        report=delivery.report,
        file_name=delivery.file_name,
        destination=delivery.destination,
        rows=delivery.rows,
        bytes=delivery.bytes,
        sha256=delivery.sha256,
        status=str(delivery.status),
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        error=delivery.error,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
    )


def describe_deliveries(
    session: Session, app_key: str, *, limit: int = 100, before_id: int | None = None
) -> list[DeliveryRecord]:
    """:func:`list_deliveries` as plain records, newest first."""
    rows = list_deliveries(session, app_key, limit=limit, before_id=before_id)
    return [delivery_record(d, r) for d, r in rows]


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

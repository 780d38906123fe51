"""``/apps/{key}/imports``: every file the app received, live, and what became of it.

* the list, newest first, paged (``?before=<id>``): name, folder, source, status,
  progress, line and push counts, times;
* ``/imports/live?ids=…`` — the same rows' changing cells as JSON, for
  ``static/live.js``, which polls it and updates the table in place (the page is
  complete without it: a reload shows the same);
* ``/imports/{id}`` — one file: its counts, the first rejected lines of its result,
  downloads of its result files (``/imports/{id}/results/{name}``, the same code as the
  API's download: :mod:`ftpush.web.results`), **Reprocess** (the intake's injected
  reprocessor, as ``POST /api/v1/imports/{id}/reprocess``) and **Cancel** for the
  running campaign of a push file (``ledger.cancel_campaign``, as the API's cancel).

Another app's import is 404 on every route, the JSON one and downloads included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ftpush.errors import Conflict, NotFound
from ftpush.models import CampaignStatus, ImportKind, ImportStatus
from ftpush.storage import Session, apps, imports, ledger
from ftpush.storage.imports import REPROCESSABLE, CampaignProgress
from ftpush.storage.tables import ImportFile
from ftpush.web import results, services
from ftpush.web.panel.deps import AppView, LoggedIn, Posted, ScopedApp, client_address
from ftpush.web.panel.rendering import flash, page, redirect
from ftpush.web.panel.routing import NOT_FOUND, PanelError, page_router
from ftpush.web.panel.state import database, panel_state
from ftpush.web.panel.templating import Section, when

SECTION = Section("imports", "Imports")

router = page_router()

PAGE_SIZE = 25
MAX_LIVE_IDS = 100
FINAL = frozenset(imports.FINAL_STATUSES)
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Row:
    """One import as the list and the live endpoint show it."""

    id: int
    name: str
    folder: str
    kind: str
    dry_run: bool
    forced: bool
    source: str
    received_by: str | None
    status: str
    received_at: str
    finished_at: str
    cells: dict[str, str]  # the cells that change, already worded: status, progress...
    bar: tuple[int, int] | None  # (done, total) pushes, for a <progress>
    changing: bool  # still processed or sent: worth polling
    running: bool  # its campaign can be cancelled
    campaign: str | None

    @property
    def final(self) -> bool:
        """Processed (or refused): its result files are written."""
        return self.status in FINAL

    def live(self) -> dict[str, Any]:
        bar = {"value": self.bar[0], "max": self.bar[1]} if self.bar else None
        return {
            "id": self.id,
            "status": self.status,
            "final": self.final,
            "changing": self.changing,
            "running": self.running,
            "cells": self.cells,
            "bar": bar,
        }


def _n(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")  # a narrow no-break space between thousands


def _progress(
    row: ImportFile, sending: CampaignProgress | None
) -> tuple[str, tuple[int, int] | None]:
    if row.status is ImportStatus.RECEIVED:
        return "queued", None
    if row.status is ImportStatus.PROCESSING:
        return f"reading, line {_n(row.checkpoint_line)}", None
    if sending is not None and sending.pushes:
        done = sending.pushes - sending.waiting
        return f"{_n(done)} of {_n(sending.pushes)} pushes", (done, sending.pushes)
    if row.status in (ImportStatus.DONE, ImportStatus.PARTIAL):
        return _n(row.lines_total) + (" line" if row.lines_total == 1 else " lines"), None
    return "—", None


def _pushes(row: ImportFile, sending: CampaignProgress | None) -> str:
    if row.kind is not ImportKind.PUSH or sending is None:
        return "—"
    parts = [f"{_n(sending.sent)} sent", f"{_n(sending.failed)} failed"]
    if sending.waiting:
        parts.append(f"{_n(sending.waiting)} waiting")
    if sending.cancelled:
        parts.append(f"{_n(sending.cancelled)} cancelled")
    return " · ".join(parts)


def _lines(row: ImportFile) -> str:
    if row.status not in (ImportStatus.DONE, ImportStatus.PARTIAL):
        return "—"
    return f"{_n(row.accepted)} ok · {_n(row.rejected)} rejected"


def make_row(row: ImportFile, sending: CampaignProgress | None, timezone: str) -> Row:
    progress, bar = _progress(row, sending)
    status = str(row.status)
    running = sending is not None and sending.running
    finished = when(row.finished_at, timezone)
    return Row(
        id=row.id,
        name=row.name,
        folder="/" + row.folder,
        kind=str(row.kind),
        dry_run=row.dry_run,
        forced=row.forced,
        source=str(row.source),
        received_by=row.received_by,
        status=status,
        received_at=when(row.received_at, timezone),
        finished_at=finished,
        cells={
            "status": status + (" · cancelled" if sending and sending.cancelled else ""),
            "progress": progress,
            "lines": _lines(row),
            "pushes": _pushes(row, sending),
            "started": when(row.started_at, timezone),
            "finished": finished,
            "campaign": sending.msg_id if sending else "—",
        },
        bar=bar,
        changing=row.status not in FINAL or running,
        running=running,
        campaign=sending.msg_id if sending else None,
    )


def _rows(session: Session, found: list[ImportFile], timezone: str) -> list[Row]:
    sending = imports.campaign_progress(session, [r.id for r in found])
    return [make_row(r, sending.get(r.id), timezone) for r in found]


def _app_id(session: Session, app: AppView) -> int:
    return apps.get_app(session, app.key).id


def _int_or_404(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= _MAX_ID:
        raise PanelError(404, NOT_FOUND)
    return int(text)


# --- the list ---------------------------------------------------------------------------


@router.get("/apps/{key}/imports")
def list_imports(
    request: Request, viewer: LoggedIn, app: ScopedApp, before: str | None = None
) -> Response:
    before_id = _int_or_404(before) if before else None
    with database(request).read() as session:
        found = list(
            imports.list_imports(session, app.key, limit=PAGE_SIZE + 1, before_id=before_id)
        )
        more = len(found) > PAGE_SIZE
        rows = _rows(session, found[:PAGE_SIZE], app.timezone)
        newest = 0 if before_id else (rows[0].id if rows else 0)
    return page(
        request, "imports.html", title=f"Imports · {app.key}", app=app, section="imports",
        rows=rows, older=rows[-1].id if more else None, paged=before_id is not None,
        newest=newest,
    )  # fmt: skip


@router.get("/apps/{key}/imports/live")
def live(request: Request, viewer: LoggedIn, app: ScopedApp, ids: str = "") -> Response:
    """The listed rows' changing cells, and the newest import id (new files arrived?)."""
    wanted = [int(p) for p in ids.split(",")[:MAX_LIVE_IDS] if p.isascii() and p.isdigit()]
    wanted = [i for i in wanted if i <= _MAX_ID]
    with database(request).read() as session:
        app_id = _app_id(session, app)
        rows = _rows(session, imports.imports_by_ids(session, app_id, wanted), app.timezone)
        latest = imports.list_imports(session, app.key, limit=1)
    return JSONResponse(
        {
            "imports": [r.live() for r in rows],
            "newest": latest[0].id if latest else 0,
            "poll": any(r.changing for r in rows),
        }
    )


# --- one import -------------------------------------------------------------------------


def _detail_page(
    request: Request, app: AppView, import_id: int, *, status: int = 200, **context: Any
) -> Response:
    with database(request).read() as session:
        row = imports.get_import(session, import_id, app_id=_app_id(session, app))
        [shown] = _rows(session, [row], app.timezone)
        counts = {k: v for k, v in (row.counts or {}).items() if type(v) is int}
        facts = {
            "error_code": row.error_code,
            "error_message": row.error_message,
            "size": _n(row.size),
            "sha256": row.sha256,
            "counts": counts,
            "reprocessable": row.status in REPROCESSABLE,
        }
    summary = results.result_summary(
        panel_state(request).settings, app.key, results.ImportRef(row.id, row.name, row.rejected)
    )
    return page(
        request, "import.html", status=status, title=f"{row.name} · imports · {app.key}",
        app=app, section="imports", imp=shown, facts=facts, summary=summary, **context,
    )  # fmt: skip


@router.get("/apps/{key}/imports/{import_id}")
def show_import(request: Request, viewer: LoggedIn, app: ScopedApp, import_id: str) -> Response:
    return _detail_page(request, app, _int_or_404(import_id))


@router.get("/apps/{key}/imports/{import_id}/results/{name}")
def download_result(
    request: Request, viewer: LoggedIn, app: ScopedApp, import_id: str, name: str
) -> Response:
    with database(request).read() as session:
        row = imports.get_import(session, _int_or_404(import_id), app_id=_app_id(session, app))
        ref = results.ImportRef(row.id, row.name, row.rejected)
    return results.download(panel_state(request).settings, app.key, ref, name)


@router.post("/apps/{key}/imports/{import_id}/reprocess")
def reprocess(request: Request, posted: Posted, app: ScopedApp, import_id: str) -> Response:
    number = _int_or_404(import_id)
    reprocessor = services.reprocessor(request)
    if reprocessor is None:
        raise PanelError(503, "Reprocessing is not enabled in this process.")
    assert posted.viewer is not None  # Posted: a POST without a session never gets here
    with database(request).read() as session:
        app_id = _app_id(session, app)
    order = services.Reprocess(
        import_id=number, app_id=app_id, forced_by=f"panel:{posted.viewer.username}",
        remote_addr=client_address(request),
    )  # fmt: skip
    try:
        new_id = reprocessor(order)
    except Conflict as exc:
        return _detail_page(request, app, number, status=409, error=exc.message)
    with database(request).read() as session:
        new = imports.get_import(session, new_id, app_id=app_id)
        status, message = new.status, new.error_message
    if status is ImportStatus.RECEIVED:
        flash(request, "success", f"Import {new_id} is queued: {new.name} is processed again.")
    else:
        flash(request, "error", f"Import {new_id} is {status}: {message}")
    return redirect(f"/apps/{app.key}/imports/{new_id}")


@router.post("/apps/{key}/imports/{import_id}/cancel")
def cancel(request: Request, _: Posted, app: ScopedApp, import_id: str) -> Response:
    """Stop the push file's campaign: what is not sent yet is never sent."""
    number = _int_or_404(import_id)
    cancelled = None
    with database(request).transaction() as session:
        imports.get_import(session, number, app_id=_app_id(session, app))
        campaign = ledger.file_campaign(session, number)
        if campaign is None:
            raise NotFound(f"import {number} has no campaign")
        msg_id, status = campaign.msg_id, campaign.status
        if status in (CampaignStatus.PENDING, CampaignStatus.RUNNING):
            cancelled = ledger.cancel_campaign(session, campaign.id)
    if cancelled is None:
        return _detail_page(
            request, app, number, status=409,
            error=f"Campaign {msg_id} is {status}: there is nothing left to cancel.",
        )  # fmt: skip
    flash(request, "success", f"Campaign {msg_id} cancelled: {_n(cancelled)} pushes not sent.")
    return redirect(f"/apps/{app.key}/imports/{number}")

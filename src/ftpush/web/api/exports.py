"""`/exports`: send reports now (the panel's Send), and the delivery history."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from ftpush.jobs.exports import retry_delivery, send_reports
from ftpush.models import ReportName
from ftpush.storage import exports
from ftpush.storage.tables import ExportDelivery, ExportRun
from ftpush.web.auth import AppCaller, AppSettings, Db
from ftpush.web.pagination import Cursor, Limit, Page, decode_cursor, next_cursor

router = APIRouter(prefix="/exports", tags=["exports"])
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A delivery's id.")]


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    reports: list[ReportName] = Field(
        default_factory=list,
        max_length=len(ReportName),
        description="Empty: the reports the destination is set to receive.",
    )
    first: dt.date | None = Field(default=None, alias="from", description="First day, app-local.")
    last: dt.date | None = Field(default=None, alias="to", description="Last day, up to today.")


class DeliveryOut(BaseModel):
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


class SendOut(BaseModel):
    run_id: int
    ok: bool
    files: int
    rows: int
    deliveries: list[DeliveryOut]


@router.post("", summary="Send reports now to the app's destination (daily limit applies)")
def send(caller: AppCaller, db: Db, settings: AppSettings, body: SendIn) -> SendOut:
    result = send_reports(
        settings, db, caller.app_key, [r.value for r in body.reports],
        first=body.first, last=body.last, requested_by="api",
    )  # fmt: skip
    with db.read() as session:
        by_id = {
            d.id: _out(d, r)
            for d, r in exports.list_deliveries(session, caller.app_key, limit=1000)
            if r.id == result.run.run_id
        }
    return SendOut(
        run_id=result.run.run_id,
        ok=result.run.ok,
        files=result.files,
        rows=result.rows,
        deliveries=[by_id[d.delivery_id] for d in result.run.deliveries if d.delivery_id in by_id],
    )


@router.get("", summary="The app's report deliveries, newest first")
def history(
    caller: AppCaller, db: Db, limit: Limit = 50, cursor: Cursor = None
) -> Page[DeliveryOut]:
    with db.read() as session:
        rows = exports.list_deliveries(
            session, caller.app_key, limit=limit, before_id=decode_cursor(cursor)
        )
        items = [_out(d, r) for d, r in rows]
    return Page[DeliveryOut](items=items, next_cursor=next_cursor([i.id for i in items], limit))


@router.post(
    "/deliveries/{delivery_id}/retry",
    summary="Retry a failed delivery now (one attempt, to the destination as it is now)",
)
def retry(caller: AppCaller, db: Db, settings: AppSettings, delivery_id: DeliveryId) -> DeliveryOut:
    retry_delivery(settings, db, caller.app_key, delivery_id)
    with db.read() as session:
        delivery, run = exports.get_app_delivery(session, caller.app_key, delivery_id)
        return _out(delivery, run)


def _out(delivery: ExportDelivery, run: ExportRun) -> DeliveryOut:
    """The API's view of a delivery: the shared record, without its timestamps of creation."""
    return DeliveryOut.model_validate(dataclasses.asdict(exports.delivery_record(delivery, run)))

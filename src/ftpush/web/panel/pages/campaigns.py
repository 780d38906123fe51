"""``/apps/{key}/campaigns``: every send of the app (push files, transactional and automated
sends) with its figures; one campaign's figures, a chart of what was sent, failed and
clicked over time, and *Cancel* while it is still sending.

The figures are :func:`ftpush.storage.ledger.campaign_figures` and Cancel is
:func:`ftpush.storage.ledger.cancel_campaign`, as for ``GET /api/v1/campaigns`` and
``POST /api/v1/campaigns/{msg_id}/cancel``; the chart is drawn here as SVG
(:mod:`ftpush.web.panel.charts`) from :func:`ftpush.storage.ledger.campaign_activity`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Query
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from ftpush.models import CampaignStatus
from ftpush.storage import Session, apps, ledger
from ftpush.storage.tables import Campaign
from ftpush.web.pagination import decode_cursor, next_cursor
from ftpush.web.panel import charts
from ftpush.web.panel.deps import AppView, LoggedIn, Posted, ScopedApp
from ftpush.web.panel.rendering import flash, page, redirect
from ftpush.web.panel.routing import NOT_FOUND, PanelError, page_router
from ftpush.web.panel.state import database
from ftpush.web.panel.templating import Section

SECTION = Section("campaigns", "Campaigns")

router = page_router()

PAGE_SIZE = 50
MSG_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")  # as the API's path accepts it
CANCELLABLE = (CampaignStatus.PENDING, CampaignStatus.RUNNING)
# Okabe-Ito colours: told apart with the common colour-vision deficiencies.
COLOURS = {"sent": "#0072b2", "failed": "#d55e00", "clicked": "#009e73"}

Before = Annotated[str | None, Query(max_length=64)]


def _summary(campaign: Campaign, figures: dict[str, int]) -> dict[str, Any]:
    """What the list and the detail show of a campaign; "failed" counts dead tokens too,
    as the reports do."""
    return {
        "msg_id": campaign.msg_id,
        "name": campaign.name,
        "type": str(campaign.type),
        "status": str(campaign.status),
        "from_file": campaign.import_file_id is not None,
        "created_at": campaign.created_at,
        "started_at": campaign.started_at,
        "finished_at": campaign.finished_at,
        "cancelled_at": campaign.cancelled_at,
        "targeted": figures["messages"],
        "sent": figures["sent"],
        "failed": figures["failed"] + figures["invalid_token"],
        "clicked": figures["clicked"],
        "figures": figures,
        "cancellable": campaign.status in CANCELLABLE,
    }


@router.get("/apps/{key}/campaigns")
def list_campaigns(
    request: Request, viewer: LoggedIn, app: ScopedApp, before: Before = None
) -> Response:
    before_id = decode_cursor(before)  # a forged cursor is a 422 page
    with database(request).read() as session:
        app_id = apps.get_app(session, app.key).id
        rows = ledger.list_campaigns(session, app_id, limit=PAGE_SIZE, before_id=before_id)
        shown = [_summary(c, ledger.campaign_figures(session, c.id)) for c in rows]
        older = next_cursor([c.id for c in rows], PAGE_SIZE)
    return page(
        request, "campaigns.html", title=f"Campaigns · {app.key}", app=app, section="campaigns",
        campaigns=shown, older=older, paged=before_id is not None,
    )  # fmt: skip


def _timeline(
    session: Session, campaign: Campaign, app: AppView
) -> tuple[Markup | None, list[dict[str, Any]], str]:
    """The chart, its figures as table rows, and the bucket unit; no chart before the
    first message went out."""
    span = ledger.campaign_activity_span(session, campaign.id)
    if span is None:
        return None, [], ""
    timeline = charts.timeline_for(*span, app.timezone)
    buckets = ledger.campaign_activity(
        session, campaign.id, start=timeline.start, width=timeline.width, count=timeline.count
    )
    labels = timeline.labels()
    series = [
        charts.Series(name, tuple(getattr(b, name) for b in buckets), colour)
        for name, colour in COLOURS.items()
    ]
    totals = {s.name: sum(s.values) for s in series}
    description = (
        f"Bar chart of the messages of campaign {campaign.msg_id} sent, failed and clicked "
        f"per {timeline.unit}, from {labels[0]} to {labels[-1]} ({app.timezone}). "
        f"In all: {totals['sent']} sent, {totals['failed']} failed, "
        f"{totals['clicked']} clicked. A failure counts when its message was queued."
    )
    chart = charts.bar_chart(
        title=f"Sent, failed and clicked per {timeline.unit}",
        description=description,
        labels=labels,
        series=series,
        chart_id="activity",
        x_title=timeline.axis_title(),
        y_title=f"Messages per {timeline.unit}",
    )
    rows = [
        {"label": label, "sent": b.sent, "failed": b.failed, "clicked": b.clicked}
        for label, b in zip(labels, buckets, strict=True)
    ]
    return chart, rows, timeline.unit


@router.get("/apps/{key}/campaigns/{msg_id}")
def show_campaign(request: Request, viewer: LoggedIn, app: ScopedApp, msg_id: str) -> Response:
    if not MSG_ID.fullmatch(msg_id):
        raise PanelError(404, NOT_FOUND)
    with database(request).read() as session:
        app_id = apps.get_app(session, app.key).id
        campaign = ledger.get_campaign(session, msg_id, app_id=app_id)  # another app's: 404
        shown = _summary(campaign, ledger.campaign_figures(session, campaign.id))
        chart, rows, unit = _timeline(session, campaign, app)
    return page(
        request, "campaign.html", title=f"{campaign.name} · {app.key}", app=app,
        section="campaigns", campaign=shown, chart=chart, timeline=rows, unit=unit,
    )  # fmt: skip


@router.post("/apps/{key}/campaigns/{msg_id}/cancel")
def cancel_campaign(request: Request, _: Posted, app: ScopedApp, msg_id: str) -> Response:
    if not MSG_ID.fullmatch(msg_id):
        raise PanelError(404, NOT_FOUND)
    with database(request).transaction() as session:
        app_id = apps.get_app(session, app.key).id
        campaign = ledger.get_campaign(session, msg_id, app_id=app_id)
        cancelled = ledger.cancel_campaign(session, campaign.id)
    flash(
        request, "success",
        f"Campaign {msg_id} cancelled: {cancelled} messages will not be sent.",
    )  # fmt: skip
    return redirect(f"/apps/{app.key}/campaigns/{msg_id}")

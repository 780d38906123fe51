"""``GET /metrics``: Prometheus text format.

Two sources: this process's counters (:mod:`ftpush.telemetry`: failed logins, bans,
files handed over per protocol) and, read at scrape time, what the ledger knows for
every process (files by kind and outcome, rows, messages by outcome and provider,
export deliveries) plus the task queue's depth.

The figures span every app, so the endpoint is for operators: it answers loopback
clients, and others only with ``Authorization: Bearer <web.metrics_token>`` (deny by
default).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ftpush.config import Settings
from ftpush.jobs.queue import make_huey
from ftpush.storage import Database, stats
from ftpush.web.errors import API_ERROR_RESPONSES, problem

router = APIRouter(tags=["operations"])


class LedgerCollector(Collector):
    """Gauges computed from the database at each scrape."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._huey = make_huey(settings)

    def collect(self) -> Iterator[Metric]:
        with self._db.read() as session:
            snap = stats.snapshot(session)
        files = GaugeMetricFamily(
            "ftpush_import_files", "Import files by kind and status", labels=["kind", "status"]
        )
        for (kind, status), count in sorted(snap.files.items()):
            files.add_metric([kind, status], count)
        yield files
        rows = GaugeMetricFamily("ftpush_import_rows", "Lines of import files", labels=["what"])
        for what, count in snap.rows.items():
            rows.add_metric([what], count)
        yield rows
        messages = GaugeMetricFamily(
            "ftpush_messages", "Messages by status and provider", labels=["status", "provider"]
        )
        for (status, provider), count in sorted(snap.messages.items()):
            messages.add_metric([status, provider], count)
        yield messages
        deliveries = GaugeMetricFamily(
            "ftpush_export_deliveries", "Report deliveries by status", labels=["status"]
        )
        for status, count in sorted(snap.deliveries.items()):
            deliveries.add_metric([status], count)
        yield deliveries
        yield GaugeMetricFamily(
            "ftpush_queue_depth", "Tasks waiting in the queue", value=self._huey.pending_count()
        )


def _allowed(request: Request, settings: Settings) -> bool:
    token = settings.web.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token.get_secret_value()}".encode()):
            return True
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get(
    "/metrics",
    summary="Prometheus metrics (loopback, or the metrics token)",
    response_class=PlainTextResponse,
    responses={403: API_ERROR_RESPONSES[403]},
)
def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not _allowed(request, settings):
        return problem(403, "metrics are served to loopback clients or with the metrics token")
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(LedgerCollector(request.app.state.db, settings))
        request.app.state.metrics_registry = registry
    body = generate_latest(REGISTRY) + generate_latest(registry)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")

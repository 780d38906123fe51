"""``/metrics``: Prometheus text, loopback or token only, figures from the ledger."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request

from ftpush.config import load_settings
from ftpush.intake.spool import Origin, Spool
from ftpush.models import ImportSource
from ftpush.storage import apps
from ftpush.web.metrics import _allowed
from tests.integration.api.conftest import Api


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_show_files_rows_messages_and_the_queue(api: Api) -> None:
    with api.db.transaction() as s:
        app_id = apps.get_app(s, "alpha").id
    spool = Spool(api.settings, api.db)
    upload = api.settings.data_dir / "m.csv"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(b"u1;Hello;\nu2;Hi;\n;bad;\n")
    with upload.open("rb") as fh:
        spool.receive(Origin(app_id, "alpha", ImportSource.API, "t", None), "", "m.csv", fh)
    spool.close()
    response = api.client(None).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert found[("ftpush_import_files", (("kind", "push"), ("status", "received")))] == 1
    assert ("ftpush_queue_depth", ()) in found
    assert found[("ftpush_files_received_total", (("source", "api"),))] >= 1
    assert ("ftpush_import_rows", (("what", "lines"),)) in found


def _request(host: str, authorization: str | None = None) -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    return Request({"type": "http", "client": (host, 50000), "headers": headers})


def test_metrics_are_for_loopback_or_the_token(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, environ={}, web={"metrics_token": "s3cr3t-tok"})
    assert _allowed(_request("127.0.0.1"), settings)
    assert _allowed(_request("::1"), settings)
    assert not _allowed(_request("203.0.113.9"), settings)
    assert not _allowed(_request("203.0.113.9", "Bearer wrong"), settings)
    assert _allowed(_request("203.0.113.9", "Bearer s3cr3t-tok"), settings)
    closed = load_settings(data_dir=tmp_path, environ={})
    assert not _allowed(_request("10.0.0.1", "Bearer "), closed)

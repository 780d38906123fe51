"""``POST /api/v1/exports`` (Send) and ``GET /api/v1/exports`` (delivery history)."""

from __future__ import annotations

import datetime as dt

from ftpush.crypto import SecretBox
from ftpush.models import ExportFormat
from ftpush.storage import exports, users
from tests.integration.api.conftest import Api, problem


def dropbox_destination(api: Api, app: str = "alpha") -> None:
    with api.db.transaction() as s:
        exports.set_destination(
            s, SecretBox.from_keys_dir(api.settings.keys_dir),
            exports.DestinationSpec(app_key=app, format=ExportFormat.CSV, delimiter=";"),
        )  # fmt: skip
        users.register_device(s, app_key=app, token="fcm-1", external_id="1")


def test_send_and_history(api: Api) -> None:
    client = api.client()
    problem(client.post("/api/v1/exports", json={}), 404)  # no destination yet
    dropbox_destination(api)
    today = dt.datetime.now(dt.UTC).date()
    body = {"reports": ["installations", "events"], "from": str(today - dt.timedelta(days=1)),
            "to": str(today + dt.timedelta(days=1))}  # fmt: skip
    problem(client.post("/api/v1/exports", json=body), 422, "to")
    body["to"] = body["from"]
    sent = client.post("/api/v1/exports", json=body)
    assert sent.status_code == 200, sent.text
    result = sent.json()
    assert result["ok"]
    assert {d["report"] for d in result["deliveries"]} == {"installations", "events"}
    assert all(d["status"] == "delivered" for d in result["deliveries"])
    reports = api.settings.dropbox_dir / "alpha" / "reports"
    assert sorted(p.suffix for p in reports.iterdir()) == [".csv", ".csv"]
    history = client.get("/api/v1/exports", params={"limit": 1}).json()
    assert len(history["items"]) == 1
    assert history["next_cursor"]
    rest = client.get("/api/v1/exports", params={"cursor": history["next_cursor"]}).json()
    assert len(rest["items"]) == 1
    # another app sees nothing of it, and cannot send with alpha's destination
    assert api.client("beta").get("/api/v1/exports").json()["items"] == []
    problem(api.client("beta").post("/api/v1/exports", json={}), 404)


def test_the_daily_limit_and_bad_input(api: Api) -> None:
    dropbox_destination(api)
    client = api.client()
    day = str(dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    for _ in range(api.settings.export.sends_per_day):
        ok = client.post("/api/v1/exports", json={"reports": ["events"], "from": day, "to": day})
        assert ok.status_code == 200, ok.text
    over = client.post("/api/v1/exports", json={"reports": ["events"]})
    assert "manual sends" in problem(over, 403)["detail"]
    problem(client.post("/api/v1/exports", json={"reports": ["nope"]}), 422)
    problem(client.post("/api/v1/exports", json={"colour": "red"}), 422)
    problem(api.client(None).get("/api/v1/exports"), 401)


def test_retry_a_failed_delivery(api: Api) -> None:
    dropbox_destination(api)
    client = api.client()
    reports = api.settings.dropbox_dir / "alpha" / "reports"
    reports.mkdir(parents=True)
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    blocker = reports / f"alpha_EVENTS_{day:%Y%m%d}.csv"
    blocker.mkdir()  # the final name is taken: the delivery fails and waits for a retry
    sent = client.post("/api/v1/exports", json={"reports": ["events"]}).json()
    [delivery] = sent["deliveries"]
    assert (sent["ok"], delivery["status"]) == (False, "retrying")
    url = f"/api/v1/exports/deliveries/{delivery['id']}/retry"
    problem(api.client("beta").post(url), 404)  # not beta's
    again = client.post(url).json()
    assert (again["status"], again["attempts"]) == ("failed", 2)  # one attempt, now
    assert again["error"].startswith("transfer:")
    blocker.rmdir()
    done = client.post(url).json()
    assert (done["status"], done["attempts"]) == ("delivered", 3)
    assert blocker.is_file()
    problem(client.post(url), 409)  # delivered: nothing to retry
    problem(client.post("/api/v1/exports/deliveries/999999/retry"), 404)


def test_send_without_reports_sends_those_the_destination_receives(api: Api) -> None:
    with api.db.transaction() as s:
        exports.set_destination(
            s, SecretBox.from_keys_dir(api.settings.keys_dir),
            exports.DestinationSpec(app_key="alpha", format=ExportFormat.CSV,
                                    reports=("events", "app_tracking")),
        )  # fmt: skip
    sent = api.client().post("/api/v1/exports", json={})
    assert sent.status_code == 200, sent.text
    assert sorted(d["report"] for d in sent.json()["deliveries"]) == ["app_tracking", "events"]

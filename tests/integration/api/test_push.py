"""`POST /api/v1/push` through a real server: the campaign, the queue, validation, tenancy."""

from __future__ import annotations

from typing import Any

import pytest

from ftpush.push.log import LogProvider
from ftpush.storage import apps, ledger, users
from tests.integration.api.conftest import Api, problem

APNS = "ab" * 32


def seed(api: Api, app: str = "alpha") -> None:
    """u1 has two devices, u2 none."""
    with api.db.transaction() as s:
        users.register_device(s, app_key=app, token=APNS, external_id="u1")
        users.register_device(s, app_key=app, token="fcm-u1", external_id="u1", platform="android")
        users.get_or_create_user(s, apps.get_app(s, app).id, "u2")


def run_queue(api: Api) -> LogProvider:
    """Run what the server put on the queue, sending to the fixture's log provider."""
    return api.run_queue()


def test_a_push_makes_a_campaign_queued_for_the_workers(api: Api) -> None:
    seed(api)
    client = api.client()
    body = {
        "external_ids": ["u1", "u2", "ghost", "u1"],
        "text": "Your parcel\nis here",
        "deeplink": "myapp://parcel/7",
    }
    response = client.post("/api/v1/push", json=body)
    assert response.status_code == 202, response.text
    sent = response.json()
    assert sent["type"] == "transactional"
    assert (sent["recipients"], sent["unknown_user"], sent["no_device"]) == (3, 1, 1)
    assert (sent["messages"], sent["inbox_entries"]) == (2, 2)
    assert response.headers["location"] == f"/api/v1/campaigns/{sent['msg_id']}"

    log = run_queue(api)
    assert sorted(m.text for m in log.messages) == ["Your parcel\nis here"] * 2
    assert {m.deeplink for m in log.messages} == {"myapp://parcel/7"}
    campaign = client.get(f"/api/v1/campaigns/{sent['msg_id']}").json()
    assert campaign["type"] == "transactional"
    assert campaign["status"] == "done"
    figures = campaign["figures"]
    assert (figures["sent"], figures["unknown_user"], figures["no_device"]) == (2, 1, 1)
    assert figures["inbox_entries"] == 2


def test_automated_named_and_without_inbox(api: Api) -> None:
    seed(api)
    response = api.client().post(
        "/api/v1/push",
        json={"external_ids": ["u1"], "text": "Cart", "inbox": False, "automated": True,
              "name": "Abandoned cart"},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    sent = response.json()
    assert (sent["type"], sent["messages"], sent["inbox_entries"]) == ("automated", 2, 0)
    campaign = api.client().get(f"/api/v1/campaigns/{sent['msg_id']}").json()
    assert (campaign["type"], campaign["name"]) == ("automated", "Abandoned cart")


def test_the_inbox_follows_the_app_setting_unless_asked(api: Api) -> None:
    seed(api)
    with api.db.transaction() as s:
        apps.get_app(s, "alpha").inbox_enabled = False
    client = api.client()
    default = client.post("/api/v1/push", json={"external_ids": ["u1"], "text": "a"}).json()
    assert default["inbox_entries"] == 0
    asked = client.post(
        "/api/v1/push", json={"external_ids": ["u1"], "text": "b", "inbox": True}
    ).json()
    assert asked["inbox_entries"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x"}, "external_ids"),
        ({"external_ids": [], "text": "x"}, "external_ids"),
        ({"external_ids": "u1", "text": "x"}, "external_ids"),
        ({"external_ids": [f"u{i}" for i in range(1001)], "text": "x"}, "external_ids"),
        ({"external_ids": [" u1"], "text": "x"}, "external_ids"),
        ({"external_ids": ["u\x00"], "text": "x"}, "external_ids"),
        ({"external_ids": ["x" * 256], "text": "x"}, "external_ids"),
        ({"external_ids": ["u1"]}, "text"),
        ({"external_ids": ["u1"], "text": ""}, "text"),
        ({"external_ids": ["u1"], "text": "   "}, "text"),
        ({"external_ids": ["u1"], "text": 12}, "text"),
        ({"external_ids": ["u1"], "text": "é" * 3000}, "text"),
        ({"external_ids": ["u1"], "text": "x", "deeplink": "not a link"}, "deeplink"),
        ({"external_ids": ["u1"], "text": "x", "deeplink": "/relative"}, "deeplink"),
        ({"external_ids": ["u1"], "text": "x", "inbox": "maybe"}, "inbox"),
        ({"external_ids": ["u1"], "text": "x", "name": "n" * 256}, "name"),
        ({"external_ids": ["u1"], "text": "x", "deep_link": "https://x"}, "deep_link"),
    ],
)
def test_bad_input_names_the_field_and_sends_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    seed(api)
    problem(api.client().post("/api/v1/push", json=body), 422, field)
    assert api.client().get("/api/v1/campaigns").json()["items"] == []
    assert run_queue(api).messages == []


def test_a_key_is_required(api: Api) -> None:
    body = {"external_ids": ["u1"], "text": "x"}
    problem(api.client(None).post("/api/v1/push", json=body), 401)
    wrong = api.client(None, Authorization="Bearer ftp_nope_x")
    problem(wrong.post("/api/v1/push", json=body), 401)
    with api.db.read() as s:
        assert ledger.list_campaigns(s, apps.get_app(s, "alpha").id, limit=5) == []


def test_another_apps_key_reaches_only_its_own_users(api: Api) -> None:
    seed(api)
    beta = api.client("beta")
    sent = beta.post("/api/v1/push", json={"external_ids": ["u1", "u2"], "text": "x"}).json()
    # alpha's users are unknown to beta: nothing reaches alpha's devices
    assert (sent["recipients"], sent["unknown_user"], sent["messages"]) == (2, 2, 0)
    assert run_queue(api).messages == []
    alpha = api.client("alpha")
    problem(alpha.get(f"/api/v1/campaigns/{sent['msg_id']}"), 404)
    assert alpha.get("/api/v1/campaigns").json()["items"] == []
    mine = alpha.post("/api/v1/push", json={"external_ids": ["u1"], "text": "y"}).json()
    problem(beta.get(f"/api/v1/campaigns/{mine['msg_id']}"), 404)
    assert [c["msg_id"] for c in beta.get("/api/v1/campaigns").json()["items"]] == [sent["msg_id"]]

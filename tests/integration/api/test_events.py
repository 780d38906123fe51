"""`POST /api/v1/events` through a real server: batches, push opens, app tracking, tenancy."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from ftpush.pipeline.dispatch import Dispatcher
from ftpush.pipeline.transactional import SendRequest, send_to_users
from ftpush.storage.tables import Event, Message
from tests.integration.api.conftest import Api, problem

APNS = "ab" * 32
FCM = "fcm:" + "y" * 120


def _events(api: Api) -> list[Event]:
    with api.db.read() as s:
        return list(s.scalars(select(Event).order_by(Event.id)))


def _messages(api: Api, campaign_id: int) -> list[Message]:
    with api.db.read() as s:
        return list(
            s.scalars(
                select(Message).where(Message.campaign_id == campaign_id).order_by(Message.id)
            )
        )


def _sent(api: Api, app: str = "alpha", users: tuple[str, ...] = ("u1",)) -> tuple[str, int]:
    """A transactional campaign to ``users``, dispatched through the log provider."""
    result = send_to_users(api.db, app, SendRequest(list(users), "Your parcel is here"))
    asyncio.run(Dispatcher(api.settings, api.db).run_campaign(result.campaign_id))
    return result.msg_id, result.campaign_id


def _figures(api: Api, msg_id: str, app: str = "alpha") -> dict[str, int]:
    response = api.client(app).get(f"/api/v1/campaigns/{msg_id}")
    assert response.status_code == 200, response.text
    figures: dict[str, int] = response.json()["figures"]
    return figures


def _inbox(api: Api, external_id: str = "u1", app: str = "alpha") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        api.client(app).get(f"/api/v1/users/{external_id}/inbox").json()["items"]
    )
    return items


def _post(api: Api, *events: dict[str, Any], app: str = "alpha") -> Any:
    return api.client(app).post("/api/v1/events", json={"events": list(events)})


def test_a_batch_is_stored_with_users_devices_and_times(api: Api) -> None:
    client = api.client()
    device = client.post("/api/v1/devices", json={"token": APNS, "external_id": "u1"}).json()
    response = _post(
        api,
        {"name": "add_to_cart", "external_id": "u1", "params": {"sku": "A-1", "qty": 2},
         "time": "2024-05-01T10:00:00+02:00"},
        {"name": "app_open", "device_token": APNS},
        {"name": "signup", "external_id": "new-user", "device_id": device["id"]},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json() == {"recorded": 3, "opened": 0}
    cart, app_open, signup = _events(api)
    assert cart.name == "add_to_cart"
    assert cart.params == {"sku": "A-1", "qty": 2}
    assert cart.occurred_at == dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
    assert cart.device_id is None
    assert app_open.device_id == device["id"]
    assert app_open.user_id == cart.user_id  # the device's owner
    assert abs(app_open.occurred_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert signup.user_id not in (None, cart.user_id)  # created on the fly
    assert client.get("/api/v1/users/new-user").status_code == 200


def test_app_tracking_observations(api: Api) -> None:
    api.client().post("/api/v1/devices", json={"token": FCM, "external_id": "u1"})
    ok = _post(
        api,
        {"name": "app_tracking", "device_token": FCM,
         "params": {"tracked_app": "com.example.rival", "installed": True}},
        {"name": "app_tracking", "device_token": FCM,
         "params": {"tracked_app": "com.example.other", "installed": False}},
    )  # fmt: skip
    assert ok.status_code == 200, ok.text
    assert [e.params["installed"] for e in _events(api)] == [True, False]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"name": "app_tracking", "device_token": FCM, "params": {"installed": True}},
         "events.1.params.tracked_app"),
        ({"name": "app_tracking", "device_token": FCM,
          "params": {"tracked_app": 5, "installed": True}}, "events.1.params.tracked_app"),
        ({"name": "app_tracking", "device_token": FCM,
          "params": {"tracked_app": "", "installed": True}}, "events.1.params.tracked_app"),
        ({"name": "app_tracking", "device_token": FCM,
          "params": {"tracked_app": "x", "installed": "yes"}}, "events.1.params.installed"),
        ({"name": "app_tracking", "device_token": FCM,
          "params": {"tracked_app": "x", "installed": 1}}, "events.1.params.installed"),
        ({"name": "app_tracking", "external_id": "u1",
          "params": {"tracked_app": "x", "installed": True}}, "events.1.device_token"),
        ({"name": "", "external_id": "u1"}, "events.1.name"),
        ({"name": "x" * 101, "external_id": "u1"}, "events.1.name"),
        ({"name": "a\nb", "external_id": "u1"}, "events.1.name"),
        ({"external_id": "u1"}, "events.1.name"),
        ({"name": "e"}, "events.1.external_id"),
        ({"name": "e", "external_id": " u1"}, "events.1.external_id"),
        ({"name": "e", "external_id": "u1", "time": "2024-05-01T10:00:00"}, "events.1.time"),
        ({"name": "e", "external_id": "u1", "time": 1714550400}, "events.1.time"),
        ({"name": "e", "external_id": "u1", "time": "yesterday"}, "events.1.time"),
        ({"name": "e", "external_id": "u1", "time": "1999-12-31T23:00:00Z"}, "events.1.time"),
        ({"name": "e", "external_id": "u1", "time": "0001-01-01T00:00:00+05:00"},
         "events.1.time"),
        ({"name": "e", "external_id": "u1", "time": "2999-01-01T00:00:00Z"}, "events.1.time"),
        ({"name": "e", "device_token": "unknown-token"}, "events.1.device_token"),
        ({"name": "e", "device_id": 999999}, "events.1.device_id"),
        ({"name": "e", "device_id": 0}, "events.1.device_id"),
        ({"name": "e", "device_id": 1 << 63}, "events.1.device_id"),
        ({"name": "e", "external_id": "u1", "params": []}, "events.1.params"),
        ({"name": "e", "external_id": "u1", "params": {"a": "x\u0000"}}, "events.1.params.a"),
        ({"name": "e", "external_id": "u1", "colour": "red"}, "events.1.colour"),
        ({"name": "push_opened", "external_id": "u1"}, "events.1.params.message_id"),
        ({"name": "push_opened", "external_id": "u1", "params": {"message_id": True}},
         "events.1.params.message_id"),
        ({"name": "push_opened", "external_id": "u1", "params": {"message_id": "a b"}},
         "events.1.params.message_id"),
        ({"name": "push_opened", "external_id": "u1", "params": {"message_id": 999999}},
         "events.1.params.message_id"),
        ({"name": "push_opened", "external_id": "u1", "params": {"message_id": "m00:1:1"}},
         "events.1.params.message_id"),
        ({"name": "push_opened", "external_id": "u1", "params": {"message_id": "mnope"}},
         "events.1.params.message_id"),
    ],
)  # fmt: skip
def test_a_bad_event_rejects_the_whole_batch(api: Api, event: dict[str, Any], field: str) -> None:
    api.client().post("/api/v1/devices", json={"token": FCM, "external_id": "u1"})
    msg_id, campaign_id = _sent(api)
    message = _messages(api, campaign_id)[0]
    good_open = {"name": "push_opened", "params": {"message_id": message.id}}
    problem(_post(api, good_open, event, {"name": "later", "external_id": "u2"}), 422, field)
    assert _events(api) == []
    assert _figures(api, msg_id)["clicked"] == 0
    assert _inbox(api)[0]["status"] == "unread"
    problem(api.client().get("/api/v1/users/u2"), 404)  # no user made by a refused batch


@pytest.mark.parametrize(("size", "field"), [(0, "events"), (1001, "events")])
def test_batch_size(api: Api, size: int, field: str) -> None:
    events = [{"name": "e", "external_id": "u1"}] * size
    problem(_post(api, *events), 422, field)


def test_a_full_batch_is_accepted(api: Api) -> None:
    events = [{"name": "e", "external_id": f"u{n % 10}"} for n in range(1000)]
    response = _post(api, *events)
    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == 1000


def test_bodies_that_are_not_a_batch(api: Api) -> None:
    client = api.client()
    problem(client.post("/api/v1/events", json=[{"name": "e", "external_id": "u1"}]), 422)
    problem(client.post("/api/v1/events", json={"events": "e"}), 422, "events")
    problem(client.post("/api/v1/events", json={"events": [5]}), 422, "events.0")


def test_keys_are_required(api: Api) -> None:
    batch = {"events": [{"name": "e", "external_id": "u1"}]}
    for client in (api.client(None), api.client(None, Authorization="Bearer ftp_x_y")):
        problem(client.post("/api/v1/events", json=batch), 401)
    assert _events(api) == []


# --- push_opened ---------------------------------------------------------------------


def test_push_opened_marks_the_message_clicked_and_the_inbox_entry_read(api: Api) -> None:
    """End to end: devices through the API, a transactional send, dispatch, open."""
    client = api.client()
    client.post("/api/v1/devices", json={"token": APNS, "external_id": "u1"})
    client.post("/api/v1/devices", json={"token": FCM, "external_id": "u1"})
    client.post("/api/v1/devices", json={"token": "cd" * 32, "external_id": "u2"})
    msg_id, campaign_id = _sent(api, users=("u1", "u2"))
    before = _figures(api, msg_id)
    assert (before["messages"], before["sent"], before["clicked"]) == (3, 3, 0)
    assert before["inbox_entries"] == 2
    entry = _inbox(api)[0]
    assert (entry["campaign"], entry["status"]) == (msg_id, "unread")
    to_fcm = next(m for m in _messages(api, campaign_id) if m.platform == "android")

    opened_at = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    response = _post(
        api,
        {"name": "push_opened", "device_token": FCM, "time": opened_at,
         "params": {"message_id": str(to_fcm.id), "campaign": msg_id}},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json() == {"recorded": 1, "opened": 1}
    after = _figures(api, msg_id)
    assert after["clicked"] == 1
    entry = _inbox(api)[0]
    assert entry["status"] == "read"
    assert dt.datetime.fromisoformat(entry["read_at"]) == dt.datetime.fromisoformat(opened_at)
    assert api.client().get("/api/v1/users/u1/inbox").json()["unread"] == 0
    assert _inbox(api, "u2")[0]["status"] == "unread"  # another user's entry is untouched
    (event,) = _events(api)
    assert (event.name, event.device_id) == ("push_opened", to_fcm.device_id)

    # Opening it again is recorded but counts once and keeps the first time.
    _post(api, {"name": "push_opened", "params": {"message_id": to_fcm.id}})
    assert _figures(api, msg_id)["clicked"] == 1
    clicked = {m.id: m.clicked_at for m in _messages(api, campaign_id)}
    assert clicked[to_fcm.id] == dt.datetime.fromisoformat(opened_at)
    assert len(_events(api)) == 2


def test_push_opened_accepts_the_message_key_and_the_campaign_with_the_user(api: Api) -> None:
    client = api.client()
    for n in (1, 2, 3):
        client.post("/api/v1/devices", json={"token": f"{n}" * 64, "external_id": f"u{n}"})
    msg_id, campaign_id = _sent(api, users=("u1", "u2", "u3"))
    m1, m2, m3 = _messages(api, campaign_id)
    response = _post(
        api,
        {"name": "push_opened", "params": {"message_id": f"{msg_id}:{m1.line_no}:{m1.device_id}"}},
        {"name": "push_opened", "external_id": "u2", "params": {"message_id": msg_id}},
        {"name": "push_opened", "device_token": "3" * 64, "params": {"message_id": msg_id}},
    )
    assert response.status_code == 200, response.text
    assert _figures(api, msg_id)["clicked"] == 3
    for user in ("u1", "u2", "u3"):
        assert _inbox(api, user)[0]["status"] == "read"
    users = [e.user_id for e in _events(api)]
    assert users == [m1.user_id, m2.user_id, m3.user_id]


def test_push_opened_does_not_undelete_an_inbox_entry(api: Api) -> None:
    api.client().post("/api/v1/devices", json={"token": APNS, "external_id": "u1"})
    msg_id, campaign_id = _sent(api)
    entry = _inbox(api)[0]["id"]
    api.client().patch(f"/api/v1/users/u1/inbox/{entry}", json={"status": "deleted"})
    message = _messages(api, campaign_id)[0]
    _post(api, {"name": "push_opened", "params": {"message_id": message.id}})
    assert _figures(api, msg_id)["clicked"] == 1
    deleted = api.client().get("/api/v1/users/u1/inbox", params={"status": "deleted"}).json()
    assert [e["id"] for e in deleted["items"]] == [entry]


def test_another_apps_message_cannot_be_opened(api: Api) -> None:
    alpha, beta = api.client("alpha"), api.client("beta")
    alpha.post("/api/v1/devices", json={"token": APNS, "external_id": "u1"})
    beta.post("/api/v1/devices", json={"token": APNS, "external_id": "u1"})
    msg_id, campaign_id = _sent(api, "alpha")
    message = _messages(api, campaign_id)[0]
    key = f"{msg_id}:{message.line_no}:{message.device_id}"
    for reference in (message.id, str(message.id), key):
        opened = {"name": "push_opened", "params": {"message_id": reference}}
        problem(_post(api, opened, app="beta"), 422, "events.0.params.message_id")
    by_user = {"name": "push_opened", "external_id": "u1", "params": {"message_id": msg_id}}
    problem(_post(api, by_user, app="beta"), 422, "events.0.params.message_id")
    with_device = {"name": "e", "device_id": message.device_id}
    problem(_post(api, with_device, app="beta"), 422, "events.0.device_id")
    assert _figures(api, msg_id)["clicked"] == 0
    assert _inbox(api)[0]["status"] == "unread"
    assert _events(api) == []
    problem(beta.get(f"/api/v1/campaigns/{msg_id}"), 404)

"""`/api/v1/users`: profiles, typed attribute patches, the inbox — through a real server."""

from __future__ import annotations

from typing import Any

import pytest

from ftpush.pipeline.transactional import SendRequest, send_to_users
from ftpush.storage.attributes import declare_attribute
from tests.integration.api.conftest import Api, problem

APNS = "ab" * 32

ATTRIBUTES = {
    "age": "integer",
    "score": "number",
    "vip": "boolean",
    "city": "string",
    "birthday": "date",
    "last_order": "datetime",
    "tags": "string[]",
    "lucky": "integer[]",
}


def _declare(api: Api, app: str = "alpha") -> None:
    with api.db.transaction() as s:
        for name, type_ in ATTRIBUTES.items():
            declare_attribute(s, app_key=app, name=name, type_=type_)


def _inbox(api: Api, app: str, external_ids: list[str], text: str) -> str:
    return send_to_users(api.db, app, SendRequest(external_ids, text)).msg_id


def test_patch_creates_the_user_and_types_every_value(api: Api) -> None:
    _declare(api)
    client = api.client()
    problem(client.get("/api/v1/users/u1"), 404)
    body = {
        "email": " Ada@Example.com ",
        "msisdn": "+90 555 123 45 67",
        "attributes": {
            "age": 36,
            "score": 4,
            "vip": True,
            "city": 'Paris "rive gauche"',
            "birthday": "1815-12-10",
            "last_order": "2024-05-01T10:00",
            "tags": ["a", "b~c"],
            "lucky": [7, 13],
        },
    }
    response = client.patch("/api/v1/users/u1", json=body)
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["external_id"] == "u1"
    assert user["email"] == "Ada@Example.com"
    assert user["msisdn"] == "+905551234567"
    assert user["attributes"] == {
        "age": 36,
        "score": 4.0,
        "vip": True,
        "city": 'Paris "rive gauche"',
        "birthday": "1815-12-10",
        "last_order": "2024-05-01T10:00:00+02:00",  # no offset: the app's timezone
        "tags": ["a", "b~c"],
        "lucky": [7, 13],
    }
    assert user["devices"] == []
    assert client.get("/api/v1/users/u1").json() == user


def test_patch_merges_null_removes_and_absent_stays(api: Api) -> None:
    _declare(api)
    client = api.client()
    client.patch(
        "/api/v1/users/u1",
        json={"email": "a@example.com", "attributes": {"age": 1, "city": "Lyon"}},
    )
    user = client.patch(
        "/api/v1/users/u1", json={"email": None, "attributes": {"age": None, "VIP": False}}
    ).json()
    assert user["email"] is None
    assert user["attributes"] == {"city": "Lyon", "vip": False}  # names match without case
    unchanged = client.patch("/api/v1/users/u1", json={}).json()
    assert unchanged["attributes"] == user["attributes"]
    assert unchanged["created_at"] == user["created_at"]


def test_get_shows_the_devices(api: Api) -> None:
    client = api.client()
    client.post(
        "/api/v1/devices",
        json={"token": APNS, "external_id": "u1", "app_version": "2.0", "os_version": "17.1"},
    )
    user = client.get("/api/v1/users/u1").json()
    (device,) = user["devices"]
    assert device["token"] == APNS
    assert device["platform"] == "ios"
    assert (device["app_version"], device["os_version"]) == ("2.0", "17.1")
    assert device["external_id"] == "u1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"attributes": {"height": 180}}, "attributes.height"),
        ({"attributes": {"age": "36"}}, "attributes.age"),
        ({"attributes": {"age": 3.5}}, "attributes.age"),
        ({"attributes": {"age": True}}, "attributes.age"),
        ({"attributes": {"age": 1 << 63}}, "attributes.age"),
        ({"attributes": {"score": "high"}}, "attributes.score"),
        ({"attributes": {"vip": 1}}, "attributes.vip"),
        ({"attributes": {"vip": "true"}}, "attributes.vip"),
        ({"attributes": {"city": 5}}, "attributes.city"),
        ({"attributes": {"city": "a\u0000b"}}, "attributes.city"),
        ({"attributes": {"birthday": "10/12/1815"}}, "attributes.birthday"),
        ({"attributes": {"last_order": "yesterday"}}, "attributes.last_order"),
        ({"attributes": {"tags": "a"}}, "attributes.tags"),
        ({"attributes": {"lucky": [1, "2"]}}, "attributes.lucky"),
        ({"attributes": {"tags": [["a"]]}}, "attributes.tags"),
        ({"attributes": []}, "attributes"),
        ({"email": "not-an-address"}, "email"),
        ({"email": 5}, "email"),
        ({"msisdn": "12345"}, "msisdn"),
        ({"nickname": "x"}, "nickname"),
    ],
)
def test_bad_patches_name_the_field_and_change_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    _declare(api)
    client = api.client()
    client.patch("/api/v1/users/u1", json={"attributes": {"age": 1}})
    problem(client.patch("/api/v1/users/u1", json=body), 422, field)
    problem(client.patch("/api/v1/users/u2", json=body), 422, field)
    assert client.get("/api/v1/users/u1").json()["attributes"] == {"age": 1}
    problem(client.get("/api/v1/users/u2"), 404)  # not created by a refused patch


@pytest.mark.parametrize("external_id", ["%20u1", "u1%20", "a%00b", "x" * 256])
def test_bad_external_ids_in_the_path(api: Api, external_id: str) -> None:
    client = api.client()
    problem(client.get(f"/api/v1/users/{external_id}"), 422, "external_id")
    problem(client.patch(f"/api/v1/users/{external_id}", json={}), 422, "external_id")
    problem(client.get(f"/api/v1/users/{external_id}/inbox"), 422, "external_id")


def test_keys_are_required(api: Api) -> None:
    _declare(api)
    api.client().patch("/api/v1/users/u1", json={"attributes": {"age": 1}})
    for client in (api.client(None), api.client(None, Authorization="Bearer ftp_x_y")):
        problem(client.get("/api/v1/users/u1"), 401)
        problem(client.patch("/api/v1/users/u1", json={"attributes": {"age": 2}}), 401)
        problem(client.get("/api/v1/users/u1/inbox"), 401)
        problem(client.patch("/api/v1/users/u1/inbox/1", json={"status": "read"}), 401)
    assert api.client().get("/api/v1/users/u1").json()["attributes"] == {"age": 1}


def test_another_apps_user_is_not_found(api: Api) -> None:
    _declare(api, "alpha")
    _declare(api, "beta")
    alpha, beta = api.client("alpha"), api.client("beta")
    alpha.patch("/api/v1/users/u1", json={"email": "a@example.com", "attributes": {"age": 1}})
    problem(beta.get("/api/v1/users/u1"), 404)
    problem(beta.get("/api/v1/users/u1/inbox"), 404)
    # beta's PATCH makes beta's own user; alpha's stays as it was
    mine = beta.patch("/api/v1/users/u1", json={"attributes": {"age": 2}}).json()
    assert mine["email"] is None
    assert mine["attributes"] == {"age": 2}
    assert alpha.get("/api/v1/users/u1").json()["attributes"] == {"age": 1}


def test_attributes_are_checked_against_the_callers_declarations(api: Api) -> None:
    _declare(api, "alpha")
    problem(api.client("beta").patch("/api/v1/users/u1", json={"attributes": {"age": 1}}), 422,
            "attributes.age")  # fmt: skip


# --- inbox ---------------------------------------------------------------------------


def _user_with_inbox(api: Api, count: int) -> list[str]:
    api.client().post("/api/v1/devices", json={"token": APNS, "external_id": "u1"})
    return [_inbox(api, "alpha", ["u1"], f"hello {n}") for n in range(count)]


def test_inbox_pages_newest_first_with_the_unread_count(api: Api) -> None:
    msg_ids = _user_with_inbox(api, 5)
    client = api.client()
    first = client.get("/api/v1/users/u1/inbox", params={"limit": 2}).json()
    assert first["unread"] == 5
    assert [e["text"] for e in first["items"]] == ["hello 4", "hello 3"]
    assert first["items"][0]["campaign"] == msg_ids[4]
    assert first["items"][0]["status"] == "unread"
    texts = [e["text"] for e in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get("/api/v1/users/u1/inbox", params={"limit": 2, "cursor": cursor}).json()
        texts += [e["text"] for e in page["items"]]
        cursor = page["next_cursor"]
    assert texts == [f"hello {n}" for n in reversed(range(5))]


def test_inbox_status_changes_and_filters(api: Api) -> None:
    _user_with_inbox(api, 3)
    client = api.client()
    items = client.get("/api/v1/users/u1/inbox").json()["items"]
    newest, middle, oldest = (e["id"] for e in items)
    read = client.patch(f"/api/v1/users/u1/inbox/{newest}", json={"status": "read"})
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "read"
    assert read.json()["read_at"] is not None
    deleted = client.patch(f"/api/v1/users/u1/inbox/{middle}", json={"status": "deleted"}).json()
    assert deleted["deleted_at"] is not None

    def ids(**params: str) -> list[int]:
        return [
            e["id"] for e in client.get("/api/v1/users/u1/inbox", params=params).json()["items"]
        ]

    assert ids() == [newest, oldest]  # deleted entries are left out by default
    assert ids(status="unread") == [oldest]
    assert ids(status="read") == [newest]
    assert ids(status="deleted") == [middle]
    assert client.get("/api/v1/users/u1/inbox").json()["unread"] == 1
    back = client.patch(f"/api/v1/users/u1/inbox/{newest}", json={"status": "unread"}).json()
    assert (back["status"], back["read_at"]) == ("unread", None)
    assert client.get("/api/v1/users/u1/inbox").json()["unread"] == 2


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("inbox", {"status": "archived"}, "status"),
        ("inbox", {"limit": "0"}, "limit"),
        ("inbox", {"limit": "501"}, "limit"),
        ("inbox", {"cursor": "forged"}, "cursor"),
    ],
)
def test_bad_inbox_queries(api: Api, path: str, params: dict[str, str], field: str) -> None:
    _user_with_inbox(api, 1)
    problem(api.client().get(f"/api/v1/users/u1/{path}", params=params), 422, field)


def test_bad_inbox_patches(api: Api) -> None:
    _user_with_inbox(api, 1)
    client = api.client()
    entry = client.get("/api/v1/users/u1/inbox").json()["items"][0]["id"]
    problem(client.patch(f"/api/v1/users/u1/inbox/{entry}", json={"status": "gone"}), 422, "status")
    problem(client.patch(f"/api/v1/users/u1/inbox/{entry}", json={}), 422, "status")
    problem(client.patch("/api/v1/users/u1/inbox/abc", json={"status": "read"}), 422, "entry_id")
    problem(client.patch(f"/api/v1/users/u1/inbox/{1 << 63}", json={"status": "read"}), 422,
            "entry_id")  # fmt: skip
    problem(client.patch(f"/api/v1/users/u1/inbox/{entry + 1000}", json={"status": "read"}), 404)


def test_another_users_or_apps_entry_is_not_found(api: Api) -> None:
    _user_with_inbox(api, 1)
    alpha = api.client("alpha")
    alpha.post("/api/v1/devices", json={"token": "cd" * 32, "external_id": "u2"})
    _inbox(api, "alpha", ["u2"], "for u2")
    entry = alpha.get("/api/v1/users/u1/inbox").json()["items"][0]["id"]
    other = alpha.get("/api/v1/users/u2/inbox").json()["items"][0]["id"]
    problem(alpha.patch(f"/api/v1/users/u1/inbox/{other}", json={"status": "read"}), 404)
    problem(alpha.patch(f"/api/v1/users/u2/inbox/{entry}", json={"status": "read"}), 404)
    beta = api.client("beta")
    beta.post("/api/v1/devices", json={"token": APNS, "external_id": "u1"})
    problem(beta.patch(f"/api/v1/users/u1/inbox/{entry}", json={"status": "deleted"}), 404)
    assert beta.get("/api/v1/users/u1/inbox").json() == {
        "items": [], "next_cursor": None, "unread": 0
    }  # fmt: skip
    assert alpha.get("/api/v1/users/u1/inbox").json()["items"][0]["status"] == "unread"
    assert alpha.get("/api/v1/users/u2/inbox").json()["unread"] == 1

"""`POST /api/v1/devices` through a real server: register, update, move, validate, tenancy."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import Api, problem

APNS = "ab" * 32
FCM = "fcm-token:APA91b" + "x" * 100


def test_register_defaults_the_platform_from_the_token(api: Api) -> None:
    client = api.client()
    ios = client.post("/api/v1/devices", json={"token": APNS, "external_id": "u1"})
    assert ios.status_code == 200, ios.text
    body = ios.json()
    assert body["platform"] == "ios"
    assert body["external_id"] == "u1"
    assert body["push_permission"] is True
    assert body["token_state"] == "active"
    assert body["token"] == APNS
    android = client.post("/api/v1/devices", json={"token": FCM}).json()
    assert android["platform"] == "android"
    assert android["external_id"] is None
    explicit = client.post("/api/v1/devices", json={"token": "c" * 64, "platform": "android"})
    assert explicit.json()["platform"] == "android"


def test_update_keeps_what_is_left_out_and_moves_the_owner(api: Api) -> None:
    client = api.client()
    first = client.post(
        "/api/v1/devices",
        json={"token": APNS, "external_id": "u1", "app_version": "1.0", "os_version": "iOS 17"},
    ).json()
    second = client.post(
        "/api/v1/devices", json={"token": APNS, "push_permission": False, "app_version": "1.1"}
    ).json()
    assert second["id"] == first["id"]
    assert second["external_id"] == "u1"  # left out: the owner stays
    assert second["push_permission"] is False
    assert (second["app_version"], second["os_version"]) == ("1.1", "iOS 17")
    moved = client.post("/api/v1/devices", json={"token": APNS, "external_id": "u2"}).json()
    assert moved["id"] == first["id"]
    assert moved["external_id"] == "u2"
    assert client.get("/api/v1/users/u1").json()["devices"] == []
    devices = client.get("/api/v1/users/u2").json()["devices"]
    assert [d["token"] for d in devices] == [APNS]


def test_an_uninstalled_token_becomes_active_again(api: Api) -> None:
    client = api.client()
    device = client.post("/api/v1/devices", json={"token": APNS}).json()
    from ftpush.storage import ledger

    with api.db.transaction() as s:
        ledger.mark_devices_uninstalled(s, [device["id"]])
    again = client.post("/api/v1/devices", json={"token": APNS}).json()
    assert again["token_state"] == "active"
    assert again["uninstalled_at"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "token"),
        ({"token": ""}, "token"),
        ({"token": "has space"}, "token"),
        ({"token": " " + APNS}, "token"),
        ({"token": "tök"}, "token"),
        ({"token": "x" * 4097}, "token"),
        ({"token": 12345}, "token"),
        ({"token": APNS, "platform": "windows"}, "platform"),
        ({"token": APNS, "external_id": ""}, "external_id"),
        ({"token": APNS, "external_id": " u1"}, "external_id"),
        ({"token": APNS, "external_id": "x" * 256}, "external_id"),
        ({"token": APNS, "external_id": "a\x00b"}, "external_id"),
        ({"token": APNS, "app_version": "1" * 51}, "app_version"),
        ({"token": APNS, "app_version": "1.0\n"}, "app_version"),
        ({"token": APNS, "os_version": "x" * 51}, "os_version"),
        ({"token": APNS, "push_permission": "yes"}, "push_permission"),
        ({"token": APNS, "push_permission": 1}, "push_permission"),
        ({"token": APNS, "colour": "red"}, "colour"),
    ],
)
def test_bad_input_names_the_field(api: Api, body: dict[str, object], field: str) -> None:
    problem(api.client().post("/api/v1/devices", json=body), 422, field)


def test_a_json_array_is_not_a_device(api: Api) -> None:
    response = api.client().post("/api/v1/devices", json=[{"token": APNS}])
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_keys_are_required(api: Api) -> None:
    anonymous = api.client(None)
    problem(anonymous.post("/api/v1/devices", json={"token": APNS, "external_id": "u9"}), 401)
    bad = api.client(None, Authorization="Bearer ftp_nope_nope")
    problem(bad.post("/api/v1/devices", json={"token": APNS}), 401)
    problem(api.client().get("/api/v1/users/u9"), 404)  # nothing was created


def test_the_same_token_in_two_apps_is_two_devices(api: Api) -> None:
    alpha = api.client("alpha").post("/api/v1/devices", json={"token": APNS, "external_id": "u1"})
    beta = api.client("beta").post("/api/v1/devices", json={"token": APNS, "external_id": "u1"})
    assert alpha.json()["id"] != beta.json()["id"]
    # beta's registration did not touch alpha's device or user
    alpha_user = api.client("alpha").get("/api/v1/users/u1").json()
    assert [d["id"] for d in alpha_user["devices"]] == [alpha.json()["id"]]
    beta_only = api.client("beta").post("/api/v1/devices", json={"token": FCM}).json()
    problem(api.client("alpha").get("/api/v1/users/nobody"), 404)
    assert all(d["id"] != beta_only["id"] for d in alpha_user["devices"])

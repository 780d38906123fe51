"""`GET/PUT /api/v1/attributes` through a real server: declare, idempotence, types, tenancy."""

from __future__ import annotations

from typing import Any

import pytest

from ftpush.storage import apps, users
from tests.integration.api.conftest import Api, problem

PATH = "/api/v1/attributes"


def declared(api: Api, app: str = "alpha") -> list[dict[str, str]]:
    response = api.client(app).get(PATH)
    assert response.status_code == 200, response.text
    items: list[dict[str, str]] = response.json()["attributes"]
    return items


def test_declare_list_and_declare_again(api: Api) -> None:
    assert declared(api) == []
    expected = [{"name": "age", "type": "integer"}, {"name": "Tags", "type": "string[]"}]
    body = {"attributes": expected}
    first = api.client().put(PATH, json=body)
    assert first.status_code == 200, first.text
    assert first.json()["attributes"] == expected
    again = api.client().put(PATH, json=body)  # idempotent
    assert again.json()["attributes"] == expected
    more = api.client().put(PATH, json={"attributes": [{"name": "vip", "type": "BOOLEAN"}]})
    assert more.json()["attributes"] == [*expected, {"name": "vip", "type": "boolean"}]
    assert api.client().put(PATH, json={"attributes": []}).json()["attributes"] == declared(api)
    assert len(declared(api)) == 3  # declaring never deletes


def test_a_type_changes_until_users_have_values(api: Api) -> None:
    client = api.client()
    client.put(PATH, json={"attributes": [{"name": "level", "type": "string"}]})
    changed = client.put(PATH, json={"attributes": [{"name": "level", "type": "integer"}]})
    assert changed.status_code == 200, changed.text
    assert declared(api) == [{"name": "level", "type": "integer"}]
    with api.db.transaction() as s:
        user = users.get_or_create_user(s, apps.get_app(s, "alpha").id, "u1")
        user.attributes = {"level": 3}
    body = {"attributes": [{"name": "city", "type": "string"}, {"name": "level", "type": "string"}]}
    refused = problem(client.put(PATH, json=body), 409, "attributes.1.type")
    assert "level" in refused["detail"]
    # nothing of the list was applied
    assert declared(api) == [{"name": "level", "type": "integer"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "attributes"),
        ({"attributes": "age"}, "attributes"),
        ({"attributes": [{"name": "age"}]}, "attributes.0.type"),
        ({"attributes": [{"type": "integer"}]}, "attributes.0.name"),
        ({"attributes": [{"name": "age", "type": "int"}]}, "attributes.0.type"),
        ({"attributes": [{"name": "ok", "type": "date"}, {"name": "x", "type": "map"}]},
         "attributes.1.type"),
        ({"attributes": [{"name": "1st", "type": "string"}]}, "attributes.0.name"),
        ({"attributes": [{"name": "a-b", "type": "string"}]}, "attributes.0.name"),
        ({"attributes": [{"name": "x" * 65, "type": "string"}]}, "attributes.0.name"),
        ({"attributes": [{"name": "Email", "type": "string"}]}, "attributes.0.name"),
        ({"attributes": [{"name": "age", "type": "integer"}, {"name": "AGE", "type": "date"}]},
         "attributes.1.type"),
        ({"attributes": [{"name": "age", "type": "integer", "extra": 1}]}, "attributes.0.extra"),
        ({"attributes": [{"name": "a", "type": "string"}] * 501}, "attributes"),
    ],
)  # fmt: skip
def test_bad_input_names_the_field_and_declares_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    problem(api.client().put(PATH, json=body), 422, field)
    assert declared(api) == []


def test_a_key_is_required(api: Api) -> None:
    body = {"attributes": [{"name": "age", "type": "integer"}]}
    problem(api.client(None).get(PATH), 401)
    problem(api.client(None).put(PATH, json=body), 401)
    problem(api.client(None, Authorization="Bearer ftp_nope_x").put(PATH, json=body), 401)
    assert declared(api) == []


def test_apps_see_and_change_only_their_own(api: Api) -> None:
    api.client("alpha").put(PATH, json={"attributes": [{"name": "age", "type": "integer"}]})
    assert declared(api, "beta") == []
    # the same name in another app is another attribute, with its own type
    beta = api.client("beta").put(PATH, json={"attributes": [{"name": "age", "type": "date"}]})
    assert beta.json()["attributes"] == [{"name": "age", "type": "date"}]
    assert declared(api, "alpha") == [{"name": "age", "type": "integer"}]

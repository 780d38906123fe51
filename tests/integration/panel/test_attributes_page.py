"""The Attributes page over HTTP: the declared attributes and their types; declaring one
(the storage rules: idempotent, a used attribute keeps its type), with errors next to the
field; CSRF; tenancy; escaping."""

from __future__ import annotations

import re

import httpx

from ftpush.models import AttributeType
from ftpush.storage import attributes
from tests.integration.panel.conftest import Panel

PAGE = "/apps/alpha/attributes"


def _declared(panel: Panel, app: str = "alpha") -> dict[str, str]:
    with panel.api.db.read() as s:
        return {a.name: str(a.type) for a in attributes.list_attributes(s, app)}


def _flash(client: httpx.Client) -> str:
    shown = re.findall(r'<p class="flash flash-\w+" role="\w+">(.*?)</p>', client.get(PAGE).text)
    return " | ".join(shown)


def test_attributes_are_listed_and_declared_with_a_type(panel: Panel) -> None:
    with panel.api.db.transaction() as s:
        attributes.declare_attribute(s, app_key="alpha", name="tier", type_="string")
        attributes.declare_attribute(s, app_key="beta", name="beta_only", type_="date")
    alice = panel.login("alice")
    page = alice.get(PAGE)
    assert page.status_code == 200
    rows = re.findall(
        r'<th scope="row"><code>(\w+)</code></th><td><code>([\w\[\]]+)</code>', page.text
    )
    assert rows == [("tier", "string")]
    assert "beta_only" not in page.text
    # Every type is offered, with a label on each input.
    offered = re.findall(r'<option value="([^"]*)"', page.text)
    assert offered == ["", *[t.value for t in AttributeType]]
    assert '<label for="f-name">Name</label>' in page.text
    assert '<label for="f-type">Type</label>' in page.text
    token = panel.token(alice, PAGE)

    def declare(name: str, type_: str) -> httpx.Response:
        return alice.post(PAGE, data={"csrf_token": token, "name": name, "type": type_})

    made = declare("loyalty_points", "integer[]")
    assert made.status_code == 303
    assert made.headers["location"] == PAGE
    assert _flash(alice) == "Attribute loyalty_points declared as integer[]."
    assert _declared(panel) == {"tier": "string", "loyalty_points": "integer[]"}
    listed = alice.get(PAGE).text
    assert "<code>loyalty_points</code></th><td><code>integer[]</code>" in listed

    assert declare(" tier ", "string").status_code == 303
    assert _flash(alice) == "tier was already declared as string; nothing changed."
    assert declare("Loyalty_Points", "number[]").status_code == 303  # no values yet
    assert _flash(alice) == "loyalty_points is now number[] (was integer[]); no user had a value."

    # A type cannot change once users have values: said next to the type.
    patched = panel.api.client("alpha").patch(
        "/api/v1/users/u1", json={"attributes": {"tier": "gold"}}
    )
    assert patched.status_code == 200, patched.text
    refused = declare("tier", "integer")
    assert refused.status_code == 409
    assert re.search(
        r'<p class="field-error" id="f-type-error" role="alert">attribute &#39;tier&#39; is '
        r"string and users have values for it",
        refused.text,
    )
    assert 'aria-invalid="true" aria-errormessage="f-type-error"' in refused.text
    assert '<option value="integer" selected>' in refused.text  # the form keeps the choice
    assert _declared(panel)["tier"] == "string"


def test_bad_input_is_shown_next_to_its_field_and_nothing_is_declared(panel: Panel) -> None:
    admin = panel.login("root")
    token = panel.token(admin, PAGE)
    hostile = '<img src=x onerror="alert(1)">'
    cases = [
        ({"name": "", "type": "string"}, "name", "Give the attribute a name."),
        ({"name": "age", "type": ""}, "type", "Choose a type."),
        ({"name": "9lives", "type": "string"}, "name", "invalid attribute name &#39;9lives&#39;"),
        ({"name": "email", "type": "string"}, "name", "is an identity column"),
        ({"name": "age", "type": "float"}, "type", "unknown attribute type &#39;float&#39;"),
        ({"name": hostile, "type": "string"}, "name", "invalid attribute name"),
    ]
    for data, field, message in cases:
        answer = admin.post(PAGE, data={"csrf_token": token, **data})
        assert answer.status_code == 422, data
        error = re.search(
            rf'<p class="field-error" id="f-{field}-error" role="alert">([^<]*)</p>', answer.text
        )
        assert error, data
        assert message in error.group(1), (data, error.group(1))
        assert f'aria-invalid="true" aria-errormessage="f-{field}-error"' in answer.text
        assert answer.text.count('class="field-error"') == 1
        assert "<img src=x" not in answer.text
    assert 'value="&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"' in answer.text
    assert _declared(panel) == {}


def test_declaring_needs_the_csrf_token_and_the_app(panel: Panel) -> None:
    admin = panel.login("root")
    for data in ({"name": "tier", "type": "string"},
                 {"name": "tier", "type": "string", "csrf_token": "forged"}):  # fmt: skip
        refused = admin.post(PAGE, data=data)
        assert refused.status_code == 403
        assert "reload the page and try again" in refused.text
    bob = panel.login("bob")
    token = panel.token(bob, "/apps/beta/attributes")
    assert bob.get(PAGE).status_code == 404
    answer = bob.post(PAGE, data={"csrf_token": token, "name": "tier", "type": "string"})
    assert answer.status_code == 404
    assert _declared(panel) == {}
    ok = bob.post(
        "/apps/beta/attributes", data={"csrf_token": token, "name": "tier", "type": "date"}
    )
    assert ok.status_code == 303
    assert _declared(panel, "beta") == {"tier": "date"}

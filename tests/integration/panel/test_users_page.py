"""The Users page over HTTP: look up by external ID (a GET form), profile with typed
attributes, devices with short tokens, the Inbox in every status, recent events; unknown
and invalid IDs; tenancy; escaping."""

from __future__ import annotations

import re
from urllib.parse import quote

from ftpush.storage import users
from tests.integration.panel.conftest import Panel
from tests.integration.panel.sends import (
    ANDROID,
    BETA,
    CART_TEXT,
    FAILING,
    IOS,
    NOTICE_TEXT,
    seed,
)

_TABLE = re.compile(r'<table class="(\w+)[^"]*">(.*?)</table>', re.S)
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)


def _tables(html: str) -> dict[str, list[list[str]]]:
    """Class of each table → its body rows as cell texts (tags dropped, spaces squeezed)."""
    found = {}
    for name, body in _TABLE.findall(html):
        rows = []
        for row in _ROW.findall(body.split("<tbody>", 1)[-1]):
            cells = [
                re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in _CELL.findall(row)
            ]
            rows.append(cells)
        found[name] = rows
    return found


def test_a_user_is_looked_up_with_profile_devices_inbox_and_events(panel: Panel) -> None:
    seeded = seed(panel.api)
    admin = panel.login("root")
    empty = admin.get("/apps/alpha/users")
    assert empty.status_code == 200
    assert '<form method="get" action="/apps/alpha/users"' in empty.text
    assert '<label for="f-external_id">External ID</label>' in empty.text

    answer = admin.get("/apps/alpha/users", params={"external_id": "u1"})
    assert answer.status_code == 200
    html = answer.text
    tables = _tables(html)
    # Attributes with their declared types; values escaped.
    assert tables["attributes"] == [
        ["age", "integer", "25"],
        ["tier", "string", "gold &lt;vip&gt;"],
    ]
    # Devices: the token's start and end only, never the whole token.
    assert tables["devices"] == [
        ["ios", "a1a1a1a1…a1a1", "3.2.0", "17.5", tables["devices"][0][4], "granted", "active"],
        ["android", "fcm-u1-p…6789", "3.1.9", "14", tables["devices"][1][4], "granted", "active"],
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T", tables["devices"][0][4])
    for token in (IOS, ANDROID):
        assert token not in html
    # The Inbox, newest first, in every status; the counts.
    inbox = tables["inbox"]
    assert [row[1].split()[0] for row in inbox] == ["deleted", "unread", "read"]
    assert [row[3] for row in inbox] == [seeded.notice, seeded.cart, seeded.welcome]
    assert inbox[0][2] == NOTICE_TEXT
    assert inbox[1][2] == CART_TEXT
    assert inbox[2][2] == "Welcome &lt;b&gt;back&lt;/b&gt; &amp; enjoy https://shop.example/w"
    assert "1 unread, 1 read, 1 deleted." in html
    assert f'href="/apps/alpha/campaigns/{seeded.welcome}"' in html
    # Recent events, newest first, with their device and parameters (escaped).
    names = [row[1] for row in tables["events"]]
    assert sorted(names) == ["purchase", "push_opened", "push_opened"]
    purchase = next(row for row in tables["events"] if row[1] == "purchase")
    assert purchase[2] == "a1a1a1a1…a1a1"
    assert purchase[3] == "note : &lt;img src=x onerror=alert(1)&gt; total : 129.9"
    assert "<img src=x" not in html

    u2 = admin.get("/apps/alpha/users?external_id=u2")
    assert _tables(u2.text)["devices"][0][1] == "fail-u2-…-s23"
    assert FAILING not in u2.text


def test_unknown_and_invalid_ids_are_messages_and_members_see_their_app_only(
    panel: Panel,
) -> None:
    seed(panel.api)
    alice, bob = panel.login("alice"), panel.login("bob")
    hostile = '"><script>alert(1)</script>'
    answer = alice.get("/apps/alpha/users", params={"external_id": hostile})
    assert answer.status_code == 404
    escaped = "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f"No user with external ID <strong>{escaped}</strong> in alpha." in answer.text
    assert "<script>alert(1)" not in answer.text
    assert 'value="&#34;&gt;&lt;script&gt;' in answer.text  # the form keeps what was asked
    assert "<h1>Users</h1>" in answer.text  # the page, not the error page
    # Beta's user does not exist in alpha.
    assert alice.get("/apps/alpha/users?external_id=b1").status_code == 404
    # Not an external ID: said next to the field; NUL never reaches the database.
    for bad in ("x" * 256, "x" * 5000, "a\x00b", "tab\there", " padded"):
        refused = alice.get("/apps/alpha/users", params={"external_id": bad})
        assert refused.status_code == 422, repr(bad)
        assert 'aria-invalid="true" aria-errormessage="form-error"' in refused.text
        assert '<p class="field-error" id="form-error" role="alert">Not an external ID:' in (
            refused.text
        )
    # A user whose external ID is hostile is shown, escaped.
    with panel.api.db.transaction() as s:
        users.register_device(s, app_key="alpha", token="fcm-hostile", external_id=hostile)
    found = alice.get("/apps/alpha/users?external_id=" + quote(hostile))
    assert found.status_code == 200
    assert "<script>alert(1)" not in found.text
    assert f"User <code>{escaped}</code>" in found.text

    # A member sees their own app's users only.
    own = bob.get("/apps/beta/users?external_id=b1")
    assert own.status_code == 200
    assert f"<code>{BETA}</code>" in own.text  # a short token is shown whole
    for path in ("/apps/alpha/users", "/apps/alpha/users?external_id=u1"):
        answer = bob.get(path)
        assert answer.status_code == 404, path
        assert "There is no such page" in answer.text
        assert "u1" not in answer.text.split("<main", 1)[1]
    assert panel.client().get("/apps/alpha/users?external_id=u1").status_code == 303  # log in

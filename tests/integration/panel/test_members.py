"""App members: created by an admin on the Members page or with ``ftpush admin``, shown their
password once, able to log in to their app only; disabling or deleting ends their sessions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ftpush.config import load_settings
from ftpush.models import Role
from ftpush.storage import Database, panel_users
from tests.integration.cli.conftest import Ftpush
from tests.integration.panel.conftest import Panel, csrf_of, serving_panel

MEMBERS = "/apps/alpha/members"
_PASSWORD = re.compile(r'<output class="secret-value" id="new-password"[^>]*>([^<]+)</output>')


@pytest.fixture
def sqlite_panel(tmp_path: Path) -> Iterator[Panel]:
    """The panel on SQLite only (panel_users' queries run on both backends in
    test_the_members_page_is_for_admins_only and tests/integration/panel/test_panel_storage)."""
    with serving_panel("sqlite", None, tmp_path) as world:
        yield world


def log_in(panel: Panel, username: str, password: str) -> tuple[httpx.Client, httpx.Response]:
    client = panel.client()
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form.text)},
    )
    return client, answer


def create(panel: Panel, admin: httpx.Client, username: str) -> httpx.Response:
    token = panel.token(admin, MEMBERS)
    return admin.post(MEMBERS, data={"username": username, "csrf_token": token})


def test_the_members_page_is_for_admins_only(panel: Panel) -> None:
    alice, root = panel.login("alice"), panel.login("root")
    assert root.get(MEMBERS).status_code == 200
    assert 'href="/apps/alpha/members">Members</a>' in root.get("/apps").text
    assert "/members" not in alice.get("/apps").text
    assert "/members" not in alice.get("/apps/alpha/accounts").text  # not in the app navigation
    own = alice.get(MEMBERS)
    assert own.status_code == 403
    assert "Only an administrator may do this." in own.text
    for path in ("/apps/beta/members", "/apps/nope/members"):
        assert alice.get(path).status_code == 404, path
    token = panel.token(alice, "/apps/alpha/accounts")
    for path, data in (
        (MEMBERS, {"username": "mallory"}),
        (f"{MEMBERS}/alice/enabled", {"enabled": "off"}),
        (f"{MEMBERS}/alice/delete", {"confirm": "yes"}),
    ):
        assert alice.post(path, data={**data, "csrf_token": token}).status_code == 403, path
        beta = path.replace("/alpha/", "/beta/")
        assert alice.post(beta, data={**data, "csrf_token": token}).status_code == 404, beta
    # Without the token, even an admin's form is refused.
    assert root.post(MEMBERS, data={"username": "mallory"}).status_code == 403
    assert root.post(MEMBERS, data={"username": "mallory", "csrf_token": "x"}).status_code == 403
    with panel.api.db.read() as s:
        names = [u.username for u in panel_users.list_panel_users(s)]
        assert "mallory" not in names
        assert [u.enabled for u in panel_users.list_panel_users(s, "alpha")] == [True]


def test_a_member_is_created_with_a_password_shown_once_and_logs_in(sqlite_panel: Panel) -> None:
    panel = sqlite_panel
    root = panel.login("root")
    made = create(panel, root, "carol")
    assert made.status_code == 200, made.text
    found = _PASSWORD.search(made.text)
    assert found
    password = found.group(1)
    assert len(password) == 24
    page = root.get(MEMBERS).text
    assert password not in page
    assert re.search(r'<th scope="row">carol</th>\s*<td><span class="badge on">enabled', page)
    carol, answer = log_in(panel, "carol", password)
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    assert carol.get("/").headers["location"] == "/apps/alpha"
    assert carol.get("/apps/alpha/export").status_code == 200
    assert carol.get("/apps/beta/export").status_code == 404
    assert carol.get(MEMBERS).status_code == 403
    assert password not in carol.get("/apps/alpha/accounts").text
    # Names are unique across the panel and checked; what was typed comes back escaped.
    for name, status, says in (
        ("carol", 409, "already exists"),
        ("root", 409, "already exists"),
        ("<b>x</b>", 422, "invalid username"),
        ("", 422, "invalid username"),
    ):
        refused = create(panel, root, name)
        assert refused.status_code == status, name
        error = re.search(r'<p class="field-error" id="f-username-error">([^<]*)</p>', refused.text)
        assert error, name
        assert says in error.group(1)
        assert 'aria-errormessage="f-username-error"' in refused.text
        assert "<b>x</b>" not in refused.text
        assert not _PASSWORD.search(refused.text)


def test_disabling_or_deleting_a_member_ends_their_sessions(sqlite_panel: Panel) -> None:
    panel = sqlite_panel
    root = panel.login("root")
    password = _PASSWORD.search(create(panel, root, "dave").text)
    assert password
    dave, _ = log_in(panel, "dave", password.group(1))
    assert dave.get("/apps/alpha/accounts").status_code == 200
    token = panel.token(root, MEMBERS)
    off = root.post(f"{MEMBERS}/dave/enabled", data={"enabled": "off", "csrf_token": token})
    assert off.status_code == 303
    assert (
        "dave is disabled: logins are refused, and 1 open session ended." in root.get(MEMBERS).text
    )
    assert dave.get("/apps/alpha/accounts").status_code == 303  # to the login form
    assert log_in(panel, "dave", password.group(1))[1].status_code == 200  # refused
    on = root.post(f"{MEMBERS}/dave/enabled", data={"enabled": "on", "csrf_token": token})
    assert on.status_code == 303
    dave, answer = log_in(panel, "dave", password.group(1))
    assert answer.status_code == 303
    unconfirmed = root.post(f"{MEMBERS}/dave/delete", data={"csrf_token": token})
    assert unconfirmed.status_code == 303
    assert "Tick the box" in root.get(MEMBERS).text
    assert dave.get("/apps/alpha/accounts").status_code == 200
    deleted = root.post(f"{MEMBERS}/dave/delete", data={"confirm": "yes", "csrf_token": token})
    assert deleted.status_code == 303
    assert "Member dave deleted" in root.get(MEMBERS).text
    assert dave.get("/apps/alpha/accounts").status_code == 303
    with panel.api.db.read() as s:
        assert "dave" not in [u.username for u in panel_users.list_panel_users(s)]
    # Members of another app, admins and unknown names are not this page's: 404.
    for name in ("bob", "root", "nobody"):
        for action, data in (("enabled", {"enabled": "off"}), ("delete", {"confirm": "yes"})):
            answer = root.post(f"{MEMBERS}/{name}/{action}", data={**data, "csrf_token": token})
            assert answer.status_code == 404, (name, action)
    with panel.api.db.read() as s:
        assert all(u.enabled for u in panel_users.list_panel_users(s))


def test_members_from_the_command_line(tmp_path: Path) -> None:
    ftpush = Ftpush(tmp_path / "data")
    ftpush("app", "create", "demo")
    made = ftpush("admin", "create-member", "erin", "--app", "demo")
    assert "created member erin of app demo" in made.out
    password = re.search(r"password: (\S+)", made.out)
    assert password
    assert "shown once" in made.out
    as_json = ftpush("admin", "create-member", "frank", "--app", "demo", "--json").json()
    assert (as_json["role"], as_json["app"], len(as_json["password"])) == ("member", "demo", 24)
    ftpush("admin", "create", "boss", input="a-long-password\n")
    listed = ftpush("admin", "list", "--json").json()
    assert [(u["username"], u["role"], u["app_key"]) for u in listed] == [
        ("boss", "admin", None), ("erin", "member", "demo"), ("frank", "member", "demo"),
    ]  # fmt: skip
    assert all("password" not in str(u) for u in listed)
    assert [u["username"] for u in ftpush("admin", "list", "--app", "demo", "--json").json()] == [
        "erin", "frank",
    ]  # fmt: skip
    table = ftpush("admin", "list").out
    assert re.search(r"^erin\s+member\s+demo\s+yes", table, re.M), table
    assert "already exists" in ftpush.fails("admin", "create-member", "erin", "--app", "demo").err
    assert "does not exist" in ftpush.fails("admin", "create-member", "gina", "--app", "x").err
    assert "disabled erin (0 sessions ended)" in ftpush("admin", "disable", "erin").out
    assert "enabled erin" in ftpush("admin", "enable", "erin").out
    assert "removed frank" in ftpush("admin", "remove", "frank").out
    assert "no panel user 'frank'" in ftpush.fails("admin", "disable", "frank").err
    db = Database.open(load_settings(data_dir=tmp_path / "data", environ={}))
    try:
        with db.transaction() as s:
            user = panel_users.verify_login(s, "erin", password.group(1))
            assert user is not None
            assert (user.role, user.enabled) == (Role.MEMBER, True)
    finally:
        db.close()

"""The panel over plain HTTP (httpx, no browser): sessions, CSRF, rate limits, roles, secrets."""

from __future__ import annotations

import re

import httpx
import pytest

from ftpush.crypto import verify_password
from ftpush.storage import accounts, api_keys, apps
from ftpush.storage.tables import PanelSession
from tests.integration.panel.conftest import COOKIE, USERS, Panel, csrf_of

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK2Sx4nG4yJ+0lYJqKx9qTqxKJ3g2Dk8iQ0XTEST0001 ci@test"


def _cookie(client: httpx.Client) -> str:
    value = client.cookies.get(COOKIE)
    assert value, "no session cookie"
    return value


def _with_cookie(panel: Panel, value: str) -> httpx.Client:
    client = panel.client()
    client.cookies.set(COOKIE, value)
    return client


def test_pages_need_a_login_and_stay_out_of_the_openapi_document(panel: Panel) -> None:
    client = panel.client()
    for path in ("/", "/apps", "/apps/alpha/accounts", "/apps/alpha/api-keys", "/password"):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login"), path
    assert client.get("/apps/alpha/accounts").headers["location"] == (
        "/login?next=/apps/alpha/accounts"
    )
    login = client.get("/login")
    assert login.status_code == 200
    assert 'name="viewport"' in login.text
    for name, value in {
        "content-security-policy": "default-src 'self'",
        "x-frame-options": "DENY",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    }.items():
        assert value in login.headers[name]
    css = client.get("/static/panel.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    paths = client.get("/api/openapi.json").json()["paths"]
    assert all(p.startswith("/api/") or p in ("/healthz", "/metrics") for p in paths), paths
    assert client.get("/healthz").json()["status"] == "ok"


def test_the_session_cookie_is_http_only_lax_and_renewed_at_login(panel: Panel) -> None:
    client = panel.client()
    form = client.get("/login")
    before = _cookie(client)
    assert before.startswith("a:")
    header = form.headers["set-cookie"].lower()
    assert "httponly" in header
    assert "samesite=lax" in header
    assert "secure" not in header  # plain HTTP here; HTTPS adds Secure
    answer = client.post(
        "/login",
        data={"username": "root", "password": USERS["root"][0], "csrf_token": csrf_of(form.text)},
    )
    assert answer.status_code == 303
    after = _cookie(client)
    assert after.startswith("s:")
    assert after.split(".")[0] != before.split(".")[0]  # session fixation: a new id
    assert client.get("/apps").status_code == 200
    # The pre-login cookie is worth nothing, and neither is a planted or forged one.
    for value in (before, "s:planted-by-an-attacker.c2lnbmF0dXJl", after[:-2] + "xx"):
        stranger = _with_cookie(panel, value)
        assert stranger.get("/apps").status_code == 303
    # Logging in again over an existing session also issues a new one.
    assert client.get("/login").headers["location"] == "/"
    again = client.post(
        "/login",
        data={
            "username": "root", "password": USERS["root"][0],
            "csrf_token": panel.token(client, "/apps"),
        },
    )  # fmt: skip
    assert again.status_code == 303
    assert _cookie(client) != after
    assert _with_cookie(panel, after).get("/apps").status_code == 303


def test_every_post_needs_the_session_csrf_token(panel: Panel) -> None:
    # Even the login form.
    anonymous = panel.client()
    anonymous.get("/login")
    refused = anonymous.post("/login", data={"username": "root", "password": USERS["root"][0]})
    assert refused.status_code == 403
    assert COOKIE not in refused.headers.get("set-cookie", "") or not _cookie(anonymous).startswith(
        "s:"
    )
    admin = panel.login("root")
    other = panel.login("root")
    foreign_token = panel.token(other, "/apps")
    for data in (
        {"key": "gamma"},
        {"key": "gamma", "csrf_token": ""},
        {"key": "gamma", "csrf_token": "not-the-token"},
        {"key": "gamma", "csrf_token": foreign_token},  # another session's token
    ):
        answer = admin.post("/apps", data=data)
        assert answer.status_code == 403, data
        assert "not sent from a page of this panel" in answer.text
        assert "text/html" in answer.headers["content-type"]
    for path, data in (
        ("/logout", {}),
        ("/apps/alpha/ftp", {"enabled": "off"}),
        ("/apps/alpha/accounts", {"username": "sneaky"}),
        ("/apps/alpha/api-keys", {"name": "sneaky"}),
        ("/password", {"current_password": USERS["root"][0], "new_password": "x" * 20}),
    ):
        assert admin.post(path, data=data).status_code == 403, path
    with panel.api.db.read() as session:
        assert [a.key for a in apps.list_apps(session)] == ["alpha", "beta"]
        assert apps.get_app(session, "alpha").ftp_enabled
        assert accounts.list_accounts(session, "alpha") == []
        assert len(api_keys.list_api_keys(session, "alpha")) == 1
    assert admin.get("/apps").status_code == 200  # the refused logout logged nobody out
    token = panel.token(admin, "/apps")
    created = admin.post("/apps", data={"key": "gamma", "csrf_token": token, "ftp": "on"})
    assert created.status_code == 303


def test_failed_logins_are_limited_per_user_and_address(panel: Panel) -> None:
    client = panel.client()
    token = panel.token(client, "/login")
    for _ in range(5):
        wrong = client.post(
            "/login", data={"username": "root", "password": "guess-guess-1", "csrf_token": token}
        )
        assert wrong.status_code == 200
        assert "Wrong username or password." in wrong.text
    # The right password is not even checked now.
    limited = client.post(
        "/login", data={"username": "ROOT ", "password": USERS["root"][0], "csrf_token": token}
    )
    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 15 * 60
    assert "Too many failed attempts for this user from your address" in limited.text
    assert "Try again in 15 minutes" in limited.text
    assert not _cookie(client).startswith("s:")
    # Another user from the same address is not locked out.
    panel.login("alice")
    # Nor does the limit ever leak whether a username exists.
    unknown = client.post(
        "/login", data={"username": "nobody", "password": "guess-guess-1", "csrf_token": token}
    )
    assert "Wrong username or password." in unknown.text


def test_logout_ends_the_session_on_the_server(panel: Panel) -> None:
    client = panel.login("alice")
    cookie = _cookie(client)
    token = panel.token(client, "/apps")
    answer = client.post("/logout", data={"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert f'{COOKIE}=""' in answer.headers["set-cookie"] or "max-age=0" in (
        answer.headers["set-cookie"].lower()
    )
    assert "You are logged out." in client.get("/login").text
    # Whoever kept a copy of the cookie cannot use it any more.
    replay = _with_cookie(panel, cookie)
    assert replay.get("/apps").status_code == 303
    assert replay.get("/apps/alpha/accounts").status_code == 303


def test_a_password_change_logs_out_every_other_session(panel: Panel) -> None:
    mine, elsewhere = panel.login("alice"), panel.login("alice")
    old_cookie = _cookie(mine)
    token = panel.token(mine, "/password")
    for data, message in (
        ({"current_password": "not-it-at-all"}, "the current password is not right"),
        ({"new_password": "short", "confirm_password": "short"}, "at least 12 characters"),
        ({"new_password": "new-password-1", "confirm_password": "new-password-2"}, "differ"),
    ):
        form = {
            "csrf_token": token,
            "current_password": USERS["alice"][0],
            "new_password": "new-password-1",
            "confirm_password": "new-password-1",
            **data,
        }
        refused = mine.post("/password", data=form)
        assert refused.status_code == 422
        assert message in refused.text
        assert 'aria-invalid="true"' in refused.text
    changed = mine.post(
        "/password",
        data={
            "csrf_token": token,
            "current_password": USERS["alice"][0],
            "new_password": "new-password-1",
            "confirm_password": "new-password-1",
        },
    )
    assert changed.status_code == 303
    assert _cookie(mine) != old_cookie
    assert "Password changed" in mine.get("/apps").text
    assert elsewhere.get("/apps").status_code == 303
    assert _with_cookie(panel, old_cookie).get("/apps").status_code == 303
    fresh = panel.client()
    token = panel.token(fresh, "/login")
    old = fresh.post(
        "/login",
        data={"username": "alice", "password": USERS["alice"][0], "csrf_token": token},
    )
    assert "Wrong username or password." in old.text
    new = fresh.post(
        "/login", data={"username": "alice", "password": "new-password-1", "csrf_token": token}
    )
    assert new.status_code == 303


def test_a_member_sees_only_their_own_app(panel: Panel) -> None:
    with panel.api.db.transaction() as session:
        accounts.add_account(session, app_key="beta", username="beta-ftp")
        beta_prefix = api_keys.create_api_key(session, "beta", "beta's")[0].prefix
    alice = panel.login("alice")
    assert alice.get("/").headers["location"] == "/apps/alpha"
    listing = alice.get("/apps")
    assert "/apps/alpha" in listing.text
    assert "beta" not in listing.text
    assert "New app" not in listing.text
    assert alice.get("/apps/alpha/accounts").status_code == 200
    token = panel.token(alice, "/apps/alpha/accounts")
    unknown = alice.get("/apps/no-such-app/accounts")
    for path in (
        "/apps/beta",
        "/apps/beta/accounts",
        "/apps/beta/api-keys",
        "/apps/beta/accounts/beta-ftp",
        "/apps/alpha/accounts/beta-ftp",  # beta's account through alpha's pages
    ):
        answer = alice.get(path)
        assert answer.status_code == 404, path
        assert answer.text == unknown.text.replace("no-such-app", "beta") or (
            "not yours to see" in answer.text
        )
    for path, data in (
        ("/apps/beta/accounts", {"username": "intruder"}),
        ("/apps/beta/api-keys", {"name": "intruder"}),
        ("/apps/beta/ftp", {"enabled": "off"}),
        ("/apps/alpha/accounts/beta-ftp/enabled", {"enabled": "off"}),
        ("/apps/alpha/accounts/beta-ftp/delete", {"confirm": "yes"}),
        (f"/apps/alpha/api-keys/{beta_prefix}/revoke", {}),
    ):
        assert alice.post(path, data={**data, "csrf_token": token}).status_code == 404, path
    # Operator-only actions on their own app are refused.
    assert (
        alice.post("/apps/alpha/ftp", data={"enabled": "off", "csrf_token": token}).status_code
        == 403
    )
    assert alice.post("/apps", data={"key": "mine", "csrf_token": token}).status_code == 403
    with panel.api.db.read() as session:
        assert [a.key for a in apps.list_apps(session)] == ["alpha", "beta"]
        assert [a.username for a in accounts.list_accounts(session, "beta")] == ["beta-ftp"]
        assert accounts.list_accounts(session, "beta")[0].enabled
        assert all(k.revoked_at is None for k in api_keys.list_api_keys(session, "beta"))
        assert apps.get_app(session, "beta").ftp_enabled


def test_secrets_are_shown_once_and_never_again(panel: Panel) -> None:
    admin = panel.login("root")
    token = panel.token(admin, "/apps/alpha/accounts")
    created = admin.post(
        "/apps/alpha/accounts",
        data={"csrf_token": token, "username": "acme", "allow": "203.0.113.0/24\n2001:db8::/32"},
    )
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    password = created.text.split('id="new-password"')[1].split(">")[1].split("<")[0]
    assert len(password) == 24
    assert created.text.count(password) == 1
    with panel.api.db.read() as session:
        record = accounts.login_record(session, "acme")
        assert record is not None
        assert verify_password(record.password_hash, password)
        assert {str(n) for n in record.networks} == {"203.0.113.0/24", "2001:db8::/32"}
    made = admin.post("/apps/alpha/api-keys", data={"csrf_token": token, "name": "backend"})
    assert made.status_code == 200
    key = made.text.split('id="new-api-key"')[1].split(">")[1].split("<")[0]
    assert key.startswith("ftp_")
    assert made.text.count(key) == 1
    # The key is real: the API takes it.
    api = httpx.get(
        f"{panel.url}/api/v1/attributes", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert api.status_code == 200
    # Afterwards, on every page (and on error pages, and to the other users), neither shows.
    refused = admin.post("/apps/alpha/accounts", data={"csrf_token": token, "username": "acme"})
    assert refused.status_code == 422
    assert "already exists" in refused.text
    alice = panel.login("alice")
    for client in (admin, alice):
        for path in (
            "/apps",
            "/apps/alpha/accounts",
            "/apps/alpha/accounts/acme",
            "/apps/alpha/api-keys",
            "/password",
            "/apps/beta/accounts",
        ):
            body = client.get(path).text
            assert password not in body, path
            assert key not in body, path
            assert key.split("_", 2)[2] not in body, path
    assert refused.text.count(password) == 0
    assert key not in refused.text


def test_accounts_are_managed_from_their_page(panel: Panel) -> None:
    admin = panel.login("root")
    base = "/apps/alpha/accounts/acme"
    token = panel.token(admin, "/apps/alpha/accounts")
    bad = admin.post(
        "/apps/alpha/accounts",
        data={"csrf_token": token, "username": "acme", "allow": "10.0.0.1/8"},
    )
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    assert (
        admin.post(
            "/apps/alpha/accounts", data={"csrf_token": token, "username": "acme"}
        ).status_code
        == 200
    )
    page = admin.get(base)
    assert "cannot log in from anywhere" in page.text
    listing = admin.get("/apps/alpha/accounts").text
    assert re.search(r'<textarea id="f-ssh_keys"[^>]*></textarea>', listing), "form not empty"
    assert "built-in method" not in listing

    def post(path: str, **data: str) -> httpx.Response:
        return admin.post(base + path, data={"csrf_token": token, **data})

    assert post("/networks", allow="198.51.100.7, 2001:db8::/48").status_code == 303
    assert post("/networks", allow="not-an-ip").status_code == 422
    assert post("/keys", ssh_keys="ssh-rsa garbage").status_code == 422
    added = post("/keys", ssh_keys=SSH_KEY)
    assert added.status_code == 303
    shown = admin.get(base).text
    assert "Added key SHA256:" in shown
    assert "198.51.100.7/32" in shown
    assert "ci@test" in shown
    with panel.api.db.read() as session:
        [detail] = accounts.describe_accounts(session, "alpha", "acme")
    assert detail.networks == ["198.51.100.7/32", "2001:db8::/48"]
    assert post("/keys/remove", fingerprint=detail.keys[0].fingerprint).status_code == 303
    assert post("/networks/remove", cidr="198.51.100.7/32").status_code == 303
    assert post("/networks/remove", cidr="198.51.100.7/32").status_code == 404
    assert post("/enabled", enabled="off").status_code == 303
    with panel.api.db.read() as session:
        [detail] = accounts.describe_accounts(session, "alpha", "acme")
    assert (detail.enabled, detail.keys, detail.networks) == (False, [], ["2001:db8::/48"])
    assert "disabled" in admin.get("/apps/alpha/accounts").text
    assert post("/enabled", enabled="on").status_code == 303
    unconfirmed = post("/delete")
    assert unconfirmed.status_code == 422
    assert "Tick the box" in unconfirmed.text
    assert post("/delete", confirm="yes").status_code == 303
    assert "Account acme deleted." in admin.get("/apps/alpha/accounts").text
    assert admin.get(base).status_code == 404


def test_apps_are_created_and_switched_by_an_admin(panel: Panel) -> None:
    admin = panel.login("root")
    token = panel.token(admin, "/apps")
    hostile = "<script>alert(1)</script>"
    bad = admin.post("/apps", data={"csrf_token": token, "key": hostile, "name": hostile})
    assert bad.status_code == 422
    assert "<script>alert" not in bad.text
    assert "&lt;script&gt;" in bad.text
    zone = admin.post(
        "/apps", data={"csrf_token": token, "key": "gamma", "timezone": "Mars/Olympus"}
    )
    assert zone.status_code == 422
    assert "unknown timezone" in zone.text
    made = admin.post(
        "/apps",
        data={"csrf_token": token, "key": "gamma", "name": "Gamma", "timezone": "Asia/Tokyo"},
    )
    assert made.status_code == 303
    assert "App gamma created; its FTP offer is off." in admin.get("/apps").text
    assert admin.post("/apps", data={"csrf_token": token, "key": "gamma"}).status_code == 422
    with panel.api.db.read() as session:
        gamma = apps.get_app(session, "gamma")
        assert (gamma.name, gamma.timezone, gamma.ftp_enabled) == ("Gamma", "Asia/Tokyo", False)
    assert (
        admin.post("/apps/gamma/ftp", data={"csrf_token": token, "enabled": "on"}).status_code
        == 303
    )
    with panel.api.db.read() as session:
        assert apps.get_app(session, "gamma").ftp_enabled
    assert admin.get("/apps/gamma").headers["location"] == "/apps/gamma/accounts"
    assert admin.get("/apps/nothing/accounts").status_code == 404


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_login_never_redirects_to_another_site(panel: Panel, target: str) -> None:
    client = panel.client()
    token = panel.token(client, f"/login?next={target}")
    answer = client.post(
        "/login",
        data={
            "username": "root", "password": USERS["root"][0], "csrf_token": token, "next": target,
        },
    )  # fmt: skip
    assert answer.headers["location"] == "/"


def test_a_form_sent_after_the_session_ended_is_not_applied(panel: Panel) -> None:
    client = panel.login("root")
    token = panel.token(client, "/apps")
    with panel.api.db.transaction() as session:
        session.query(PanelSession).delete()  # every session ends (as after idleness)
    answer = client.post("/apps", data={"csrf_token": token, "key": "late"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert "Your session has ended, so the form was not sent" in client.get("/login").text
    with panel.api.db.read() as session:
        assert [a.key for a in apps.list_apps(session)] == ["alpha", "beta"]

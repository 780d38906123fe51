"""The panel in a real browser: Playwright driving Debian's headless Chromium.

The browser is the ``chromium`` package (``make system-deps`` installs it), launched by
its path; Playwright never downloads one. Without it these tests are skipped, saying
why. Screenshots of every page go to ``$FTPUSH_TEST_ARTIFACTS/panel`` (default
``test-artifacts/panel``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ftpush.crypto import verify_password
from ftpush.storage import accounts, api_keys
from tests.integration.panel.browser import log_in, shot
from tests.integration.panel.conftest import USERS, Panel

SSH_KEY = (Path(__file__).parent / "id_ed25519.pub").read_text().strip()

pytestmark = pytest.mark.slow


@pytest.fixture
def page(chromium: Browser, panel_sqlite: Panel) -> Iterator[Page]:
    context = chromium.new_context(
        base_url=panel_sqlite.url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def test_an_admin_creates_an_app_an_account_and_an_api_key(page: Page, panel_sqlite: Panel) -> None:
    page.goto("/apps")
    expect(page).to_have_url(re.compile(r"/login\?next=/apps$"))
    shot(page, "01-login")
    log_in(page, "root")
    expect(page).to_have_url(re.compile(r"/apps$"))
    expect(page.get_by_role("heading", name="Apps", exact=True)).to_be_visible()
    shot(page, "02-apps")

    page.get_by_label("App key").fill("gamma")
    page.get_by_label("Name").fill("Gamma Shop")
    page.get_by_label("Timezone").fill("Europe/Istanbul")
    page.get_by_role("button", name="Create app").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "App gamma created; its FTP offer is on."
    )
    row = page.get_by_role("row", name=re.compile("gamma"))
    expect(row).to_contain_text("Europe/Istanbul")
    row.get_by_role("button", name="Switch the FTP offer of gamma off").click()
    expect(page.get_by_role("status").first).to_contain_text("FTP offer of gamma is now off")
    expect(page.get_by_role("row", name=re.compile("gamma"))).to_contain_text("off")
    shot(page, "03-apps-gamma-created")

    page.get_by_role("link", name="gamma", exact=True).click()
    expect(page).to_have_url(re.compile(r"/apps/gamma/accounts$"))
    shot(page, "04-accounts-empty")
    page.get_by_label("Username").fill("acme")
    page.get_by_label("Allowed networks").fill("203.0.113.0/24")
    page.get_by_label("SSH public keys (optional)").fill(SSH_KEY)
    page.get_by_role("button", name="Create account").click()
    secret = page.locator("#new-password")
    expect(secret).to_be_visible()
    password = secret.inner_text().strip()
    assert len(password) == 24
    shot(page, "05-account-created-password-shown-once")
    with panel_sqlite.api.db.read() as session:
        record = accounts.login_record(session, "acme")
        assert record is not None
        assert verify_password(record.password_hash, password)
        assert record.key_fingerprints

    page.get_by_role("link", name="acme").click()
    expect(page.get_by_role("heading", name="acme")).to_be_visible()
    expect(page.get_by_text("panel@test")).to_be_visible()
    page.get_by_label("Allow network").fill("2001:db8::/48")
    page.get_by_role("button", name="Allow", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text(
        "acme may now log in from 2001:db8::/48"
    )
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status").first).to_contain_text("acme is disabled")
    shot(page, "06-account-detail")

    page.get_by_role("navigation", name="App gamma").get_by_role("link", name="API keys").click()
    expect(page).to_have_url(re.compile(r"/apps/gamma/api-keys$"))
    shot(page, "07-api-keys-empty")
    page.get_by_label("What it is for").fill("backend")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-api-key").inner_text().strip()
    assert key.startswith("ftp_")
    shot(page, "08-api-key-created-shown-once")
    with panel_sqlite.api.db.read() as session:
        [row_key] = api_keys.list_api_keys(session, "gamma")
    assert key.startswith(f"ftp_{row_key.prefix}_")

    # Never again: not on any page, not after a reload.
    for path in (
        "/apps",
        "/apps/gamma/accounts",
        "/apps/gamma/accounts/acme",
        "/apps/gamma/api-keys",
        "/password",
    ):
        page.goto(path)
        html = page.content()
        assert password not in html, path
        assert key not in html, path
    page.goto("/apps/gamma/api-keys")
    page.reload()
    page.get_by_role("button", name=f"Revoke API key {row_key.prefix}").click()
    expect(page.get_by_role("status").first).to_contain_text(f"API key {row_key.prefix} revoked")
    expect(page.get_by_role("row", name=re.compile(row_key.prefix))).to_contain_text("revoked")
    shot(page, "09-api-key-revoked")

    page.get_by_role("link", name="Password").click()
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()
    shot(page, "10-password")
    page.get_by_role("button", name=re.compile("Log out")).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status").first).to_contain_text("You are logged out.")
    page.goto("/apps/gamma/accounts")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_a_member_logs_in_with_the_keyboard_and_cannot_open_another_app(
    page: Page, panel_sqlite: Panel
) -> None:
    page.goto("/login")
    for _ in range(6):  # skip link, brand, then the form
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "f-username":
            break
    else:
        pytest.fail("the username field cannot be reached with Tab")
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-password"
    page.keyboard.type(USERS["alice"][0])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/apps/alpha/accounts$"))
    expect(page.get_by_role("navigation", name="App alpha")).to_be_visible()
    shot(page, "11-member-home")

    page.goto("/apps")
    expect(page.get_by_role("link", name="alpha", exact=True)).to_be_visible()
    assert page.get_by_text("beta").count() == 0
    assert page.get_by_role("button", name="Create app").count() == 0
    shot(page, "12-member-apps")
    for path in ("/apps/beta/accounts", "/apps/beta/api-keys", "/apps/beta"):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    shot(page, "13-member-other-app-404")


def test_pages_fit_a_phone(chromium: Browser, panel_sqlite: Panel) -> None:
    context = chromium.new_context(
        base_url=panel_sqlite.url, viewport={"width": 390, "height": 844}, device_scale_factor=2,
        is_mobile=True, has_touch=True,
    )  # fmt: skip
    try:
        phone = context.new_page()
        log_in(phone, "root")
        with panel_sqlite.api.db.transaction() as session:
            accounts.add_account(
                session,
                app_key="alpha",
                username="acme",
                cidrs=["203.0.113.0/24"],
                ssh_keys=[SSH_KEY],
            )
        for name, path in (
            ("14-phone-apps", "/apps"),
            ("15-phone-accounts", "/apps/alpha/accounts"),
            ("16-phone-account", "/apps/alpha/accounts/acme"),
            ("17-phone-api-keys", "/apps/alpha/api-keys"),
        ):
            phone.goto(path)
            overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
            shot(phone, name)
    finally:
        context.close()

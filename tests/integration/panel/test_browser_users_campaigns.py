"""The Users, Campaigns and Attributes pages in Debian's Chromium (Playwright), as a member.

Same set-up as ``test_browser.py``: the ``chromium`` package launched by its path (skipped,
saying why, when it is missing); screenshots go to ``$FTPUSH_TEST_ARTIFACTS/panel``.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from ftpush.storage import attributes, ledger
from tests.integration.panel.browser import log_in, shot
from tests.integration.panel.conftest import Panel
from tests.integration.panel.sends import seed

pytestmark = pytest.mark.slow


def test_a_member_looks_up_a_user_reads_a_campaign_cancels_one_and_declares_an_attribute(
    chromium: Browser, panel_sqlite: Panel
) -> None:
    seeded = seed(panel_sqlite.api)
    context = chromium.new_context(
        base_url=panel_sqlite.url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, "alice")
        nav = page.get_by_role("navigation", name="App alpha")

        # Users: reach the field with the keyboard, look up, read the profile.
        nav.get_by_role("link", name="Users").click()
        expect(page).to_have_url(re.compile(r"/apps/alpha/users$"))
        page.locator("body").focus()
        for _ in range(25):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "f-external_id":
                break
        else:
            pytest.fail("the External ID field cannot be reached with Tab")
        page.keyboard.type("u1")
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/apps/alpha/users\?external_id=u1$"))
        expect(page.get_by_role("heading", name="User u1")).to_be_visible()
        devices = page.get_by_role("table", name="Devices of u1")
        expect(devices.get_by_role("row")).to_have_count(3)  # header and two devices
        expect(devices).to_contain_text("a1a1a1a1…a1a1")
        inbox = page.get_by_role("table", name="Inbox of u1, newest first")
        expect(inbox).to_contain_text("deleted")
        expect(page.get_by_role("table", name="Recent events of u1")).to_contain_text("purchase")
        shot(page, "users-01-profile")
        page.get_by_label("External ID").fill("nobody")
        page.get_by_role("button", name="Look up").click()
        expect(page.get_by_role("status")).to_contain_text("No user with external ID nobody")
        shot(page, "users-02-not-found")

        # Campaigns: the list, then one campaign's chart.
        nav.get_by_role("link", name="Campaigns").click()
        table = page.get_by_role("table", name="Campaigns of alpha")
        expect(table.get_by_role("row")).to_have_count(4)
        shot(page, "campaigns-01-list")
        table.get_by_role("link", name="welcome").click()
        expect(page).to_have_url(re.compile(rf"/campaigns/{seeded.welcome}$"))
        chart = page.get_by_role("img", name="Sent, failed and clicked per minute")
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box is not None
        assert box["width"] > 600
        values = page.eval_on_selector_all(
            "svg#activity rect.bar",
            "bars => bars.map(b => [b.dataset.series, Number(b.dataset.value)])",
        )
        totals = {name: sum(v for s, v in values if s == name) for name in ("sent", "failed")}
        assert totals == {"sent": 2, "failed": 1}
        assert sum(v for s, v in values if s == "clicked") == 2
        page.get_by_text("The chart's figures as a table").click()
        expect(
            page.get_by_role("table", name="Messages sent, failed and clicked per minute")
        ).to_be_visible()
        shot(page, "campaigns-02-detail-chart")

        # Cancel a pending campaign.
        page.goto(f"/apps/alpha/campaigns/{seeded.cart}")
        expect(page.get_by_text("Nothing has been sent yet")).to_be_visible()
        page.get_by_role("button", name="Cancel campaign").click()
        expect(page.get_by_role("status").first).to_contain_text(
            f"Campaign {seeded.cart} cancelled: 2 messages will not be sent."
        )
        expect(page.get_by_role("button", name="Cancel campaign")).to_have_count(0)
        shot(page, "campaigns-03-cancelled")
        with panel_sqlite.api.db.read() as s:
            assert str(ledger.get_campaign(s, seeded.cart).status) == "cancelled"

        # Attributes: an error next to its field, then a declaration.
        nav.get_by_role("link", name="Attributes").click()
        page.get_by_label("Name").fill("9lives")
        page.get_by_label("Type").select_option("integer")
        page.get_by_role("button", name="Declare attribute").click()
        name = page.get_by_label("Name")
        expect(name).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#f-name-error")).to_contain_text("invalid attribute name")
        expect(page.get_by_label("Type")).to_have_value("integer")  # kept
        shot(page, "attributes-01-error")
        name.fill("loyalty_level")
        page.get_by_role("button", name="Declare attribute").click()
        expect(page.get_by_role("status").first).to_contain_text(
            "Attribute loyalty_level declared as integer."
        )
        expect(page.get_by_role("table", name="Declared attributes of alpha")).to_contain_text(
            "loyalty_level"
        )
        shot(page, "attributes-02-declared")
        with panel_sqlite.api.db.read() as s:
            declared = {a.name: str(a.type) for a in attributes.list_attributes(s, "alpha")}
        assert declared == {"age": "integer", "loyalty_level": "integer", "tier": "string"}

        # Another app's pages are not there for a member.
        for path in ("/apps/beta/users", "/apps/beta/campaigns", "/apps/beta/attributes"):
            response = page.goto(path)
            assert response is not None
            assert response.status == 404, path
    finally:
        context.close()

    # On a phone, no page is wider than the screen.
    phone = chromium.new_context(
        base_url=panel_sqlite.url, viewport={"width": 390, "height": 844}, device_scale_factor=2,
        is_mobile=True, has_touch=True,
    )  # fmt: skip
    try:
        tab = phone.new_page()
        log_in(tab, "alice")
        for name, path in (
            ("users-03-phone", "/apps/alpha/users?external_id=u1"),
            ("campaigns-04-phone-list", "/apps/alpha/campaigns"),
            ("campaigns-05-phone-chart", f"/apps/alpha/campaigns/{seeded.welcome}"),
            ("attributes-03-phone", "/apps/alpha/attributes"),
        ):
            tab.goto(path)
            overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
            shot(tab, name)
    finally:
        phone.close()

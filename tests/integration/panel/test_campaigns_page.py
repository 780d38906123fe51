"""The Campaigns pages over HTTP: the list and one campaign's figures, the chart of sent /
failed / clicked over time (inline SVG), Cancel (CSRF, tenancy), escaping."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections import Counter

import httpx
from sqlalchemy import select

from ftpush.pipeline.transactional import SendRequest, send_to_users
from ftpush.storage import ledger
from ftpush.storage.tables import Message
from tests.integration.panel.conftest import Panel
from tests.integration.panel.sends import Seeded, seed

ZONE = zoneinfo.ZoneInfo("Europe/Paris")  # the apps of the API tests' server

_ROW = re.compile(
    r"<tr>\s*<th scope=\"row\"><a href=\"[^\"]*/campaigns/(m[0-9a-f]+)\">(.*?)</tr>", re.S
)
_CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)
_BUCKET = re.compile(r'<g class="bucket" data-label="([^"]*)">(.*?)</g>', re.S)
_BAR = re.compile(r'data-series="(\w+)" data-value="(\d+)"')


def _rows(html: str) -> dict[str, list[str]]:
    """msg_id → the text of its row's cells."""
    return {
        msg_id: [re.sub(r"<[^>]+>", "", cell).strip() for cell in _CELL.findall(body)]
        for msg_id, body in _ROW.findall(html)
    }


def _chart(html: str) -> dict[str, dict[str, int]]:
    """Series → bucket label → value, read from the page's SVG."""
    found: dict[str, dict[str, int]] = {}
    for label, bars in _BUCKET.findall(html):
        for series, value in _BAR.findall(bars):
            found.setdefault(series, {})[label] = int(value)
    return found


def _label(seeded: Seeded, when: dt.datetime) -> str:
    """The label of the minute bucket of ``when``, as the page writes it: HH:MM when the
    chart is within one local day, else with the date."""
    days = {t.astimezone(ZONE).date() for t in (seeded.queued_at[0], seeded.clicked_at)}
    return when.astimezone(ZONE).strftime("%H:%M" if len(days) == 1 else "%m-%d %H:%M")


def _seeded(panel: Panel) -> tuple[Seeded, httpx.Client]:
    return seed(panel.api), panel.login("root")


def test_the_list_and_the_detail_show_the_ledger_figures_and_the_chart(panel: Panel) -> None:
    seeded, admin = _seeded(panel)
    listing = admin.get("/apps/alpha/campaigns")
    assert listing.status_code == 200
    rows = _rows(listing.text)
    assert list(rows) == [seeded.notice, seeded.cart, seeded.welcome]  # newest first
    # type, status, targeted, sent, failed, clicked (then started, finished)
    assert rows[seeded.welcome][:6] == ["transactional", "done", "3", "2", "1", "2"]
    assert rows[seeded.cart][:6] == ["automated", "pending", "2", "0", "0", "0"]
    assert rows[seeded.notice][:6] == ["transactional", "done", "2", "2", "0", "0"]
    started = seeded.sent_at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
    assert rows[seeded.welcome][6].startswith(started)
    assert rows[seeded.cart][6:] == ["—", "—"]
    assert seeded.beta not in listing.text  # beta's campaign is beta's

    detail = admin.get(f"/apps/alpha/campaigns/{seeded.welcome}")
    assert detail.status_code == 200
    html = detail.text
    for label, value in [("Lines (recipients)", 3), ("Unknown user", 1), ("Sent", 2),
                         ("Clicked", 2), ("Inbox entries", 2)]:  # fmt: skip
        assert re.search(rf'<th scope="row">{re.escape(label)}</th><td class="num">{value}\b', html)
    assert "Cancel campaign" not in html  # done: nothing to cancel

    # The chart: an accessible SVG image whose bars are the ledger's times.
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="activity"' in html
    assert 'role="img" aria-labelledby="activity-title activity-desc"' in html
    assert '<title id="activity-title">Sent, failed and clicked per minute</title>' in html
    assert "In all: 2 sent, 1 failed, 2 clicked." in html
    with panel.api.db.read() as s:
        campaign = ledger.get_campaign(s, seeded.welcome)
        messages = s.execute(
            select(Message.status, Message.created_at, Message.sent_at, Message.clicked_at).where(
                Message.campaign_id == campaign.id
            )
        ).all()
    expected: dict[str, Counter[str]] = {"sent": Counter(), "failed": Counter(),
                                         "clicked": Counter()}  # fmt: skip
    for status, created, sent, clicked in messages:
        if str(status) == "sent":
            expected["sent"][_label(seeded, sent)] += 1
        else:
            assert seeded.queued_at[0] <= created <= seeded.queued_at[1]
            expected["failed"][_label(seeded, created)] += 1
        if clicked is not None:
            assert clicked == seeded.clicked_at
            expected["clicked"][_label(seeded, clicked)] += 1
    chart = _chart(html)
    assert set(chart) == {"sent", "failed", "clicked"}
    for series, counts in expected.items():
        assert {k: v for k, v in chart[series].items() if v} == dict(counts), series
    # Minute buckets from the first failure to the clicks, with nothing left out.
    assert len(chart["sent"]) in (10, 11, 12)
    # The same figures as a table, for those who cannot see the chart.
    sent_label = _label(seeded, seeded.sent_at)
    assert re.search(rf'<tr><th scope="row">{sent_label}</th><td class="num">2</td>', html), (
        "the chart's table"
    )


def test_a_pending_campaign_has_no_chart_and_is_cancelled_with_the_csrf_token(
    panel: Panel,
) -> None:
    seeded, admin = _seeded(panel)
    path = f"/apps/alpha/campaigns/{seeded.cart}"
    page = admin.get(path)
    assert "Nothing has been sent yet" in page.text
    assert "<svg" not in page.text
    assert "Cancel campaign" in page.text
    token = re.findall(r'name="csrf_token" value="([^"]+)"', page.text)[-1]

    for data in ({}, {"csrf_token": "forged"}):
        refused = admin.post(f"{path}/cancel", data=data)
        assert refused.status_code == 403
        assert "not sent from a page of this panel" in refused.text
    with panel.api.db.read() as s:
        assert str(ledger.get_campaign(s, seeded.cart).status) == "pending"

    done = admin.post(f"{path}/cancel", data={"csrf_token": token})
    assert done.status_code == 303
    assert done.headers["location"] == path
    after = admin.get(path)
    assert f"Campaign {seeded.cart} cancelled: 2 messages will not be sent." in after.text
    assert '<span class="badge st-cancelled">cancelled</span>' in after.text
    assert "Cancel campaign" not in after.text
    with panel.api.db.read() as s:
        campaign = ledger.get_campaign(s, seeded.cart)
        assert str(campaign.status) == "cancelled"
        assert ledger.campaign_figures(s, campaign.id)["cancelled"] == 2


def test_members_see_their_own_app_s_campaigns_only_and_hostile_input_is_inert(
    panel: Panel,
) -> None:
    seeded = seed(panel.api)
    alice, bob = panel.login("alice"), panel.login("bob")
    assert alice.get("/apps/alpha/campaigns").status_code == 200
    assert alice.get(f"/apps/alpha/campaigns/{seeded.welcome}").status_code == 200
    assert bob.get("/apps/beta/campaigns").status_code == 200
    token = panel.token(bob, "/apps/beta/campaigns")
    for path in (
        "/apps/alpha/campaigns",
        f"/apps/alpha/campaigns/{seeded.welcome}",
        f"/apps/beta/campaigns/{seeded.welcome}",  # alpha's campaign through beta's pages
        f"/apps/alpha/campaigns/{seeded.beta}",
    ):
        assert bob.get(path).status_code == 404, path
    for path in (f"/apps/alpha/campaigns/{seeded.cart}", f"/apps/beta/campaigns/{seeded.cart}"):
        answer = bob.post(f"{path}/cancel", data={"csrf_token": token})
        assert answer.status_code == 404, path
    with panel.api.db.read() as s:
        assert str(ledger.get_campaign(s, seeded.cart).status) == "pending"
    assert alice.get(f"/apps/alpha/campaigns/{seeded.beta}").status_code == 404

    # Hostile names are escaped; hostile ids and cursors are refused.
    hostile = '<script>alert("x")</script>'
    sent = send_to_users(panel.api.db, "alpha", SendRequest(["u1"], hostile, name=hostile))
    for path in ("/apps/alpha/campaigns", f"/apps/alpha/campaigns/{sent.msg_id}"):
        html = alice.get(path).text
        assert hostile not in html, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html, path
    for bad in ("%3Cscript%3E", "m" + "0" * 41, "m..x", "m%00", "m0000000000000000"):
        assert alice.get(f"/apps/alpha/campaigns/{bad}").status_code == 404, bad
    assert alice.get("/apps/alpha/campaigns?before=not-a-cursor").status_code == 422

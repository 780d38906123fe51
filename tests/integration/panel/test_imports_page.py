"""The Imports page over HTTP: the live list, one file's errors and result files, Reprocess
and Cancel, and that a member sees only their app's files (pages, JSON and downloads).

Files arrive through the API upload (the same spool as SFTP) and are processed by running
the server's queue as the workers of ``ftpush serve`` would (``api.run_queue()``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from ftpush.crypto import session_secret
from ftpush.pipeline.archive import archive_path
from ftpush.pipeline.imports import ImportProcessor
from ftpush.storage import imports, ledger, users
from ftpush.storage.tables import PanelUser
from ftpush.web.panel import security
from tests.integration.panel.browser import log_in, shot
from tests.integration.panel.conftest import COOKIE, Panel, csrf_of, serving_panel

PUSH_FILE = (
    b"ExternalID;Text;Deeplink\n"
    b"u1;Hello u1;https://example.com/a\n"
    b"ghost;Hello ghost;\n"
    b"u2;Bad link;not a link\n"
)
LIST = "/apps/alpha/imports"


def session_of(panel: Panel, user: str) -> httpx.Client:
    """A client logged in as ``user`` by starting its session on the server directly.

    The login form (and its deliberately slow argon2 check) is test_http.py's subject;
    here it would cost a second per client. The session is the real thing all the same.
    """
    assert security.SESSION_COOKIE == COOKIE
    with panel.api.db.read() as session:
        user_id = session.scalar(select(PanelUser.id).where(PanelUser.username == user))
    assert user_id is not None
    secret = session_secret(panel.api.settings.keys_dir)
    sessions = security.SessionManager(panel.api.db, security.Signer(secret))
    cookies = security.CookieJob()
    sessions.start(user_id, security.Browser("a:test", "", None), cookies)
    client = panel.client()
    client.cookies.set(COOKIE, cookies.to_set[COOKIE])
    return client


def seed(panel: Panel, app: str = "alpha") -> None:
    """u1 has two devices."""
    with panel.api.db.transaction() as s:
        users.register_device(s, app_key=app, token="ab" * 32, external_id="u1")
        users.register_device(s, app_key=app, token="fcm-u1", external_id="u1", platform="android")


def upload(panel: Panel, name: str, content: bytes = PUSH_FILE, app: str = "alpha") -> int:
    answer = panel.api.client(app).post("/api/v1/imports", files={"file": (name, content)})
    assert answer.status_code == 202, answer.text
    import_id: int = answer.json()["id"]
    return import_id


def live(client: httpx.Client, ids: list[int], app: str = "alpha") -> dict[str, Any]:
    answer = client.get(f"/apps/{app}/imports/live", params={"ids": ",".join(map(str, ids))})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    return body


def row_of(page: str, import_id: int) -> str:
    found = re.search(rf'<tr data-import="{import_id}".*?</tr>', page, re.S)
    assert found, f"no row for import {import_id}"
    return found.group(0)


def test_the_list_follows_a_file_from_upload_to_sent(panel: Panel) -> None:
    seed(panel)
    alice = session_of(panel, "alice")
    empty = alice.get(LIST)
    assert empty.status_code == 200
    assert "No file received yet" in empty.text
    assert '<script src="/static/live.js" defer></script>' in empty.text
    assert 'data-newest="0"' in empty.text
    assert 'href="/apps/alpha/imports" aria-current="page"' in empty.text  # in the app nav

    first = upload(panel, "push.csv")
    row = row_of(alice.get(LIST).text, first)
    assert 'data-status="received"' in row
    assert ">queued<" in row
    assert ">api<" in row
    state = live(alice, [first])
    assert (state["poll"], state["newest"]) == (True, first)
    [item] = state["imports"]
    assert (item["status"], item["final"], item["changing"]) == ("received", False, True)
    assert item["cells"]["progress"] == "queued"

    panel.api.run_queue()  # processed, then sent
    [item] = live(alice, [first])["imports"]
    assert (item["status"], item["final"], item["running"]) == ("partial", True, False)
    assert item["cells"]["lines"] == "2 ok · 1 rejected"
    assert item["cells"]["pushes"] == "2 sent · 0 failed"
    assert item["cells"]["progress"] == "2 of 2 pushes"
    assert item["bar"] == {"value": 2, "max": 2}
    # Without JavaScript a reload shows the same cells.
    row = row_of(alice.get(LIST).text, first)
    for field in ("status", "progress", "lines", "pushes", "finished"):
        assert f'data-field="{field}">{item["cells"][field]}<' in row, field
    assert "<progress" in row

    # Newest first, paged by ?before=
    second = upload(panel, "second.csv", b"u1;again;\n")
    state = live(alice, [first])
    assert state["newest"] == second  # live.js says "new files have arrived"
    listed = alice.get(LIST).text
    assert listed.index(f'data-import="{second}"') < listed.index(f'data-import="{first}"')
    older = alice.get(LIST, params={"before": second}).text
    assert f'data-import="{first}"' in older
    assert f'data-import="{second}"' not in older
    assert "data-newest" not in older
    assert alice.get(LIST, params={"before": "x"}).status_code == 404


def test_the_detail_shows_rejected_lines_and_result_files(panel: Panel) -> None:
    seed(panel)
    import_id = upload(panel, "push.csv")
    panel.api.run_queue()
    alice = session_of(panel, "alice")
    detail = alice.get(f"{LIST}/{import_id}")
    assert detail.status_code == 200
    text = detail.text
    assert "<h1>push.csv" in text
    assert "Bad link" not in text  # the text of a line is not an error message
    assert re.search(r'<tr><th scope="row">4</th><td><code>u2</code></td>', text)
    assert "invalid_deeplink" in text or "deeplink" in text
    assert "unknown user" in text  # the counts
    base = f"{LIST}/{import_id}/results"
    assert f'href="{base}/push.csv.result.json"' in text
    assert f'href="{base}/push.csv.errors.csv"' in text
    assert f'action="/apps/alpha/imports/{import_id}/reprocess"' in text
    assert "/cancel" not in text  # its campaign has finished

    result = alice.get(f"{base}/push.csv.result.json")
    assert result.status_code == 200
    assert result.headers["content-type"] == "application/json"
    assert result.headers["content-disposition"] == 'attachment; filename="push.csv.result.json"'
    assert result.json()["import_id"] == import_id
    errors = alice.get(f"{base}/push.csv.errors.csv")
    assert errors.headers["content-type"] == "text/csv; charset=utf-8"
    assert errors.text.splitlines()[0] == "line;external_id;code;message"
    assert errors.text.splitlines()[1].startswith("4;u2;")
    for name in ("other.csv.result.json", "push.csv", "..%2Fpush.csv.result.json"):
        assert alice.get(f"{base}/{name}").status_code == 404, name


def test_a_member_sees_only_their_apps_imports(panel: Panel) -> None:
    ours = upload(panel, "push.csv")
    theirs = upload(panel, "theirs.csv", app="beta")
    panel.api.run_queue()
    alice = session_of(panel, "alice")
    bob = session_of(panel, "bob")
    for path in (
        "/apps/beta/imports",
        f"/apps/beta/imports/{theirs}",
        "/apps/beta/imports/live?ids=" + str(theirs),
        f"/apps/beta/imports/{theirs}/results/theirs.csv.result.json",
        f"/apps/alpha/imports/{theirs}",  # beta's import through alice's own app
        f"/apps/alpha/imports/{theirs}/results/theirs.csv.result.json",
        "/apps/alpha/imports/99999999999",
        "/apps/alpha/imports/1e3",
    ):
        answer = alice.get(path)
        assert answer.status_code == 404, path
        assert "theirs.csv" not in answer.text
    assert live(alice, [ours, theirs])["imports"][0]["id"] == ours
    assert len(live(alice, [ours, theirs])["imports"]) == 1
    assert bob.get(f"/apps/alpha/imports/{ours}").status_code == 404
    assert bob.get("/apps/alpha/imports/live").status_code == 404
    token = panel.token(alice, LIST)
    refused = alice.post(f"/apps/alpha/imports/{theirs}/reprocess", data={"csrf_token": token})
    assert refused.status_code == 404
    root = session_of(panel, "root")  # an admin sees both
    assert root.get(f"/apps/beta/imports/{theirs}").status_code == 200
    # Without a session: to the login form, also for the JSON.
    stranger = panel.client()
    answer = stranger.get("/apps/alpha/imports/live")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


def test_reprocess_from_the_panel_needs_the_csrf_token_and_sends_again(panel: Panel) -> None:
    seed(panel)
    first = upload(panel, "push.csv")
    panel.api.run_queue()
    duplicate = upload(panel, "push.csv")
    alice = panel.login("alice")  # this one through the login form
    page = alice.get(f"{LIST}/{duplicate}")
    assert "duplicate" in page.text
    action = f"{LIST}/{duplicate}/reprocess"

    assert alice.post(action).status_code == 403
    assert alice.post(action, data={"csrf_token": "forged"}).status_code == 403
    answer = alice.post(action, data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303
    new_path = answer.headers["location"]
    new_id = int(new_path.rsplit("/", 1)[1])
    shown = alice.get(new_path).text
    assert f"Import {new_id} is queued: push.csv is processed again." in shown
    assert "forced reprocess" in shown
    assert "panel:alice" in shown
    panel.api.run_queue()
    with panel.api.db.read() as session:
        row = imports.get_import(session, new_id)
        assert (row.status, row.forced, row.accepted) == ("partial", True, 2)
        assert row.received_by == "panel:alice"
    assert len(panel.api.log.messages if panel.api.log else []) == 4  # sent again

    # The archive's retention ran out for the first file: said on the page, 409.
    archive_path(panel.api.settings, "alpha", first).unlink()
    refused = alice.post(f"{LIST}/{first}/reprocess", data={"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 409
    assert "is no longer kept" in html.unescape(refused.text)
    assert 'role="alert"' in refused.text


def test_cancel_a_running_campaign(panel: Panel) -> None:
    seed(panel)
    import_id = upload(panel, "push.csv")
    # Processed but not sent yet: the campaign waits for a worker.
    ImportProcessor(panel.api.settings, panel.api.db).process(import_id)
    alice = session_of(panel, "alice")
    page = alice.get(f"{LIST}/{import_id}")
    assert "0 sent · 0 failed · 2 waiting" in page.text
    assert f'action="{LIST}/{import_id}/cancel"' in page.text
    [item] = live(alice, [import_id])["imports"]
    assert (item["running"], item["changing"]) == (True, True)

    assert alice.post(f"{LIST}/{import_id}/cancel").status_code == 403
    answer = alice.post(f"{LIST}/{import_id}/cancel", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303
    shown = alice.get(answer.headers["location"]).text
    assert "cancelled: 2 pushes not sent." in shown
    assert "0 sent · 0 failed · 2 cancelled" in shown
    with panel.api.db.read() as session:
        campaign = ledger.file_campaign(session, import_id)
        assert campaign is not None
        assert campaign.status == "cancelled"
    panel.api.run_queue()
    assert not (panel.api.log.messages if panel.api.log else [])  # nothing was sent
    again = alice.post(f"{LIST}/{import_id}/cancel", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 409
    assert "nothing left to cancel" in again.text


def test_hostile_file_names_are_escaped_and_still_downloadable(panel: Panel) -> None:
    name = "<img src=x onerror=alert(1)>&'?#%.csv"  # (httpx sends a '"' as %22)
    import_id = upload(panel, name, b";no id;\n")
    panel.api.run_queue()
    alice = session_of(panel, "alice")
    for path in (LIST, f"{LIST}/{import_id}"):
        text = alice.get(path).text
        assert "<img src=x" not in text, path
        assert "&lt;img src=x onerror=alert(1)&gt;&amp;&#39;?#%.csv" in text, path
    detail = alice.get(f"{LIST}/{import_id}").text
    links = re.findall(r'href="([^"]+/results/[^"]+)"', detail)
    assert len(links) == 2
    for link in links:
        answer = alice.get(html.unescape(link))
        assert answer.status_code == 200, link
        assert answer.headers["content-disposition"].startswith("attachment; filename*=utf-8''")
    assert '"file": "<img src=x' in alice.get(html.unescape(links[0])).text


# --- in a browser ------------------------------------------------------------------------


def in_a_thread(work: Callable[[], object]) -> None:
    """Run the workers' queue beside Playwright's sync API, which holds this thread's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(work).result(timeout=60)


@pytest.mark.slow
def test_the_imports_page_updates_itself_in_a_browser(chromium: Browser, tmp_path: Path) -> None:
    with serving_panel("sqlite", None, tmp_path) as panel:
        seed(panel)
        import_id = upload(panel, "welcome.csv", b"ExternalID;Text;Deeplink\nu1;Welcome!;\n")
        context = chromium.new_context(base_url=panel.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            log_in(page, "alice")
            page.get_by_role("navigation", name="App alpha").get_by_role(
                "link", name="Imports"
            ).click()
            expect(page).to_have_url(re.compile(r"/apps/alpha/imports$"))
            row = page.get_by_role("row", name=re.compile("welcome.csv"))
            status = row.locator('[data-field="status"]')
            expect(status).to_have_text("received")
            expect(row).to_contain_text("queued")
            shot(page, "30-imports-queued")
            page.evaluate("window.stillTheSamePage = true")

            in_a_thread(panel.api.run_queue)  # a worker processes the file and sends
            expect(status).to_have_text("done")  # live.js, within a poll or two
            expect(row.locator('[data-field="pushes"]')).to_have_text("2 sent · 0 failed")
            expect(row.locator('[data-field="lines"]')).to_have_text("1 ok · 0 rejected")
            assert page.evaluate("window.stillTheSamePage") is True  # never reloaded
            expect(page.locator("[data-live-announce]")).to_have_text("welcome.csv: done")
            shot(page, "31-imports-done-without-reload")

            row.get_by_role("link", name="welcome.csv").click()
            expect(page).to_have_url(re.compile(rf"/apps/alpha/imports/{import_id}$"))
            expect(page.get_by_role("heading", name=re.compile("welcome.csv"))).to_be_visible()
            expect(page.get_by_role("link", name="welcome.csv.result.json")).to_be_visible()
            shot(page, "32-import-detail")

            page.get_by_role("button", name="Reprocess").click()
            expect(page.get_by_role("status").first).to_contain_text("is processed again")
            expect(page.locator('dd [data-field="status"]')).to_have_text("received")
            in_a_thread(panel.api.run_queue)
            expect(page.locator('dd [data-field="status"]')).to_have_text("done")
            expect(page.locator("[data-live-done]")).to_be_visible()
            shot(page, "33-reprocessed-done-without-reload")

            page.set_viewport_size({"width": 390, "height": 844})
            page.goto("/apps/alpha/imports")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"the Imports page is {overflow}px wider than a phone"
            shot(page, "34-imports-phone")
        finally:
            context.close()
            assert panel.api.runtime is not None
            in_a_thread(panel.api.runtime.close)  # its push event loops, off Playwright's thread

"""The Export page over HTTP: the destination form, Test connection, Send, history, Retry,
alert contacts — against the app's dropbox and a real OpenSSH sshd."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, expect

from ftpush.crypto import SecretBox
from ftpush.models import DeliveryStatus, ExportTrigger
from ftpush.remote.keys import generate_key_pair
from ftpush.storage import apps, exports, users
from ftpush.storage.remotes import credentials
from tests.integration.panel.browser import log_in, save_sftp_destination_with_a_new_key, shot
from tests.integration.panel.conftest import Panel, serving_panel
from tests.peers.sshd import SshdPeer

PAGE = "/apps/alpha/export"
ALL_REPORTS = [
    "campaigns", "campaign_recipients", "automated_campaigns", "transactional_campaigns",
    "events", "installations", "app_tracking",
]  # fmt: skip


def post(
    panel: Panel, client: httpx.Client, path: str, data: dict[str, Any], **kwargs: Any
) -> httpx.Response:
    """POST a form of the export page with this client's CSRF token."""
    return client.post(path, data={"csrf_token": panel.token(client, PAGE), **data}, **kwargs)


def destination(**fields: Any) -> dict[str, Any]:
    """A destination form as the page submits it (a dropbox, all reports, csv ;)."""
    form: dict[str, Any] = {
        "kind": "dropbox", "reports": ALL_REPORTS, "format": "csv", "delimiter": ";",
        "schedule": "on", "key_action": "none", "path": "/",
    }  # fmt: skip
    form.update(fields)
    return form


def sftp(peer: SshdPeer, folder: Path, **fields: Any) -> dict[str, Any]:
    server = {
        "kind": "sftp", "host": peer.host, "port": str(peer.port), "username": peer.user.name,
        "path": str(folder), "host_key": peer.host_key_fingerprint,
    }  # fmt: skip
    return destination(**{**server, **fields})


def flashes(client: httpx.Client, path: str = PAGE) -> str:
    """The notes of the page a redirect leads to."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return " ".join(re.findall(r'<p class="flash[^"]*"[^>]*>([^<]*)</p>', page.text))


def field_error(html: str, name: str) -> str:
    """The message shown next to input ``name`` (which is marked invalid)."""
    found = re.search(rf'<p class="field-error" id="err-{name}">([^<]*)</p>', html)
    assert found, f"no error next to {name}"
    assert f'aria-errormessage="err-{name}"' in html
    return found.group(1)


def stored(panel: Panel, app: str = "alpha") -> tuple[Any, Any]:
    box = SecretBox.from_keys_dir(panel.api.settings.keys_dir)
    with panel.api.db.read() as s:
        found = exports.find_destination(s, app)
        assert found is not None
        dest, server = found
        return dest, (credentials(box, server) if server else None)


def test_the_destination_form_keeps_secrets_unshown_and_refuses_bad_input(
    panel: Panel,
) -> None:
    root = panel.login("root")
    page = root.get(PAGE)
    assert page.status_code == 200
    assert "No destination yet" in page.text
    secret = "pw-Never-Shown-42"
    saved = post(
        panel, root, f"{PAGE}/destination",
        destination(kind="sftp", host="files.example.com", port="2222", username="acme",
                    path="/in", password=secret, reports=["events", "campaigns"]),
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    html = root.get(PAGE).text
    assert "Saved: the reports of alpha go to sftp://acme@files.example.com:2222/in." in html
    assert secret not in html
    assert "by password" in html
    assert 'name="password" type="password" autocomplete' in html  # no value attribute
    # Empty password on the same server: kept.
    again = post(
        panel, root, f"{PAGE}/destination",
        destination(kind="sftp", host="files.example.com", port="2222", username="acme",
                    path="/out", reports=["events"]),
    )  # fmt: skip
    assert again.status_code == 303, again.text
    dest, creds = stored(panel)
    assert (dest.path, dest.reports, creds.password) == ("/out", ["events"], secret)
    # Another host: the stored password is not sent there; it must be typed again.
    moved = post(
        panel, root, f"{PAGE}/destination",
        destination(kind="sftp", host="elsewhere.example.com", username="acme", path="/out"),
    )  # fmt: skip
    assert moved.status_code == 422
    assert "SFTP needs a password or a private key" in field_error(moved.text, "password")
    assert "The destination was not saved" in moved.text
    assert 'value="elsewhere.example.com"' in moved.text  # the form keeps what was typed
    assert stored(panel)[1].password == secret  # nothing saved
    # FTP needs a password too once forgotten.
    forgot = post(
        panel, root, f"{PAGE}/destination",
        destination(kind="ftp", host="files.example.com", port="2222", username="acme",
                    forget_password="on"),
    )  # fmt: skip
    assert "FTP and FTPS need a password" in field_error(forgot.text, "password")
    # Errors next to their fields; hostile input comes back escaped.
    for fields, name, says in (
        ({"port": "99999"}, "port", "port"),
        ({"host": "<script>alert(1)</script>"}, "host", "invalid host name"),
        ({"reports": []}, "reports", "tick at least one report"),
        ({"delimiter": "<b>"}, "delimiter", "is not allowed"),
        ({"host_key": "not-a-fingerprint"}, "host_key", "fingerprint"),
        ({"username": ""}, "username", "needs a username"),
    ):
        form = destination(kind="sftp", host="h.example", username="acme", password="x" * 12)
        form.update(fields)
        bad = post(panel, root, f"{PAGE}/destination", form)
        assert bad.status_code == 422, (fields, bad.text)
        assert says in field_error(bad.text, name), fields
        assert "<script>alert(1)</script>" not in bad.text
        assert "<b>" not in bad.text
    hostile = post(
        panel,
        root,
        f"{PAGE}/destination",
        destination(kind="sftp", host="<script>alert(1)</script>", username="a", password="p"),
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile.text
    assert "<script>alert(1)</script>" not in hostile.text


def test_key_pairs_uploaded_or_generated_show_only_the_public_key(panel_sqlite: Panel) -> None:
    panel = panel_sqlite
    root = panel.login("root")
    private, public = generate_key_pair("uploaded@test")
    form = destination(kind="sftp", host="files.example.com", username="acme", path="/in",
                       key_action="upload")  # fmt: skip
    uploaded = root.post(
        f"{PAGE}/destination",
        data={"csrf_token": panel.token(root, PAGE), **form},
        files={"private_key_file": ("id_ed25519", private.encode(), "application/octet-stream")},
    )
    assert uploaded.status_code == 303, uploaded.text
    page = root.get(PAGE).text
    assert public in page
    assert "PRIVATE KEY" not in page
    assert stored(panel)[1].private_key == private
    # Saved again without a file: the key is kept (and still not shown).
    kept = post(panel, root, f"{PAGE}/destination", {**form, "key_action": "keep"})
    assert kept.status_code == 303
    assert stored(panel)[1].private_key == private
    # Generate: a new pair, its public line shown now and later.
    made = post(panel, root, f"{PAGE}/destination", {**form, "key_action": "generate"})
    assert made.status_code == 303
    notes = flashes(root)
    assert "A new key pair was made" in notes
    page = root.get(PAGE).text
    new_public = re.search(r'<output[^>]*id="public-key"[^>]*>([^<]+)</output>', page)
    assert new_public
    assert new_public.group(1).endswith(" ftpush export alpha")
    assert new_public.group(1) != public
    assert "PRIVATE KEY" not in page
    assert stored(panel)[1].private_key not in (None, private)
    # A key file that is not a key, and a key for FTPS: refused next to the key input.
    junk = root.post(
        f"{PAGE}/destination",
        data={"csrf_token": panel.token(root, PAGE), **form},
        files={"private_key_file": ("k", b"-----BEGIN NOTHING-----\nxx\n", "text/plain")},
    )
    assert "not a readable private key" in field_error(junk.text, "key")
    upload_missing = post(panel, root, f"{PAGE}/destination", {**form, "key_action": "upload"})
    assert "choose the private key file" in field_error(upload_missing.text, "key")
    # Back to the dropbox: the server and its secrets are gone.
    assert post(panel, root, f"{PAGE}/destination", destination()).status_code == 303
    assert stored(panel)[1] is None
    assert "dropbox:/reports" in root.get(PAGE).text


def test_test_connection_against_sshd_ok_and_the_failing_stage(
    panel_sqlite: Panel, sshd_peer: SshdPeer, peer_dir: Path
) -> None:
    panel = panel_sqlite
    root = panel.login("root")
    private = sshd_peer.client_private_key.encode()
    saved = root.post(
        f"{PAGE}/destination",
        data={"csrf_token": panel.token(root, PAGE), **sftp(sshd_peer, peer_dir)},
        files={"private_key_file": ("client_key", private, "application/octet-stream")},
    )
    assert saved.status_code == 303, saved.text
    ok = post(panel, root, f"{PAGE}/test", {})
    assert ok.status_code == 200
    assert "Connection OK." in ok.text
    assert "wrote, renamed and deleted" in ok.text
    assert list(peer_dir.iterdir()) == []  # the probe is gone
    wrong_pin = "SHA256:" + "A" * 43
    changed = post(
        panel, root, f"{PAGE}/destination",
        sftp(sshd_peer, peer_dir, host_key=wrong_pin, key_action="keep"),
    )  # fmt: skip
    assert changed.status_code == 303, changed.text
    failed = post(panel, root, f"{PAGE}/test", {})
    assert "Connection failed at the host key stage" in failed.text
    assert "<code>host_key</code>" in failed.text
    assert sshd_peer.client_private_key not in failed.text
    # The member of the app may test it too; no destination yet is said plainly.
    alice = panel.login("alice")
    assert "Connection failed" in post(panel, alice, f"{PAGE}/test", {}).text
    bob = panel.login("bob")
    beta = "/apps/beta/export"
    none_yet = bob.post(f"{beta}/test", data={"csrf_token": panel.token(bob, beta)})
    assert none_yet.status_code == 409
    assert "Set a destination first" in none_yet.text


def send_form(day: dt.date, *reports: str) -> dict[str, Any]:
    return {"send_from": str(day), "send_to": str(day), "send_reports": list(reports)}


def yesterday() -> dt.date:
    """Yesterday in alpha's timezone."""
    return dt.datetime.now(ZoneInfo("Europe/Paris")).date() - dt.timedelta(days=1)


def test_send_to_the_dropbox_and_to_sshd_shows_the_deliveries(
    panel_sqlite: Panel, sshd_peer: SshdPeer, peer_dir: Path
) -> None:
    panel = panel_sqlite
    root = panel.login("root")
    with panel.api.db.transaction() as s:
        users.register_device(s, app_key="alpha", token="fcm-1", external_id="u1")
    assert post(panel, root, f"{PAGE}/destination", destination()).status_code == 303
    page = root.get(PAGE).text
    day = re.search(r'id="f-send_from" name="send_from" type="date" value="([0-9-]+)"', page)
    assert day, "the Send form has a default day"
    default = dt.date.fromisoformat(day.group(1))  # yesterday, app-local
    assert default == yesterday()
    today = default + dt.timedelta(days=1)  # the device was installed today
    sent = post(panel, root, f"{PAGE}/send", send_form(today, "events", "installations"))
    assert sent.status_code == 303, sent.text
    notes = flashes(root)
    assert "Sent 2 files (1 row)" in notes, notes
    assert "all delivered" in notes
    reports = panel.api.settings.dropbox_dir / "alpha" / "reports"
    names = sorted(p.name for p in reports.iterdir())
    stamp = today.strftime("%Y%m%d")
    assert names == [f"alpha_EVENTS_{stamp}.csv", f"alpha_INSTALLATIONS_{stamp}.csv"]
    history = root.get(PAGE).text
    for name in names:
        assert f"{name}</th>" in history
    assert history.count(">delivered</span>") == 2
    # Now to sshd by password (root creates the test user with one) or by key.
    if sshd_peer.user.password:
        form = sftp(sshd_peer, peer_dir, password=sshd_peer.user.password)
        files = None
    else:
        form = sftp(sshd_peer, peer_dir)
        files = {"private_key_file": ("k", sshd_peer.client_private_key.encode(), "x/y")}
    saved = root.post(
        f"{PAGE}/destination", data={"csrf_token": panel.token(root, PAGE), **form}, files=files
    )
    assert saved.status_code == 303, saved.text
    sent = post(panel, root, f"{PAGE}/send", send_form(today, "events"))
    assert sent.status_code == 303
    notes = flashes(root)
    assert "Sent 1 file (0 rows)" in notes, notes
    assert "all delivered" in notes
    assert [p.name for p in peer_dir.iterdir()] == [f"alpha_EVENTS_{stamp}.csv"]
    history = root.get(PAGE).text
    assert history.count(">delivered</span>") == 3
    first_row = re.search(r'<tr id="delivery-(\d+)">', history)
    assert first_row
    with panel.api.db.read() as s:
        [newest] = exports.describe_deliveries(s, "alpha", limit=1)
    assert int(first_row.group(1)) == newest.id  # newest first
    assert newest.destination.startswith("sftp://")
    # Bad windows are refused next to their field.
    future = post(panel, root, f"{PAGE}/send", send_form(default + dt.timedelta(days=5), "events"))
    assert future.status_code == 422
    assert "cannot end after today" in field_error(future.text, "send_to")
    nothing = post(panel, root, f"{PAGE}/send", send_form(default))
    assert "tick at least one report" in field_error(nothing.text, "send_reports")
    backwards = post(
        panel, root, f"{PAGE}/send",
        {"send_from": str(default), "send_to": str(default - dt.timedelta(days=2)),
         "send_reports": ["events"]},
    )  # fmt: skip
    assert "starts after it ends" in field_error(backwards.text, "send_from")
    garbage = post(panel, root, f"{PAGE}/send", {**send_form(default, "events"), "send_to": "x"})
    assert "is not a date" in field_error(garbage.text, "send_to")


def test_retry_of_a_failed_delivery(panel_sqlite: Panel) -> None:
    panel = panel_sqlite
    root = panel.login("root")
    assert post(panel, root, f"{PAGE}/destination", destination()).status_code == 303
    day = yesterday()
    reports = panel.api.settings.dropbox_dir / "alpha" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    with panel.api.db.read() as s:
        zone = apps.get_app(s, "alpha").timezone
    assert zone == "Europe/Paris"
    blocker = reports / f"alpha_EVENTS_{day:%Y%m%d}.csv"
    blocker.mkdir()  # the final name is taken: the delivery fails and waits for a retry
    sent = post(panel, root, f"{PAGE}/send", send_form(day, "events"))
    assert sent.status_code == 303
    notes = flashes(root)
    assert "0 delivered, 1 not" in notes, notes
    assert "They are retried" in notes
    with panel.api.db.read() as s:
        [record] = exports.describe_deliveries(s, "alpha")
    assert record.status == DeliveryStatus.RETRYING
    page = root.get(PAGE).text
    button = f'aria-label="Retry {record.file_name} (delivery {record.id})"'
    assert button in page
    retry = f"{PAGE}/deliveries/{record.id}/retry"
    again = post(panel, root, retry, {})
    assert again.status_code == 303
    assert "failed again (attempt 2): transfer:" in flashes(root)
    assert ">failed</span>" in root.get(PAGE).text
    blocker.rmdir()
    assert post(panel, root, retry, {}).status_code == 303
    assert f"{record.file_name} delivered (attempt 3)." in flashes(root)
    assert blocker.is_file()
    page = root.get(PAGE).text
    assert button not in page  # delivered: no Retry
    assert post(panel, root, retry, {}).status_code == 303
    assert "Not retried: export delivery" in flashes(root)
    # Through beta's page, alpha's delivery does not exist; nor does a made-up one.
    beta = post(panel, root, f"/apps/beta/export/deliveries/{record.id}/retry", {})
    assert beta.status_code == 404
    assert post(panel, root, f"{PAGE}/deliveries/999999/retry", {}).status_code == 404


def test_members_are_limited_per_day_and_admins_are_not(panel_sqlite: Panel) -> None:
    panel = panel_sqlite  # the count itself is tested on PostgreSQL too (tests/integration/api)
    root, alice = panel.login("root"), panel.login("alice")
    assert post(panel, alice, f"{PAGE}/destination", destination()).status_code == 303
    limit = panel.api.settings.export.sends_per_day
    day = yesterday()
    assert f"Sends left today: {limit} of {limit}" in alice.get(PAGE).text
    for _ in range(limit):
        assert post(panel, alice, f"{PAGE}/send", send_form(day, "app_tracking")).status_code == 303
    assert f"Sends left today: 0 of {limit}" in alice.get(PAGE).text
    over = post(panel, alice, f"{PAGE}/send", send_form(day, "app_tracking"))
    assert over.status_code == 403
    assert f"This app has used its {limit} manual sends for today." in over.text
    assert "administrator" in over.text
    page = root.get(PAGE).text
    assert "you may send without a limit" in page
    assert f"{limit} used today" in page
    assert post(panel, root, f"{PAGE}/send", send_form(day, "app_tracking")).status_code == 303
    assert "all delivered" in flashes(root)
    with panel.api.db.read() as s:
        runs = [r.trigger for r in exports.describe_deliveries(s, "alpha", limit=100)]
    assert runs.count(str(ExportTrigger.SEND)) == limit + 1


def test_history_pages_with_the_cursor(panel_sqlite: Panel) -> None:
    panel = panel_sqlite
    root = panel.login("root")
    with panel.api.db.transaction() as s:
        run = exports.start_run(
            s, "alpha", trigger=ExportTrigger.NIGHTLY, window_start=dt.date(2025, 1, 1),
            window_end=dt.date(2025, 1, 1),
        )  # fmt: skip
        assert run is not None
        for n in range(25):
            exports.add_delivery(
                s, run.id, report="events", file_name=f"alpha_EVENTS_{n:02d}.csv",
                destination="dropbox:/reports", rows=n, size=10 * n, sha256="0" * 64,
            )  # fmt: skip
    first = root.get(PAGE).text
    shown = re.findall(r"alpha_EVENTS_(\d\d)\.csv</th>", first)
    assert shown == [f"{n:02d}" for n in range(24, 4, -1)]  # newest first, 20 of them
    older = re.search(r'href="(/apps/alpha/export\?before=\d+)" rel="next"', first)
    assert older
    second = root.get(older.group(1)).text
    assert re.findall(r"alpha_EVENTS_(\d\d)\.csv</th>", second) == ["04", "03", "02", "01", "00"]
    assert 'rel="next"' not in second
    assert 'href="/apps/alpha/export">Newest</a>' in second
    assert root.get(f"{PAGE}?before=abc").status_code == 422


def test_alert_contacts_are_edited_and_the_webhook_never_shown_whole(panel_sqlite: Panel) -> None:
    panel = panel_sqlite
    alice = panel.login("alice")
    hook = "https://user:hook-pass@hooks.example:8443/alerts?token=tok-SECRET-1"
    saved = post(
        panel, alice, f"{PAGE}/alerts",
        {"alert_emails": "ops@example.com\nOnCall@Example.COM", "alert_webhook_url": hook},
    )  # fmt: skip
    assert saved.status_code == 303
    assert "Alert contacts saved: 2 addresses, webhook set." in flashes(alice)
    page = alice.get(PAGE).text
    assert "https://hooks.example:8443/alerts?token=***" in page
    for secret in ("hook-pass", "tok-SECRET-1", "user:"):
        assert secret not in page
    assert "oncall@example.com" in page.lower()
    # Empty webhook field: kept; the emails are replaced by what the box holds.
    kept = post(panel, alice, f"{PAGE}/alerts", {"alert_emails": "ops@example.com"})
    assert kept.status_code == 303
    with panel.api.db.read() as s:
        app = apps.get_app(s, "alpha")
        assert (app.alert_emails, app.alert_webhook_url) == (["ops@example.com"], hook)
    bad = post(panel, alice, f"{PAGE}/alerts", {"alert_emails": "<img src=x onerror=alert(1)>"})
    assert bad.status_code == 422
    assert "is not an e-mail address" in field_error(bad.text, "alert_emails")
    assert "<img src=x" not in bad.text
    bad_hook = post(
        panel,
        alice,
        f"{PAGE}/alerts",
        {"alert_emails": "", "alert_webhook_url": "ftp://x/y?t=zz-9"},
    )
    assert "http:// or https://" in field_error(bad_hook.text, "alert_webhook_url")
    assert "zz-9" not in bad_hook.text
    cleared = post(panel, alice, f"{PAGE}/alerts", {"alert_emails": "", "clear_webhook": "on"})
    assert cleared.status_code == 303
    with panel.api.db.read() as s:
        app = apps.get_app(s, "alpha")
        assert (app.alert_emails, app.alert_webhook_url) == ([], None)


def test_forms_without_the_csrf_token_are_refused_and_other_apps_are_404(panel: Panel) -> None:
    stranger = panel.client()
    answer = stranger.get(PAGE)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/login?next={PAGE}")
    alice = panel.login("alice")
    panel.token(alice, PAGE)
    for path, data in (
        (f"{PAGE}/destination", destination()),
        (f"{PAGE}/send", send_form(yesterday(), "events")),
        (f"{PAGE}/test", {}),
        (f"{PAGE}/alerts", {"alert_emails": "a@example.com"}),
        (f"{PAGE}/deliveries/1/retry", {}),
    ):
        for token in (None, "forged"):
            answer = alice.post(path, data={**data, **({"csrf_token": token} if token else {})})
            assert answer.status_code == 403, (path, token)
            assert "not sent from a page of this panel" in answer.text
    with panel.api.db.read() as s:
        assert exports.find_destination(s, "alpha") is None
        assert apps.get_app(s, "alpha").alert_emails == []
    # beta's export page and its forms do not exist for alice (whether or not beta exists).
    for path in ("/apps/beta/export", "/apps/nope/export"):
        assert alice.get(path).status_code == 404
    token = panel.token(alice, PAGE)
    for path in ("/destination", "/send", "/test", "/alerts", "/deliveries/1/retry"):
        answer = alice.post(f"/apps/beta/export{path}", data={"csrf_token": token, **destination()})
        assert answer.status_code == 404, path
    with panel.api.db.read() as s:
        assert exports.find_destination(s, "beta") is None


# --- in a browser ---------------------------------------------------------------------------

WIDER_THAN_THE_SCREEN = """[...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 8).map(e => `${e.tagName}.${e.className}#${e.id}`)"""


@pytest.mark.slow
def test_an_admin_configures_an_export_to_sshd_tests_it_and_sends(
    chromium: Browser, sshd_peer: SshdPeer, peer_dir: Path, tmp_path: Path
) -> None:
    with serving_panel("sqlite", None, tmp_path) as panel:
        context = chromium.new_context(base_url=panel.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(20_000)
        authorized = sshd_peer.dir / "authorized_keys"
        before = authorized.read_text()
        try:
            page = context.new_page()
            log_in(page, "root")
            page.goto(PAGE)
            expect(page.get_by_role("heading", name="Export", exact=True)).to_be_visible()
            shot(page, "export-01-empty")

            public = save_sftp_destination_with_a_new_key(page, sshd_peer, peer_dir)
            expect(page.get_by_role("status").first).to_contain_text("Saved: the reports of alpha")
            assert public.startswith("ssh-ed25519 ")
            assert public.endswith(" ftpush export alpha")
            assert "PRIVATE" not in page.content()
            shot(page, "export-02-key-pair-made")

            authorized.write_text(before + public + "\n")  # the customer installs it
            page.get_by_role("button", name="Test connection").click()
            expect(page.locator("#test-result")).to_contain_text("Connection OK.")
            shot(page, "export-03-test-connection-ok")

            page.get_by_role("button", name="Send", exact=True).click()
            expect(page.get_by_role("status").first).to_contain_text("all delivered")
            history = page.get_by_role("table")
            expect(history).to_contain_text("delivered")
            names = sorted(p.name for p in peer_dir.iterdir())
            assert names
            assert all(n.endswith(".csv") for n in names), names
            for name in names:
                expect(history.get_by_role("rowheader", name=name)).to_be_visible()
            shot(page, "export-04-sent-history")

            page.set_viewport_size({"width": 390, "height": 844})
            page.reload()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            wide = page.evaluate(WIDER_THAN_THE_SCREEN) if overflow > 0 else []
            assert overflow <= 0, f"the export page is {overflow}px wider than a phone: {wide}"
            shot(page, "export-05-phone")

            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto("/apps")
            page.get_by_role("row", name=re.compile("alpha")).get_by_role(
                "link", name="Members"
            ).click()
            page.get_by_label("Username").fill("carol")
            page.get_by_role("button", name="Create member").click()
            expect(page.locator("#new-password")).to_have_text(re.compile(r"^\S{24}$"))
            shot(page, "members-01-created-password-shown-once")
        finally:
            authorized.write_text(before)
            context.close()

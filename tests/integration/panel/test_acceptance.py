"""Issue 9's acceptance journey: the panel of a real ``ftpush serve``, end to end, in Chromium.

One story through the whole system, with nothing in-process but the browser and the CLI:
an admin (made with ``ftpush admin create``) logs in, creates app ``shop`` and an FTP
account (its password shown once), gives the account an SSH key; the customer uploads a
push file with the OpenSSH ``sftp`` client (host key pinned); the Imports page notices
the file without a reload and its row reaches *done* with the right counts; the admin sets
an SFTP export to a real ``sshd`` with a generated key pair, tests it and sends; the files
arrive and the history says *delivered*; a member of ``shop`` made on the Members page
sees ``shop`` and gets 404 on app ``other`` (403 on the operator's Members page).

Screenshots of every page: ``acceptance-NN-*.png`` among the panel test artifacts.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.integration.cli.conftest import Ftpush
from tests.integration.cli.test_serve_intake import FTPUSH, Served
from tests.integration.panel.browser import save_sftp_destination_with_a_new_key, shot
from tests.peers.sshd import SshdPeer

pytestmark = pytest.mark.slow

ADMIN, ADMIN_PASSWORD = "operator", "acceptance-admin-pw-1"
TIMEZONE = "Europe/Berlin"
WAIT = 60_000  # ms: the server's workers, live.js's polls (2 s busy, 10 s idle) and a busy CI
DEVICES = {"u1": ["ab" * 32, "fcm:u1-phone"], "u2": ["cd" * 32]}  # u1: iOS + Android
PUSH_FILE = (
    b"ExternalID;Text;Deeplink\n"
    b"u1;Your order has shipped;https://shop.example/orders/1\n"
    b"u2;Summer sale\\nstarts today;\n"
    b"ghost;Nobody has this ID;https://shop.example/\n"
)  # 3 lines accepted (ghost counts as unknown_user), 3 pushes: u1's two devices and u2's one
SEND_REPORTS = ["campaigns", "campaign_recipients", "events", "installations"]


@dataclass
class Serve:
    served: Served
    data: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.served.port('http')}"

    @property
    def sftp_port(self) -> int:
        return self.served.port("sftp")


@contextmanager
def serving(data: Path, log: Path, key: Path) -> Iterator[Serve]:
    """``ftpush serve`` (web and SFTP on free ports, no FTP) until SIGTERM; its log on failure."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTPUSH_")}
    env["FTPUSH_FTP__ENABLED"] = "false"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [FTPUSH, "--data-dir", str(data), "serve", "--http-port", "0", "--sftp-port", "0"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
    ok = False
    try:
        deadline = time.monotonic() + 60
        while not re.search(r"^ready", log.read_text(), re.M):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ftpush serve did not become ready:\n{log.read_text()}")
            time.sleep(0.1)
        lines = log.read_text().splitlines()
        yield Serve(Served(proc, lines, Ftpush(data), key, ""), data, log)
        ok = True
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            ok = False
        text = log.read_text()
        if not ok or proc.returncode != 0 or "Traceback" in text:
            print(f"--- ftpush serve (exit {proc.returncode}) ---\n{text}")
    assert proc.returncode == 0, text
    assert "Traceback" not in text, text


def browse(chromium: Browser, url: str) -> BrowserContext:
    context = chromium.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    return context


def log_in(page: Page, user: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def fingerprint(public_key: Path) -> str:
    """``SHA256:…`` of an OpenSSH public key file, as ``ssh-keygen -l`` prints it."""
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return listed.split()[1]


def sftp(serve: Serve, key: Path, user: str, commands: str, tmp: Path) -> None:
    """The OpenSSH client, pinned to the server's own host key, runs a batch of commands."""
    host_key = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(serve.data / "keys" / "ssh_host_ed25519_key")],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (tmp / "host_key.pub").write_text(host_key + "\n")
    banner = re.search(r"sftp://\S+\s+\(host key (SHA256:\S+)\)", serve.log.read_text())
    assert banner, "the banner names the SFTP host key"
    assert fingerprint(tmp / "host_key.pub") == banner.group(1)
    known = tmp / "known_hosts"
    known.write_text(f"[127.0.0.1]:{serve.sftp_port} {host_key}\n")
    batch = tmp / "batch"
    batch.write_text(commands)
    run = subprocess.run(
        ["sftp", "-b", str(batch), "-P", str(serve.sftp_port), "-i", str(key),
         "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known}",
         f"{user}@127.0.0.1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, f"sftp failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"


def key_pair(key: Path) -> Path:
    """A fresh ed25519 key pair ``key`` / ``key.pub`` for account acme."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "acme@shop", "-f", str(key)],
        check=True,
    )  # fmt: skip
    return key


def test_the_acceptance_journey_of_the_panel(
    chromium: Browser, sshd_peer: SshdPeer, peer_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    cli = Ftpush(data)
    cli("admin", "create", ADMIN, input=ADMIN_PASSWORD + "\n")
    key = key_pair(tmp_path / "id_ed25519")
    public_key = Path(f"{key}.pub").read_text().strip()
    authorized = sshd_peer.dir / "authorized_keys"
    before = authorized.read_text()

    with serving(data, tmp_path / "serve.log", key) as serve:
        admin = browse(chromium, serve.url)
        member = browse(chromium, serve.url)
        try:
            page = admin.new_page()
            # --- 1. the admin logs in and creates app shop ------------------------------
            page.goto("/apps")
            expect(page).to_have_url(re.compile(r"/login\?next=/apps$"))
            shot(page, "acceptance-01-login")
            log_in(page, ADMIN, ADMIN_PASSWORD)
            expect(page).to_have_url(re.compile(r"/apps$"))
            expect(page.get_by_text("No app yet.")).to_be_visible()
            page.get_by_label("App key").fill("shop")
            page.get_by_label("Name").fill("The Shop")
            page.get_by_label("Timezone").fill(TIMEZONE)
            page.get_by_role("button", name="Create app").click()
            expect(page.get_by_role("status").first).to_contain_text(
                "App shop created; its FTP offer is on."
            )
            expect(page.get_by_role("row", name=re.compile("shop"))).to_contain_text(TIMEZONE)
            shot(page, "acceptance-02-apps-shop-created")

            # --- 2. an FTP account: password once, then an SSH key ------------------------
            page.get_by_role("link", name="shop", exact=True).click()
            expect(page).to_have_url(re.compile(r"/apps/shop/accounts$"))
            page.get_by_label("Username").fill("acme")
            page.get_by_label("Allowed networks").fill("127.0.0.1/32")
            page.get_by_role("button", name="Create account").click()
            secret = page.locator("#new-password")
            expect(secret).to_have_text(re.compile(r"^\S{24}$"))
            password = secret.inner_text().strip()
            shot(page, "acceptance-03-account-password-shown-once")

            page.get_by_role("link", name="acme", exact=True).click()
            expect(page.get_by_role("heading", name="acme")).to_be_visible()
            expect(
                page.get_by_text("No key: this account logs in with its password.")
            ).to_be_visible()
            page.get_by_label("Add SSH public key").fill(public_key)
            page.get_by_role("button", name="Add key").click()
            expect(page.get_by_role("status").first).to_contain_text(
                f"Added key {fingerprint(Path(f'{key}.pub'))}"
            )
            expect(page.get_by_text("acme@shop")).to_be_visible()  # the key's comment
            shot(page, "acceptance-04-account-key-added")
            for path in ("/apps/shop/accounts", "/apps/shop/accounts/acme"):
                page.goto(path)
                assert password not in page.content(), f"the password is shown again on {path}"

            # --- 3. devices, then the customer's sftp upload -----------------------------
            for external_id, tokens in DEVICES.items():
                for token in tokens:
                    cli("device", "add", "--app", "shop", "--external-id", external_id,
                        "--token", token)  # fmt: skip
            page.get_by_role("navigation", name="App shop").get_by_role(
                "link", name="Imports"
            ).click()
            expect(page).to_have_url(re.compile(r"/apps/shop/imports$"))
            expect(page.get_by_text("No file received yet.")).to_be_visible()
            page.evaluate("window.stillTheSamePage = true")
            upload = tmp_path / "news.csv"
            upload.write_bytes(PUSH_FILE)
            sftp(serve, key, "acme", f"put {upload} /news.csv\n", tmp_path)

            # --- 4. the Imports page: notices the file, the row reaches done --------------
            newer = page.locator("[data-live-newer]")
            expect(newer).to_be_visible(timeout=WAIT)  # live.js's idle poll, no reload
            assert page.evaluate("window.stillTheSamePage") is True
            shot(page, "acceptance-05-imports-new-file-noticed")
            newer.get_by_role("link", name="Show them").click()
            row = page.get_by_role("row", name=re.compile("news.csv"))
            expect(row).to_be_visible()
            page.evaluate("window.stillTheSamePage = true")
            expect(row.locator('[data-field="status"]')).to_have_text("done", timeout=WAIT)
            expect(row.locator('[data-field="lines"]')).to_have_text("3 ok · 0 rejected")
            expect(row.locator('[data-field="pushes"]')).to_have_text(
                "3 sent · 0 failed", timeout=WAIT
            )
            expect(row.locator('[data-field="progress"]')).to_have_text("3 of 3 pushes")
            expect(row).to_contain_text("sftp")
            expect(row).to_contain_text("acme")
            assert page.evaluate("window.stillTheSamePage") is True
            shot(page, "acceptance-06-imports-done")

            row.get_by_role("link", name="news.csv").click()
            expect(page.get_by_role("heading", name=re.compile("news.csv"))).to_be_visible()
            expect(page.locator('dd [data-field="status"]')).to_have_text("done")
            counts = page.locator("table.imp-counts")
            for name, value in (
                ("lines", 3), ("accepted", 3), ("rejected", 0), ("unknown user", 1),
                ("no device", 0), ("messages", 3),
            ):  # fmt: skip
                cell = counts.get_by_role("row", name=re.compile(f"^{name} ")).locator("td")
                expect(cell).to_have_text(str(value))
            expect(page.get_by_role("link", name="news.csv.result.json")).to_be_visible()
            msg_id = page.locator('[data-field="campaign"]').inner_text().strip()
            assert re.fullmatch(r"[\w-]+", msg_id), msg_id
            shot(page, "acceptance-07-import-detail")

            # --- 5. export to the sshd peer: key pair, Test connection, Send -------------
            page.get_by_role("navigation", name="App shop").get_by_role(
                "link", name="Export"
            ).click()
            expect(page.get_by_role("heading", name="Export", exact=True)).to_be_visible()
            export_key = save_sftp_destination_with_a_new_key(page, sshd_peer, peer_dir)
            expect(page.get_by_role("status").first).to_contain_text("Saved: the reports of shop")
            assert export_key.startswith("ssh-ed25519 "), export_key
            assert "PRIVATE" not in page.content()
            shot(page, "acceptance-08-export-key-pair")

            authorized.write_text(before + export_key + "\n")  # the customer installs it
            page.get_by_role("button", name="Test connection").click()
            expect(page.locator("#test-result")).to_contain_text("Connection OK.")
            shot(page, "acceptance-09-export-test-connection-ok")

            today = dt.datetime.now(ZoneInfo(TIMEZONE)).date()
            page.get_by_label("From").fill(str(today - dt.timedelta(days=1)))  # midnight-proof
            page.get_by_label("To", exact=True).fill(str(today))
            boxes = page.get_by_role("group", name="Reports to send")
            for box in boxes.get_by_role("checkbox").all():
                box.set_checked(box.get_attribute("value") in SEND_REPORTS)
            page.get_by_role("button", name="Send", exact=True).click()
            expect(page.get_by_role("status").first).to_contain_text(
                f"Sent 4 files (8 rows) for {today - dt.timedelta(days=1)} to {today}: "
                "all delivered."
            )
            stamp = today.strftime("%Y%m%d")
            expected = {
                f"shop_PUSH_REPORTS_{stamp}.csv": 1,
                f"shop_{msg_id}_PUSH_REPORTS_{stamp}.csv": 4,  # 3 pushes + ghost's line
                f"shop_EVENTS_{stamp}.csv": None,
                f"shop_INSTALLATIONS_{stamp}.csv": 3,
            }
            history = page.locator("table.ex-history")
            for name, rows in expected.items():
                line = history.get_by_role("row", name=re.compile(re.escape(name)))
                expect(line).to_contain_text("delivered")
                if rows is not None:
                    expect(line.locator("td.num").first).to_have_text(str(rows))
            shot(page, "acceptance-10-export-sent-history")
            assert sorted(p.name for p in peer_dir.iterdir()) == sorted(expected)
            campaigns = (peer_dir / f"shop_PUSH_REPORTS_{stamp}.csv").read_text()
            assert msg_id in campaigns
            assert "news.csv" in campaigns

            # --- 6. a second app, a member of shop, and what the member may see ----------
            page.goto("/apps")
            page.get_by_label("App key").fill("other")
            page.get_by_label("Timezone").fill("UTC")
            page.get_by_role("button", name="Create app").click()
            expect(page.get_by_role("status").first).to_contain_text("App other created")
            shot(page, "acceptance-11-apps-two")
            page.get_by_role("row", name=re.compile("shop")).get_by_role(
                "link", name="Members"
            ).click()
            expect(page).to_have_url(re.compile(r"/apps/shop/members$"))
            page.get_by_label("Username").fill("carol")
            page.get_by_role("button", name="Create member").click()
            member_secret = page.locator("#new-password")
            expect(member_secret).to_have_text(re.compile(r"^\S{24}$"))
            member_password = member_secret.inner_text().strip()
            shot(page, "acceptance-12-member-created-password-shown-once")

            tab = member.new_page()
            log_in(tab, "carol", member_password)
            expect(tab).to_have_url(re.compile(r"/apps/shop/accounts$"))
            account = tab.get_by_role("row", name=re.compile("acme"))
            expect(account).to_contain_text("127.0.0.1/32")
            expect(account).not_to_contain_text("—")  # its last login: the sftp upload
            tab.goto("/apps")
            expect(tab.get_by_role("link", name="shop", exact=True)).to_be_visible()
            assert tab.get_by_role("link", name="other", exact=True).count() == 0
            assert tab.get_by_role("link", name="Members").count() == 0
            tab.goto("/apps/shop/imports")
            expect(
                tab.get_by_role("row", name=re.compile("news.csv")).locator('[data-field="status"]')
            ).to_have_text("done")
            shot(tab, "acceptance-13-member-imports")
            for path in (
                "/apps/other/imports", "/apps/other/export", "/apps/other/accounts",
                "/apps/other/members", "/apps/other",
            ):  # fmt: skip
                response = tab.goto(path)
                assert response is not None
                assert response.status == 404, path
                expect(tab.get_by_role("heading", name="Not found")).to_be_visible()
            shot(tab, "acceptance-14-member-other-app-404")
            response = tab.goto("/apps/shop/members")
            assert response is not None
            assert response.status == 403
            expect(tab.get_by_role("heading", name="Not allowed")).to_be_visible()
            shot(tab, "acceptance-15-member-members-page-403")
        finally:
            authorized.write_text(before)
            member.close()
            admin.close()


def test_an_sftp_login_shows_as_the_accounts_last_login(chromium: Browser, tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli = Ftpush(data)
    cli("admin", "create", ADMIN, input=ADMIN_PASSWORD + "\n")
    cli("app", "create", "shop", "--timezone", TIMEZONE)
    key = key_pair(tmp_path / "id_ed25519")
    cli("account", "add", "--app", "shop", "acme", "--ssh-key", f"{key}.pub",
        "--allow", "127.0.0.1")  # fmt: skip
    with serving(data, tmp_path / "serve.log", key) as serve:
        sftp(serve, key, "acme", "ls /\n", tmp_path)
        context = browse(chromium, serve.url)
        try:
            page = context.new_page()
            log_in(page, ADMIN, ADMIN_PASSWORD)
            expect(page).to_have_url(re.compile(r"/apps$"))
            page.goto("/apps/shop/accounts/acme")
            last_login = page.locator("dt:text-is('Last login') + dd")
            expect(last_login).to_be_visible()
            shot(page, "acceptance-16-account-last-login")
            assert last_login.inner_text().strip() != "—", "the sftp login is not shown"
        finally:
            context.close()

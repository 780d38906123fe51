"""The panel in a real browser: Playwright driving Debian's headless Chromium.

The browser is the ``chromium`` package (``make system-deps`` installs it), launched by
its path once per test module (not per session: Playwright's sync API keeps an event
loop running in the main thread while it is open, and other tests call ``asyncio.run``);
Playwright never downloads one. Without it the browser
tests are skipped, saying why. Screenshots go to ``$FTPUSH_TEST_ARTIFACTS/panel``
(default ``test-artifacts/panel``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import REPO
from tests.peers.sshd import SshdPeer

ARTIFACTS = Path(os.environ.get("FTPUSH_TEST_ARTIFACTS") or REPO / "test-artifacts") / "panel"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's chromium by its path (skipped, saying why, when it cannot run)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (make system-deps installs it)")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, headless=True)
        except PlaywrightError as exc:
            pytest.skip(f"chromium ({executable}) cannot be started: {exc.message}")
        yield browser
        browser.close()


def shot(page: Page, name: str) -> None:
    """A full-page screenshot ``<name>.png`` among the test artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def log_in(page: Page, user: str) -> None:
    from tests.integration.panel.conftest import USERS

    page.goto("/login")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(USERS[user][0])
    page.get_by_role("button", name="Log in").click()


def save_sftp_destination_with_a_new_key(page: Page, peer: SshdPeer, folder: Path) -> str:
    """Fill the Export page's destination form for ``peer`` (a generated key pair, its host
    key pinned, csv with ``;``), save it, and return the public key the page shows."""
    form = page.locator("#destination-form")
    form.get_by_label("SFTP server").check()
    form.get_by_label("Host", exact=True).fill(peer.host)
    form.get_by_label("Port", exact=True).fill(str(peer.port))
    form.get_by_label("Username", exact=True).fill(peer.user.name)
    form.get_by_label("Folder", exact=True).fill(str(folder))
    form.get_by_label("Generate a new key pair").check()
    form.get_by_label("Pinned host key fingerprint").fill(peer.host_key_fingerprint)
    form.get_by_label("csv", exact=True).check()
    form.get_by_label("CSV delimiter").select_option(";")
    form.get_by_role("button", name="Save destination").click()
    return page.locator("#public-key").inner_text().strip()

"""The panel through a real server: the API tests' ``serving`` (uvicorn on loopback,
apps ``alpha`` and ``beta``) plus three panel users: ``root`` (admin), ``alice``
(member of alpha) and ``bob`` (member of beta).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import httpx
import pytest

from ftpush.crypto import hash_password
from ftpush.models import Role
from ftpush.storage import apps
from ftpush.storage.tables import PanelUser
from tests.conftest import PgServer
from tests.integration.api.conftest import Api, serving
from tests.integration.panel.browser import chromium  # noqa: F401 - the fixture

USERS = {
    "root": ("root-password-1", Role.ADMIN, None),
    "alice": ("alice-password-1", Role.MEMBER, "alpha"),
    "bob": ("bob-password-12", Role.MEMBER, "beta"),
}
COOKIE = "ftpush_session"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@dataclass
class Panel:
    api: Api
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.api.url

    def client(self) -> httpx.Client:
        """A browser-like client that keeps cookies and does not follow redirects."""
        client = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)
        self._clients.append(client)
        return client

    def login(self, user: str, client: httpx.Client | None = None) -> httpx.Client:
        client = client or self.client()
        form = client.get("/login")
        assert form.status_code == 200
        answer = client.post(
            "/login",
            data={"username": user, "password": USERS[user][0], "csrf_token": csrf_of(form.text)},
        )
        assert answer.status_code == 303, answer.text
        return client

    def token(self, client: httpx.Client, path: str) -> str:
        """The CSRF token shown to this client on ``path``."""
        page = client.get(path)
        assert page.status_code == 200, page.text
        return csrf_of(page.text)

    def close(self) -> None:
        for client in self._clients:
            client.close()


@cache
def _hash(password: str) -> str:
    return hash_password(password)  # argon2 is slow on purpose: once per run, not per test


@contextmanager
def serving_panel(backend: str, pg_server: PgServer | None, tmp_path: Path) -> Iterator[Panel]:
    with serving(backend, pg_server, tmp_path) as api:
        with api.db.transaction() as session:
            for name, (password, role, app) in USERS.items():
                app_id = apps.get_app(session, app).id if app else None
                session.add(
                    PanelUser(
                        username=name, password_hash=_hash(password), role=role, app_id=app_id
                    )
                )
        world = Panel(api)
        try:
            yield world
        finally:
            world.close()


@pytest.fixture
def panel(backend: str, pg_server: PgServer | None, tmp_path: Path) -> Iterator[Panel]:
    """The panel on each database backend."""
    with serving_panel(backend, pg_server, tmp_path) as world:
        yield world


@pytest.fixture
def panel_sqlite(tmp_path: Path) -> Iterator[Panel]:
    """The panel on SQLite only: browser tests, and tests whose storage is covered elsewhere."""
    with serving_panel("sqlite", None, tmp_path) as world:
        yield world

"""Fixtures shared by the whole suite.

Databases: every storage test runs on SQLite, and on PostgreSQL too when
``FTPUSH_TEST_DATABASE_URL`` points at a server (``.ci/run`` sets it). For
PostgreSQL a migrated template database is made once per run and each test
gets a fresh copy of it, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ftpush.config import Settings, load_settings
from ftpush.storage import Database, migrate
from ftpush.storage.engine import make_engine, normalise_url

pytest_plugins = ["tests.peers.fixtures", "tests.peers.push_peer", "tests.peers.alert_peers"]

PG_URL = os.environ.get("FTPUSH_TEST_DATABASE_URL")
REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "samples"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh data directory, ignoring the real environment."""
    return load_settings(data_dir=tmp_path / "data", environ={})


class PgServer:
    """Creates and drops throw-away databases on the test PostgreSQL server."""

    def __init__(self, url: str) -> None:
        self.url = make_url(normalise_url(url))
        self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self._made: list[str] = []
        self.template: str | None = None

    def create(self, template: str | None = None) -> str:
        name = f"ftpush_t_{uuid.uuid4().hex[:12]}"
        clause = f" TEMPLATE {template}" if template else ""
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        self._made.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def migrated(self) -> str:
        """A fresh database at the head revision (copied from a template)."""
        if self.template is None:
            url = self.create()
            engine = create_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            self.template = make_url(url).database
        return self.create(template=self.template)

    def drop_all(self) -> None:
        with self._admin.connect() as conn:
            for name in reversed(self._made):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer | None]:
    if not PG_URL:
        yield None
        return
    server = PgServer(PG_URL)
    yield server
    server.drop_all()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("FTPUSH_TEST_DATABASE_URL is not set")
    return str(request.param)


@pytest.fixture
def empty_db_url(backend: str, pg_server: PgServer | None, tmp_path: Path) -> str:
    """URL of an empty database (no schema) on each backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    assert pg_server is not None
    return pg_server.create()


@pytest.fixture
def db(
    backend: str, pg_server: PgServer | None, settings: Settings, tmp_path: Path
) -> Iterator[Database]:
    """A migrated database on each backend."""
    if backend == "sqlite":
        database = Database.open(settings)
    else:
        assert pg_server is not None
        database = Database(make_engine(settings, pg_server.migrated()))
    yield database
    database.close()

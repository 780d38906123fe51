"""Engine and session factory; the only place a database connection is configured.

SQLite (the default) runs in WAL mode with a busy timeout and foreign keys on,
so the web app, the file servers and the workers of one ``serve`` can share
one file. A ``postgresql://`` URL selects PostgreSQL through psycopg 3.

Example::

    >>> from ftpush.config import load_settings
    >>> engine = make_engine(load_settings(data_dir="/tmp/ftpush-doc", environ={}))
    >>> engine.dialect.name
    'sqlite'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from ftpush.config import Settings
from ftpush.errors import ConfigError

READ_ONLY = "ftpush_read_only"  # execution option of Database.read() sessions


def normalise_url(url: str) -> str:
    """Pick psycopg 3 for plain ``postgresql://`` URLs (SQLAlchemy defaults to psycopg2)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(settings: Settings, url: str | None = None) -> Engine:
    """Build the engine for ``url`` (default: the settings' database URL)."""
    raw = normalise_url(url or settings.database_url())
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise ConfigError("database.url is not a valid database URL") from None
    options: dict[str, Any] = {"echo": settings.database.echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _create_private_file(Path(parsed.database))
        options["connect_args"] = {"timeout": settings.database.busy_timeout_ms / 1000}
    elif parsed.get_backend_name() == "postgresql":
        options["pool_size"] = settings.database.pool_size
        options["pool_pre_ping"] = True
    else:
        raise ConfigError(
            f"database backend {parsed.get_backend_name()!r} is not supported: "
            "use sqlite or postgresql"
        )
    try:
        engine = create_engine(parsed, **options)
    except NoSuchModuleError as exc:
        raise ConfigError(f"database driver not available: {exc}") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, settings.database.busy_timeout_ms)
    return engine


def _create_private_file(path: Path) -> None:
    """Create the SQLite file owner-only: it holds password hashes and tokens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o600))


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT;
        # we issue BEGIN ourselves (below) so SQLAlchemy's unit of work is exact.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash
        # or power loss can roll back the last transactions, never corrupt the file.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers queue on the busy
        # timeout instead of failing with "database is locked" on lock upgrade.
        # Reads (Database.read) begin DEFERRED: under WAL they never wait for a writer
        # and never hold the lock writers queue for.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on error."""
    with factory() as session, session.begin():
        yield session

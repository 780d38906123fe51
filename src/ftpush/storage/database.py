"""The :class:`Database` handle that commands, servers and workers share.

Example::

    >>> db = Database.open(settings)                 # doctest: +SKIP
    >>> with db.transaction() as session:            # doctest: +SKIP
    ...     apps.create_app(session, key="demo", name="Demo")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ftpush.config import Settings
from ftpush.errors import StorageError
from ftpush.storage import migrate
from ftpush.storage.engine import READ_ONLY, make_engine, make_session_factory


class Database:
    """An engine and its sessions; build one per process with :meth:`open`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = make_session_factory(engine)
        self._readers: sessionmaker[Session] = make_session_factory(
            engine.execution_options(**{READ_ONLY: True})
        )

    @classmethod
    def open(cls, settings: Settings, *, upgrade: bool | None = None) -> Database:
        """Connect and make sure the schema is current (upgrading it if allowed)."""
        db = cls(make_engine(settings))
        auto = settings.database.auto_upgrade if upgrade is None else upgrade
        try:
            migrate.ensure_current(db.engine, auto_upgrade=auto)
        except BaseException:
            db.close()
            raise
        return db

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session committed on success, rolled back on any error."""
        try:
            with self.sessions() as session, session.begin():
                yield session
        except OperationalError as exc:
            raise StorageError(f"database error: {exc.orig or exc}") from None

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only: on SQLite it does not take the write lock.

        Anything written in it is rolled back at the end.
        """
        try:
            with self._readers() as session:  # closing it rolls back
                yield session
        except OperationalError as exc:
            raise StorageError(f"database error: {exc.orig or exc}") from None

    def close(self) -> None:
        self.engine.dispose()


def ping(db: Database) -> bool:
    """True when the database answers a trivial query."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False
    return True

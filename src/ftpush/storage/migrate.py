"""Schema migrations (Alembic), applied programmatically: no alembic.ini to find.

Example::

    >>> upgrade(engine)            # doctest: +SKIP
    >>> current_revision(engine) == head_revision()  # doctest: +SKIP
    True
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ftpush.errors import StorageError

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot read the database: {exc.__class__.__name__}: {exc}") from None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every pending migration up to ``revision``."""
    cfg = _config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except SQLAlchemyError as exc:
        raise StorageError(f"migration failed: {exc.__class__.__name__}: {exc}") from None


def ensure_current(engine: Engine, *, auto_upgrade: bool) -> None:
    """Make sure the schema is at head: upgrade it, or refuse to run on an old one."""
    current = current_revision(engine)
    if current == head_revision():
        return
    if not auto_upgrade:
        raise StorageError(
            f"the database schema is at {current or 'nothing'}, the code needs "
            f"{head_revision()}: run 'ftpush db upgrade'"
        )
    upgrade(engine)

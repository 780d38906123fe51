"""The migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from ftpush.config import Settings
from ftpush.errors import StorageError
from ftpush.storage import Database, migrate
from ftpush.storage.engine import make_engine
from ftpush.storage.tables import Base


def test_upgrade_on_an_empty_database(empty_db_url: str, settings: Settings) -> None:
    engine = make_engine(settings, empty_db_url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        migrate.upgrade(engine)  # a second run is a no-op
    finally:
        engine.dispose()


def test_no_drift_between_models_and_migrations(empty_db_url: str, settings: Settings) -> None:
    engine = make_engine(settings, empty_db_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; add a revision: {diff}"


def test_an_old_schema_is_refused_without_auto_upgrade(
    empty_db_url: str, settings: Settings
) -> None:
    engine = make_engine(settings, empty_db_url)
    try:
        with pytest.raises(StorageError, match="ftpush db upgrade"):
            migrate.ensure_current(engine, auto_upgrade=False)
        migrate.ensure_current(engine, auto_upgrade=True)
        migrate.ensure_current(engine, auto_upgrade=False)
    finally:
        engine.dispose()


def test_database_open_upgrades_by_default(settings: Settings) -> None:
    db = Database.open(settings)
    try:
        assert migrate.current_revision(db.engine) == migrate.head_revision()
    finally:
        db.close()

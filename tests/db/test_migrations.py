"""Migrations from empty to head build the whole data model, on SQLite and PostgreSQL."""

import sqlalchemy as sa
from sqlmodel import SQLModel

import db.models  # noqa: F401
from db.migrate import current_revision, upgrade_to_head


def test_head_creates_every_table(db_engine):
    tables = set(sa.inspect(db_engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    assert current_revision(db_engine) is not None


def test_upgrade_is_idempotent(db_engine):
    before = current_revision(db_engine)
    upgrade_to_head(db_engine)
    assert current_revision(db_engine) == before


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_engine):
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1

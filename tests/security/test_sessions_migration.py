"""The sessions migration goes down and up on both backends, and refuses names that differ only in case."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from db.migrate import alembic_config, current_revision


def _migrate(engine, step, target):
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        step(config, target)


def test_sessions_migration_down_and_up(db_engine):
    assert "signinsession" in sa.inspect(db_engine).get_table_names()
    _migrate(db_engine, command.downgrade, "0003_open_vocab_prefer")
    tables = sa.inspect(db_engine).get_table_names()
    assert "signinsession" not in tables and "signinattempt" not in tables
    with db_engine.begin() as connection:
        connection.execute(sa.text("""INSERT INTO "user" (username, display_name, password_hash, roles, active, created_at)
                                      VALUES ('Admin', '', 'x', '[]', true, CURRENT_TIMESTAMP),
                                             ('admin', '', 'x', '[]', true, CURRENT_TIMESTAMP)"""))
    with pytest.raises(RuntimeError, match="differ only in case: admin"):
        _migrate(db_engine, command.upgrade, "head")
    with db_engine.begin() as connection:
        connection.execute(sa.text("""UPDATE "user" SET username = 'admin2' WHERE username = 'Admin'"""))
    _migrate(db_engine, command.upgrade, "head")
    config = alembic_config(db_engine.url.render_as_string(hide_password=False))
    assert current_revision(db_engine) == ScriptDirectory.from_config(config).get_current_head()
    assert "signinattempt" in sa.inspect(db_engine).get_table_names()

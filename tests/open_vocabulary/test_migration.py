"""Migration 0003_open_vocab_prefer goes down and up again, keeping existing rows valid."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from db.migrate import alembic_config

REVISION = "0003_open_vocab_prefer"


def columns(engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def test_down_and_up_with_existing_rows(db_engine):
    config = alembic_config(db_engine.url.render_as_string(hide_password=False))
    before = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision  # wherever it is chained
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, before)
    assert "emotion_words" not in columns(db_engine, "annotation")
    assert "preferenceanswer" not in sa.inspect(db_engine).get_table_names()
    with db_engine.begin() as connection:  # a study made before the upgrade
        connection.execute(sa.text("INSERT INTO study (name, description, systems, settings, status, created_at) "
                                   "VALUES ('old', '', '[]', '{}', 'draft', CURRENT_TIMESTAMP)"))
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    for table in ("reference", "prediction", "annotation", "consensus"):
        assert "emotion_words" in columns(db_engine, table)
    with db_engine.connect() as connection:
        assert connection.execute(sa.text("SELECT kind FROM study WHERE name = 'old'")).scalar() == "rating"

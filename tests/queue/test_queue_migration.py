"""The queue's index migration goes up and down cleanly on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from db.migrate import alembic_config, current_revision


def _head(config) -> str:  # noqa: ANN001

    return ScriptDirectory.from_config(config).get_current_head()


def test_queue_indexes_upgrade_and_downgrade(db_engine):
    assert "ix_assignment_clip_state_expires" in {i["name"] for i in sa.inspect(db_engine).get_indexes("assignment")}
    config = alembic_config(db_engine.url.render_as_string(hide_password=False))
    assert current_revision(db_engine) == _head(config)
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001_initial_schema")
    names = {i["name"] for i in sa.inspect(db_engine).get_indexes("assignment")}
    assert "ix_assignment_clip_state_expires" not in names
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert current_revision(db_engine) == _head(config)
    assert "ix_assignment_clip_state_expires" in {i["name"] for i in sa.inspect(db_engine).get_indexes("assignment")}
    assert "queue_version" in {c["name"] for c in sa.inspect(db_engine).get_columns("dataset")}

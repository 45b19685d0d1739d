"""The queue's index migration goes up and down cleanly on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from db.migrate import alembic_config, current_revision


def test_queue_indexes_upgrade_and_downgrade(db_engine):
    head = ScriptDirectory.from_config(alembic_config(str(db_engine.url))).get_current_head()
    assert current_revision(db_engine) == head
    assert "ix_assignment_clip_state_expires" in {i["name"] for i in sa.inspect(db_engine).get_indexes("assignment")}
    config = alembic_config(db_engine.url.render_as_string(hide_password=False))
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001_initial_schema")
    names = {i["name"] for i in sa.inspect(db_engine).get_indexes("assignment")}
    assert "ix_assignment_clip_state_expires" not in names
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert current_revision(db_engine) == head
    assert "ix_assignment_clip_state_expires" in {i["name"] for i in sa.inspect(db_engine).get_indexes("assignment")}
    assert "queue_version" in {c["name"] for c in sa.inspect(db_engine).get_columns("dataset")}

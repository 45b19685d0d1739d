"""The audit log's index migration goes up and down cleanly on both backends."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from db.migrate import alembic_config, current_revision

INDEXES = {"ix_auditlog_action", "ix_auditlog_at"}


def _indexes(engine) -> set[str]:  # noqa: ANN001
    return {i["name"] for i in sa.inspect(engine).get_indexes("auditlog")}


def test_audit_indexes_upgrade_and_downgrade(db_engine):
    config = alembic_config(db_engine.url.render_as_string(hide_password=False))
    scripts = ScriptDirectory.from_config(config)
    assert current_revision(db_engine) == scripts.get_current_head()
    assert _indexes(db_engine) >= INDEXES
    # Down to the revision before the one that adds them, wherever it sits in the chain.
    adding = next(s for s in scripts.walk_revisions() if "ix_auditlog_action" in Path(s.path).read_text())
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, adding.down_revision)
    assert not INDEXES & _indexes(db_engine)
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert current_revision(db_engine) == scripts.get_current_head()
    assert _indexes(db_engine) >= INDEXES

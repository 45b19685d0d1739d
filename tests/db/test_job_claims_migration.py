"""The job-claims migration goes up and down cleanly on both backends and keeps who a job runs as."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from db.migrate import alembic_config, current_revision


def _columns(engine: sa.Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def test_job_claims_upgrade_and_downgrade(db_engine):
    config = alembic_config(db_engine.url.render_as_string(hide_password=False))
    assert {"run_as_id", "run_as_cli", "worker", "attempts"} <= _columns(db_engine, "job")
    assert {"claimed_by", "claimed_at"} <= _columns(db_engine, "clip")
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004_sessions")
    assert "run_as_id" not in _columns(db_engine, "job") and "claimed_by" not in _columns(db_engine, "clip")
    with db_engine.begin() as connection:  # a job queued before the upgrade ...
        connection.execute(sa.text('INSERT INTO "user" (username, display_name, password_hash, roles, active, '
                                   "created_at) VALUES ('lead', '', '!', '[\"lead\"]', true, CURRENT_TIMESTAMP)"))
        connection.execute(sa.text("INSERT INTO job (kind, state, params, result, total, done, failed, message, log, "
                                   "cancel_requested, created_by_id, created_at) VALUES ('ingest', 'queued', '{}', "
                                   "'{}', 0, 0, 0, '', '', false, 1, CURRENT_TIMESTAMP)"))
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert current_revision(db_engine) != "0004_sessions"
    with db_engine.connect() as connection:  # ... runs as its creator afterwards
        assert connection.execute(sa.text("SELECT run_as_id, run_as_cli, attempts FROM job")).one() == (1, False, 0)

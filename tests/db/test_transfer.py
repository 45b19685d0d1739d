"""`cluelab db move-to`: an SQLite instance copied to a fresh PostgreSQL database, verified (issue 17)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from typer.testing import CliRunner

from cluelab.cli import app
from db.engine import get_engine, make_engine
from db.migrate import current_revision, upgrade_to_head
from db.models import AuditLog, ClipFeature, Consensus, Job, User
from db.transfer import TransferError, checksums, move_database, postgres_url
from tests.annotation.factories_consensus import (
    make_annotation,
    make_clip,
    make_dataset,
    make_prediction,
    make_user,
)
from tests.conftest import POSTGRES_ADMIN_URL

runner = CliRunner()
pytestmark = pytest.mark.postgres


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database (no schema), dropped afterwards."""
    if os.environ.get("CLUELAB_SKIP_POSTGRES") == "1":
        pytest.skip("CLUELAB_SKIP_POSTGRES=1")
    name = f"cluelab_move_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    # The plain form a person types; the move picks the driver.
    yield POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _small_instance() -> None:
    engine = get_engine()
    upgrade_to_head(engine)
    with Session(engine) as session:
        lead = make_user(session, "lena", "lead")
        annotators = [make_user(session, f"ann{n}", "annotator") for n in range(3)]
        dataset = make_dataset(session, "field", language="zh")
        for n in range(5):
            clip = make_clip(session, dataset, f"clip-{n}", video_path=f"media/field/clip-{n}/video.mp4",
                             transcript="我很生气 — ça va", transcript_words=[{"word": "我", "start": 0.0, "end": 0.25}],
                             duration=2.5 + n / 3)
            prediction = make_prediction(session, clip, {"facial": "皱眉"}, "angry")
            for user in annotators:
                make_annotation(session, clip, user, emotion="angry", clues={"facial": f"frown {n}"},
                                prediction_id=prediction.id)
            session.add(Consensus(clip_id=clip.id, emotion="angry", clues={"facial": "frown"},
                                  posterior={"angry": 0.9, "sad": 0.1}, accepted_by_id=lead.id))
            session.add(ClipFeature(clip_id=clip.id, extractor="scene", extractor_version="s1",
                                    data={"brightness": 0.1 * n, "nested": {"a": [1, 2.5, None]}}))
        session.add(Job(kind="ingest", params={"dataset_id": dataset.id}))
        session.add(AuditLog(user_id=lead.id, action="test.seed", entity="dataset", entity_id=dataset.id))
        gone = make_user(session, "gone")  # a gap in the middle of the ids, copied as it is
        make_user(session, "last", "researcher")
        session.delete(gone)
        session.commit()


def test_move_to_postgres_copies_every_row_verified_and_sequences_continue(fresh_postgres):
    _small_instance()
    source = get_engine()
    before = checksums(source)
    assert before["annotation"].rows == 15 and before["user"].rows == 5

    moved = runner.invoke(app, ["db", "move-to", fresh_postgres])
    assert moved.exit_code == 0, moved.output
    assert "verified" in moved.output

    target = make_engine(postgres_url(fresh_postgres))
    try:
        assert current_revision(target) == current_revision(source)
        after = checksums(target)
        assert {n: (c.rows, c.checksum) for n, c in after.items()} == \
               {n: (c.rows, c.checksum) for n, c in before.items()}
        with Session(target) as session:
            clip = session.exec(sa.select(sa.text("video_path, transcript FROM clip ORDER BY id"))).first()
            assert clip == ("media/field/clip-0/video.mp4", "我很生气 — ça va")  # media paths kept as they were
            newest = max(session.exec(select(User.id)).all())
            user = make_user(session, "new-after-move", "annotator")  # the sequence continues after the copy
            job = Job(kind="ingest", params={})
            session.add(job)
            session.commit()
            assert user.id == newest + 1 and job.id == 2
    finally:
        target.dispose()

    again = runner.invoke(app, ["db", "move-to", fresh_postgres])
    assert again.exit_code == 1 and "already holds rows" in again.output and "--force" in again.output
    forced = runner.invoke(app, ["db", "move-to", fresh_postgres, "--force"])
    assert forced.exit_code == 0, forced.output
    target = make_engine(postgres_url(fresh_postgres))
    try:
        assert checksums(target)["user"].checksum == before["user"].checksum  # the extra user was replaced
    finally:
        target.dispose()


def test_move_refuses_bad_or_unreachable_targets_in_one_line(fresh_postgres):
    for url, words in (("mysql://root@localhost/cluelab", "must be a PostgreSQL URL"),
                       ("not a url", "not a database URL"),
                       ("postgresql://postgres@127.0.0.1:1/cluelab", "cannot reach")):
        result = runner.invoke(app, ["db", "move-to", url])
        assert result.exit_code == 1, result.output
        assert words in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    itself = make_engine(postgres_url(fresh_postgres))
    try:
        with pytest.raises(TransferError, match="is the database being moved"):
            move_database(itself, fresh_postgres)
    finally:
        itself.dispose()


def test_a_row_postgres_refuses_stops_the_move_and_leaves_the_target_unchanged(fresh_postgres):
    _small_instance()
    with Session(get_engine()) as session:  # SQLite never enforced the column's length; PostgreSQL does
        dataset = make_dataset(session, "long")
        make_clip(session, dataset, "x" * 300)
        session.commit()
    result = runner.invoke(app, ["db", "move-to", fresh_postgres])
    assert result.exit_code == 1 and "left unchanged" in result.output and "too long" in result.output, result.output
    target = make_engine(postgres_url(fresh_postgres))
    try:
        assert all(check.rows == 0 for check in checksums(target).values())
    finally:
        target.dispose()

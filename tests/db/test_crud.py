"""Round trips of the core tables on SQLite and PostgreSQL, and optimistic locking."""

from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db.models import (
    Annotation,
    Clip,
    Consensus,
    Dataset,
    Job,
    ModelVersion,
    Prediction,
    User,
)
from db.queries.locking import StaleEdit, update_versioned


def _seed(session: Session) -> tuple[User, Clip]:
    user = User(username="ann", password_hash="x", roles=["annotator"])
    dataset = Dataset(name="ds", settings={"auto_accept_posterior": 0.9})
    session.add_all([user, dataset])
    session.flush()
    clip = Clip(dataset_id=dataset.id, name="c1", transcript="我很生气", peaks=[0.1, 1.0],
                transcript_words=[{"word": "我", "start": 0.0, "end": 0.2}])
    session.add(clip)
    session.flush()
    return user, clip


def test_round_trip_every_core_table(db_engine):
    with Session(db_engine) as session:
        user, clip = _seed(session)
        version = ModelVersion(backend="baseline", name="v1", metrics={"f1": 0.5})
        session.add(version)
        session.flush()
        session.add(Prediction(clip_id=clip.id, model_version_id=version.id, clues={"facial": "frown"},
                               emotion="angry", distribution={"angry": 0.7, "sad": 0.3}, uncertainty=0.4))
        session.add(Annotation(clip_id=clip.id, user_id=user.id, clues={"facial": "皱眉"}, emotion="angry", rating=3))
        session.add(Consensus(clip_id=clip.id, emotion="angry", source_annotation_ids=[1], posterior={"angry": 0.95}))
        session.add(Job(kind="ingest", params={"dataset_id": 1}))
        session.commit()
    with Session(db_engine) as session:
        clip = session.exec(select(Clip)).one()
        assert clip.transcript == "我很生气" and clip.peaks == [0.1, 1.0]
        assert clip.transcript_words[0]["word"] == "我"
        assert clip.created_at.tzinfo is not None and clip.created_at.utcoffset() == UTC.utcoffset(None)
        prediction = session.exec(select(Prediction)).one()
        assert prediction.distribution == {"angry": 0.7, "sad": 0.3}
        annotation = session.exec(select(Annotation)).one()
        assert annotation.clues == {"facial": "皱眉"} and annotation.version == 1
        assert session.exec(select(Consensus)).one().posterior == {"angry": 0.95}
        assert session.exec(select(Dataset)).one().settings == {"auto_accept_posterior": 0.9}
        assert session.exec(select(Job)).one().progress == 0.0


def test_unique_constraints(db_engine):
    with Session(db_engine) as session:
        user, clip = _seed(session)
        session.add(Clip(dataset_id=clip.dataset_id, name="c1"))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
    with Session(db_engine) as session:
        user, clip = _seed(session)
        session.add(Annotation(clip_id=clip.id, user_id=user.id))
        session.add(Annotation(clip_id=clip.id, user_id=user.id))
        with pytest.raises(IntegrityError):
            session.flush()


def test_foreign_keys_are_enforced(db_engine):
    with Session(db_engine) as session:
        session.add(Clip(dataset_id=999, name="orphan"))
        with pytest.raises(IntegrityError):
            session.flush()


def test_optimistic_lock_refuses_a_stale_write_and_keeps_both(db_engine):
    with Session(db_engine) as session:
        user, clip = _seed(session)
        annotation = Annotation(clip_id=clip.id, user_id=user.id, clues={"facial": "original"})
        session.add(annotation)
        session.commit()
        annotation_id = annotation.id

    # Two people read version 1; the first save wins, the second is refused with the winner's text.
    with Session(db_engine) as first:
        saved = update_versioned(first, Annotation, annotation_id, expected_version=1,
                                 changes={"clues": {"facial": "first edit"}})
        first.commit()
        assert saved.version == 2
    with Session(db_engine) as second:
        with pytest.raises(StaleEdit) as refused:
            update_versioned(second, Annotation, annotation_id, expected_version=1,
                             changes={"clues": {"facial": "second edit"}})
        assert refused.value.current.clues == {"facial": "first edit"}
        assert refused.value.current.version == 2
        assert "changed by someone else" in str(refused.value)
    with Session(db_engine) as check:
        assert check.get(Annotation, annotation_id).clues == {"facial": "first edit"}

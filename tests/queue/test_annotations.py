"""Drafts, submission checks and optimistic locking on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from annotation.labelling.annotate import (
    Adjudicated,
    AlreadyFinished,
    AnnotationInput,
    InvalidAnnotation,
    edit_submission,
    my_work,
    progress,
    save_draft,
    submit,
)
from annotation.labelling.queue import next_clip
from annotation.permissions import PermissionDenied
from core.vocabulary import ASPECTS
from db.models import Annotation, Consensus
from db.queries.locking import StaleEdit
from tests.queue.factories import make_dataset, make_users


def filled(**overrides) -> AnnotationInput:
    values = dict(clues={a.value: f"{a.value} evidence" for a in ASPECTS}, emotion="happy", rating=4)
    values.update(overrides)
    return AnnotationInput(**values)


def test_stale_edit_is_refused_and_carries_the_current_row(db_engine):
    dataset, _ = make_dataset(db_engine, clips=1, overlap=1)
    (ann,) = make_users(db_engine, ["ann"])
    with Session(db_engine) as session:
        clip = next_clip(session, user=ann, dataset_id=dataset.id)
        saved = submit(session, user=ann, clip_id=clip.id, values=filled())
        read_version = saved.version  # both tabs read this version
        first = edit_submission(session, user=ann, annotation_id=saved.id, expected_version=read_version,
                                values=filled(note="first tab"))
        with pytest.raises(StaleEdit) as refused:
            edit_submission(session, user=ann, annotation_id=saved.id, expected_version=read_version,
                            values=filled(note="second tab"))
        assert refused.value.current.note == "first tab" and refused.value.current.version == first.version
        assert "changed elsewhere" in str(refused.value)
        assert session.get(Annotation, saved.id).note == "first tab"


def test_draft_rules_validation_and_progress(db_engine):
    dataset, _ = make_dataset(db_engine, clips=2, overlap=1)
    ann, bob = make_users(db_engine, ["ann", "bob"])
    with Session(db_engine) as session:
        clip = next_clip(session, user=ann, dataset_id=dataset.id)
        draft = save_draft(session, user=ann, clip_id=clip.id, values=filled(rating=None), seconds_spent=5)
        assert draft.status == "draft" and draft.seconds_spent == 5
        with pytest.raises(InvalidAnnotation) as invalid:
            submit(session, user=ann, clip_id=clip.id, values=filled(rating=None, emotion="bored",
                                                                    clues={"facial": "x"}))
        assert len(invalid.value.problems) == 5  # three empty aspects, unknown emotion, no rating
        submit(session, user=ann, clip_id=clip.id, values=filled(), seconds_spent=12)
        with pytest.raises(AlreadyFinished):
            save_draft(session, user=ann, clip_id=clip.id, values=filled())
        with pytest.raises(PermissionDenied):
            edit_submission(session, user=bob, annotation_id=draft.id, expected_version=3, values=filled())
        assert [r.clip.id for r in my_work(session, user=bob)] == []
        stats = progress(session, user=ann, dataset_id=dataset.id)
        assert (stats.done_today, stats.remaining, stats.median_seconds) == (1, 1, 12)
        session.add(Consensus(clip_id=clip.id, emotion="happy"))
        session.commit()
        row = my_work(session, user=ann)[0]
        assert row.adjudicated and not row.editable
        with pytest.raises(Adjudicated):
            edit_submission(session, user=ann, annotation_id=row.annotation.id,
                            expected_version=row.annotation.version, values=filled())


def test_open_vocabulary_other_needs_text(db_engine):
    dataset, _ = make_dataset(db_engine, clips=1, overlap=1, open_vocabulary=True)
    (ann,) = make_users(db_engine, ["ann"])
    with Session(db_engine) as session:
        clip = next_clip(session, user=ann, dataset_id=dataset.id)
        with pytest.raises(InvalidAnnotation, match="Type the emotion"):
            submit(session, user=ann, clip_id=clip.id, values=filled(emotion="other"))
        saved = submit(session, user=ann, clip_id=clip.id, values=filled(emotion="other", emotion_other="nostalgic"))
        assert saved.emotion_other == "nostalgic"


def test_a_draft_diffs_against_the_prediction_it_was_shown_after_a_promotion(db_engine):
    """Promotion mid-annotation must not show deletions of text the annotator never saw."""
    from annotation.labelling.annotate import load_clip_task
    from db.models import ModelVersion, Prediction
    from db.queries import model_versions

    dataset, clips = make_dataset(db_engine, clips=1, overlap=1)
    (ann,) = make_users(db_engine, ["ann"])
    with Session(db_engine) as session:
        clip = next_clip(session, user=ann, dataset_id=dataset.id)
        shown = load_clip_task(session, user=ann, clip_id=clip.id).model_clues()
        save_draft(session, user=ann, clip_id=clip.id, values=filled(), seconds_spent=3)
        newer = ModelVersion(backend="baseline", name="v2", dataset_id=dataset.id)
        session.add(newer)
        session.flush()
        session.add(Prediction(clip_id=clip.id, model_version_id=newer.id, emotion="sad", clues={"facial": "new"},
                               distribution={"sad": 1.0}, uncertainty=0.0))
        model_versions.activate(session, version=newer, user=None)
        session.commit()
        task = load_clip_task(session, user=ann, clip_id=clip.id)
        assert task.model_clues() == shown
        assert task.prediction.model_version_id != newer.id

"""Taking back a submission (undo) and editing the latest submissions, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from annotation.labelling.annotate import (
    Adjudicated,
    AnnotationInput,
    LeaseLost,
    edit_submission,
    recent_submissions,
    skip,
    submit,
    undo_submit,
)
from annotation.labelling.queue import QueueError, next_clip
from annotation.permissions import PermissionDenied
from core.vocabulary import ASPECTS
from db.models import Annotation, Assignment, Consensus, Dataset
from db.queries.locking import StaleEdit
from tests.queue.factories import make_dataset, make_users


def filled(**overrides) -> AnnotationInput:
    values = dict(clues={a.value: f"{a.value} evidence" for a in ASPECTS}, emotion="happy", rating=4)
    values.update(overrides)
    return AnnotationInput(**values)


def test_undo_returns_the_submission_to_draft_and_the_clip_comes_back_first(db_engine):
    dataset, _ = make_dataset(db_engine, clips=3, overlap=1)
    ann, bob = make_users(db_engine, ["ann", "bob"])
    with Session(db_engine) as session:
        version_before = session.get(Dataset, dataset.id).queue_version
        first = next_clip(session, user=ann, dataset_id=dataset.id)
        submitted = submit(session, user=ann, clip_id=first.id, values=filled(note="mine"), seconds_spent=12)
        second = next_clip(session, user=ann, dataset_id=dataset.id)  # the page leases the next clip at once
        assert second.id != first.id
        submitted_id, submitted_version = submitted.id, submitted.version

        undone = undo_submit(session, user=ann, annotation_id=submitted.id)
        assert (undone.id, undone.status, undone.submitted_at) == (submitted_id, "draft", None)
        assert undone.version == submitted_version + 1
        assert (undone.note, undone.emotion, undone.seconds_spent) == ("mine", "happy", 12)
        assert session.get(Dataset, dataset.id).queue_version == version_before + 1
        assignment = session.exec(select(Assignment).where(Assignment.clip_id == first.id,
                                                           Assignment.user_id == ann.id)).one()
        assert assignment.state == "active" and assignment.expires_at is not None

        # The clip is shown again before the one leased after it; the slot is still ann's (overlap 1).
        assert next_clip(session, user=ann, dataset_id=dataset.id).id == first.id
        assert next_clip(session, user=bob, dataset_id=dataset.id).id not in (first.id, second.id)
        again = submit(session, user=ann, clip_id=first.id, values=filled(emotion="sad"))
        assert (again.id, again.status, again.emotion) == (submitted_id, "submitted", "sad")
        assert next_clip(session, user=ann, dataset_id=dataset.id).id == second.id
        assert len(session.exec(select(Annotation).where(Annotation.clip_id == first.id)).all()) == 1


def test_undo_is_refused_to_others_after_adjudication_and_for_non_submissions(db_engine):
    dataset, _ = make_dataset(db_engine, clips=3, overlap=2)
    ann, bob = make_users(db_engine, ["ann", "bob"])
    with Session(db_engine) as session:
        clip = next_clip(session, user=ann, dataset_id=dataset.id)
        submitted = submit(session, user=ann, clip_id=clip.id, values=filled())
        with pytest.raises(PermissionDenied, match="only your own"):
            undo_submit(session, user=bob, annotation_id=submitted.id)
        with pytest.raises(PermissionDenied):
            undo_submit(session, user=ann, annotation_id=10_000)

        skipped_clip = next_clip(session, user=ann, dataset_id=dataset.id)
        skipped = skip(session, user=ann, clip_id=skipped_clip.id, reason="cant_tell")
        with pytest.raises(QueueError, match="Only a submitted"):
            undo_submit(session, user=ann, annotation_id=skipped.id)

        session.add(Consensus(clip_id=clip.id, emotion="happy"))
        session.commit()
        with pytest.raises(Adjudicated, match="adjudicated"):
            undo_submit(session, user=ann, annotation_id=submitted.id)
        session.expire_all()
        assert session.get(Annotation, submitted.id).status == "submitted"
        (reviewer,) = make_users(db_engine, ["rita"], roles=["researcher"])
        with pytest.raises(PermissionDenied):
            undo_submit(session, user=reviewer, annotation_id=submitted.id)


def test_recent_submissions_are_the_users_own_newest_first_and_say_what_is_editable(db_engine):
    dataset, _ = make_dataset(db_engine, clips=4, overlap=2)
    ann, bob = make_users(db_engine, ["ann", "bob"])
    with Session(db_engine) as session:
        done = []
        for _ in range(2):
            clip = next_clip(session, user=ann, dataset_id=dataset.id)
            done.append(submit(session, user=ann, clip_id=clip.id, values=filled()))
        skip(session, user=ann, clip_id=next_clip(session, user=ann, dataset_id=dataset.id).id, reason="cant_tell")
        bob_clip = next_clip(session, user=bob, dataset_id=dataset.id)
        submit(session, user=bob, clip_id=bob_clip.id, values=filled())
        session.add(Consensus(clip_id=done[0].clip_id, emotion="happy"))
        session.commit()

        rows = recent_submissions(session, user=ann, dataset_id=dataset.id)
        assert [r.annotation.id for r in rows] == [done[1].id, done[0].id]  # no skip, nothing of bob's
        assert [r.editable for r in rows] == [True, False]
        assert recent_submissions(session, user=ann, dataset_id=dataset.id, limit=1)[0].annotation.id == done[1].id

        # Re-submitting from "previous clip" updates the same row, with the version it was read at.
        latest = rows[0].annotation
        latest_id, read_version = latest.id, latest.version
        saved = edit_submission(session, user=ann, annotation_id=latest.id, expected_version=latest.version,
                                values=filled(emotion="sad"))
        assert (saved.id, saved.emotion, saved.version) == (latest_id, "sad", read_version + 1)
        with pytest.raises(StaleEdit):
            edit_submission(session, user=ann, annotation_id=latest_id, expected_version=read_version,
                            values=filled(emotion="angry"))
        with pytest.raises(Adjudicated, match="adjudicated"):
            edit_submission(session, user=ann, annotation_id=done[0].id, expected_version=rows[1].annotation.version,
                            values=filled())


def test_undo_never_overfills_a_clip_whose_slot_was_given_away(db_engine):
    dataset, _ = make_dataset(db_engine, clips=1, overlap=1)
    ann, bob = make_users(db_engine, ["ann", "bob"])
    with Session(db_engine) as session:
        clip = next_clip(session, user=ann, dataset_id=dataset.id)
        submitted = submit(session, user=ann, clip_id=clip.id, values=filled())
        # A lead's change gave ann's slot back to the pool, and bob took it.
        mine = session.exec(select(Assignment).where(Assignment.user_id == ann.id)).one()
        mine.state = "released"
        session.add(mine)
        session.commit()
        assert next_clip(session, user=bob, dataset_id=dataset.id).id == clip.id
        with pytest.raises(LeaseLost, match="Previous clip"):
            undo_submit(session, user=ann, annotation_id=submitted.id)
        session.expire_all()
        assert session.get(Annotation, submitted.id).status == "submitted"

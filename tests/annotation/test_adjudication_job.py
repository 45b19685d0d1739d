"""Auto-acceptance as a job: progress per clip, decisions committed, the lead's role checked."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from annotation.jobs import enqueue, run_job_inline
from annotation.permissions import PermissionDenied
from cluelab.bootstrap import init_database
from core.vocabulary import JobState
from db.engine import get_engine
from db.models import Dataset, User
from db.queries.consensus import current_consensus
from tests.annotation.factories_consensus import (
    make_annotation,
    make_clip,
    make_dataset,
    make_user,
)


def _world() -> dict:
    init_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        lead = make_user(session, "lead", "lead")
        annotator = make_user(session, "ann0", "annotator")
        others = [annotator] + [make_user(session, f"ann{i}", "annotator") for i in (1, 2)]
        dataset = make_dataset(session, overlap=3)
        dataset.settings = {"auto_accept_posterior": 0.9}
        clear, split = make_clip(session, dataset, "clear"), make_clip(session, dataset, "split")
        for who, emotion in zip(others, ["happy", "sad", "angry"], strict=False):
            make_annotation(session, clear, who, emotion="happy", clues={"facial": "She smiles widely."})
            make_annotation(session, split, who, emotion=emotion, clues={"facial": "She smiles widely."})
        session.commit()
        return {"lead": lead, "annotator": annotator, "dataset": dataset.id, "clear": clear.id, "split": split.id}


def test_auto_accept_job_accepts_the_clear_clip_with_progress():
    world = _world()
    job_id = enqueue("auto-accept", params={"dataset_id": world["dataset"]}, user=world["lead"])
    row = run_job_inline(job_id)
    assert row.state == JobState.done.value, row.error
    assert (row.total, row.done) == (2, 2)
    assert row.result["accepted"] == [world["clear"]] and row.result["left_for_review"] == 1
    with Session(get_engine()) as session:
        assert current_consensus(session, clip_id=world["clear"]).auto_accepted
        assert current_consensus(session, clip_id=world["split"]) is None


def test_auto_accept_job_queued_by_an_annotator_is_refused():
    world = _world()
    with pytest.raises(PermissionDenied, match="needs the lead role"):
        enqueue("auto-accept", params={"dataset_id": world["dataset"]}, user=world["annotator"])
    with Session(get_engine()) as session:
        assert session.get(Dataset, world["dataset"]) is not None
        assert current_consensus(session, clip_id=world["clear"]) is None
        assert session.get(User, world["annotator"].id).roles == ["annotator"]

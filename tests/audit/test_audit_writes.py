"""Every change a lead, researcher or annotator makes leaves exactly one audit row, written in the change's own
unit of work: who (actor), what (action), which row (target) and the details. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from annotation import jobs
from annotation.formats.export_service import export_dataset
from annotation.labelling import queue
from annotation.labelling.annotate import AnnotationInput, edit_submission, skip, submit
from annotation.permissions import PermissionDenied, command_line_actor
from annotation.preference import answer
from annotation.studies import create_study, next_items_for, rate, set_study_status
from core.vocabulary import ASPECTS, JobState, StudyKind
from db.models import AuditLog, Dataset, Job
from tests.queue.factories import make_dataset, make_users
from tests.studies.factories import build_world


def filled(**overrides: Any) -> AnnotationInput:
    values = dict(clues={a.value: f"{a.value} evidence" for a in ASPECTS}, emotion="happy", rating=4)
    values.update(overrides)
    return AnnotationInput(**values)


def audit_rows(engine: Engine) -> list[AuditLog]:
    with Session(engine) as session:
        return list(session.exec(select(AuditLog).order_by(AuditLog.id)).all())


def one_new_row(engine: Engine, action: Callable[[], Any]) -> tuple[AuditLog, Any]:
    """Run `action`; exactly one audit row appears. Returns it and what the action returned."""
    before = {row.id for row in audit_rows(engine)}
    result = action()
    new = [row for row in audit_rows(engine) if row.id not in before]
    assert len(new) == 1, [(row.action, row.detail) for row in new]
    return new[0], result


def no_new_row(engine: Engine, action: Callable[[], Any], error: type[Exception]) -> None:
    before = len(audit_rows(engine))
    with pytest.raises(error):
        action()
    assert len(audit_rows(engine)) == before


def test_overlap_strategy_and_assignments_are_logged(db_engine):
    dataset, clips = make_dataset(db_engine, clips=3, overlap=1)
    (lead,) = make_users(db_engine, ["lead"], roles=["lead"])
    ann, bob = make_users(db_engine, ["ann", "bob"])
    with Session(db_engine, expire_on_commit=False) as session:
        row, _ = one_new_row(db_engine, lambda: queue.set_overlap(session, user=lead, dataset_id=dataset.id, overlap=2))
        assert (row.user_id, row.action, row.entity, row.entity_id) == (lead.id, "set_overlap", "dataset", dataset.id)
        assert row.detail == {"overlap": 2, "before": 1, "changed": 1}
        assert row.at is not None

        row, _ = one_new_row(db_engine, lambda: queue.set_overlap(session, user=lead, dataset_id=dataset.id, overlap=3,
                                                                   clip_ids=[clips[0].id]))
        assert row.detail == {"overlap": 3, "clip_ids": [clips[0].id], "changed": 1}

        row, _ = one_new_row(db_engine, lambda: queue.set_strategy(session, user=lead, dataset_id=dataset.id,
                                                                    strategy="random", lease_minutes=10,
                                                                    random_seed=7))
        assert (row.user_id, row.action, row.entity_id) == (lead.id, "set_queue_strategy", dataset.id)
        assert row.detail == {"strategy": "random", "lease_minutes": 10, "random_seed": 7,
                              "before": {"strategy": "uncertainty", "lease_minutes": 30, "random_seed": None}}

        row, result = one_new_row(db_engine, lambda: queue.assign_clips(
            session, user=lead, dataset_id=dataset.id, clip_ids=[c.id for c in clips[:2]],
            annotator_ids=[ann.id, bob.id]))
        assert (row.user_id, row.action, row.entity, row.entity_id) == (lead.id, "assign_clips", "dataset", dataset.id)
        assert row.detail == {"clip_ids": [clips[0].id, clips[1].id], "annotator_ids": [ann.id, bob.id],
                              "assigned": len(result.assigned), "full": len(result.full), "already": 0}

        # Refused or invalid changes leave no row.
        no_new_row(db_engine, lambda: queue.set_overlap(session, user=ann, dataset_id=dataset.id, overlap=2),
                   PermissionDenied)
        no_new_row(db_engine, lambda: queue.set_strategy(session, user=lead, dataset_id=dataset.id, strategy="nope"),
                   queue.QueueError)
        assert session.get(Dataset, dataset.id).strategy == "random"


def test_submit_skip_and_resubmit_are_logged(db_engine):
    dataset, _ = make_dataset(db_engine, clips=2, overlap=1)
    (ann,) = make_users(db_engine, ["ann"])
    with Session(db_engine, expire_on_commit=False) as session:
        clip = queue.next_clip(session, user=ann, dataset_id=dataset.id)
        row, saved = one_new_row(db_engine, lambda: submit(session, user=ann, clip_id=clip.id, values=filled()))
        assert (row.user_id, row.action, row.entity, row.entity_id) == (ann.id, "submit_annotation", "annotation",
                                                                        saved.id)
        assert row.detail == {"clip_id": clip.id, "emotion": "happy"}

        row, edited = one_new_row(db_engine, lambda: edit_submission(
            session, user=ann, annotation_id=saved.id, expected_version=saved.version,
            values=filled(emotion="sad", note="changed my mind")))
        assert (row.user_id, row.action, row.entity_id) == (ann.id, "edit_annotation", saved.id)
        assert row.detail == {"clip_id": clip.id, "version": edited.version, "changed": ["emotion", "note"]}

        other = queue.next_clip(session, user=ann, dataset_id=dataset.id)
        row, skipped = one_new_row(db_engine, lambda: skip(session, user=ann, clip_id=other.id, reason="other",
                                                           note="no face"))
        assert (row.user_id, row.action, row.entity, row.entity_id) == (ann.id, "skip_clip", "annotation", skipped.id)
        assert row.detail == {"clip_id": other.id, "reason": "other"}

        # A refused submission (already finished) leaves no row.
        no_new_row(db_engine, lambda: submit(session, user=ann, clip_id=clip.id, values=filled()), Exception)


def test_studies_created_closed_rated_and_answered_are_logged(db_engine):
    with Session(db_engine, expire_on_commit=False) as session:
        world = build_world(session)
        row, study = one_new_row(db_engine, lambda: create_study(
            session, user=world.researcher, dataset_id=world.dataset_id, name="Blind test", systems=world.systems,
            clip_count=2, seed=1))
        assert (row.user_id, row.action, row.entity, row.entity_id) == (world.researcher.id, "create_study", "study",
                                                                        study.id)
        assert row.detail == {"name": "Blind test", "kind": "rating", "dataset_id": world.dataset_id,
                              "systems": world.systems, "clip_count": 2, "raters": []}

        row, _ = one_new_row(db_engine, lambda: set_study_status(session, user=world.researcher, study_id=study.id,
                                                                  status="open"))
        assert (row.action, row.entity_id, row.detail) == ("set_study_status", study.id,
                                                           {"status": "open", "before": "draft"})

        rater = world.raters[0]
        item_id = next_items_for(session, user=rater, study_id=study.id).outputs[0].item_id
        row, _ = one_new_row(db_engine, lambda: rate(session, user=rater, item_id=item_id, rating=3, comment="ok"))
        assert (row.user_id, row.action, row.entity, row.entity_id) == (rater.id, "rate_study", "studyitem", item_id)
        assert row.detail == {"study_id": study.id, "rating": 3}

        row, _ = one_new_row(db_engine, lambda: set_study_status(session, user=world.lead, study_id=study.id,
                                                                  status="closed"))
        assert (row.user_id, row.action, row.detail) == (world.lead.id, "set_study_status",
                                                         {"status": "closed", "before": "open"})
        # A closed study refuses ratings, and logs nothing.
        no_new_row(db_engine, lambda: rate(session, user=rater, item_id=item_id, rating=2), Exception)

        preference = create_study(session, user=world.lead, dataset_id=world.dataset_id, name="Pairs",
                                  systems=world.systems[:2], clip_count=2, seed=2, kind=StudyKind.preference.value)
        set_study_status(session, user=world.lead, study_id=preference.id, status="open")
        row, _ = one_new_row(db_engine, lambda: answer(session, user=rater, study_id=preference.id, rank=0,
                                                       choice="A"))
        assert (row.user_id, row.action, row.entity, row.entity_id) == (rater.id, "answer_preference", "study",
                                                                        preference.id)
        assert row.detail == {"rank": 0, "choice": "A", "repeat": False}


def test_exports_are_logged_with_the_cli_named(db_engine, tmp_path: Path):
    with Session(db_engine, expire_on_commit=False) as session:
        world = build_world(session)
        dataset = session.get(Dataset, world.dataset_id)
        row, files = one_new_row(db_engine, lambda: export_dataset(
            session, dataset=dataset, source="consensus", format="consensus-csv", path=tmp_path / "c.csv",
            user=world.researcher))
        assert files and files[0].exists()
        assert (row.user_id, row.action, row.entity, row.entity_id) == (world.researcher.id, "export", "dataset",
                                                                        dataset.id)
        assert row.detail == {"source": "consensus", "format": "consensus-csv", "split": "all", "rows": 8}

        row, _ = one_new_row(db_engine, lambda: export_dataset(
            session, dataset=dataset, source="reference:emer-gt", format="emer-v1", path=tmp_path / "e.csv",
            user=command_line_actor(), split="test"))
        assert (row.user_id, row.action) == (None, "export")
        assert row.detail == {"source": "reference:emer-gt", "format": "emer-v1", "split": "test", "rows": 0,
                              "actor": "cli"}

        no_new_row(db_engine, lambda: export_dataset(session, dataset=dataset, source="consensus",
                                                     format="consensus-csv", path=tmp_path / "x.csv",
                                                     user=world.raters[0]), PermissionDenied)
        assert not (tmp_path / "x.csv").exists()


def test_job_cancel_and_retry_are_logged(db_engine):
    (lead,) = make_users(db_engine, ["lead"], roles=["lead"])
    with Session(db_engine, expire_on_commit=False) as session:
        queued = Job(kind="ingest", params={"dataset_id": 1}, created_by_id=lead.id, run_as_id=lead.id)
        failed = Job(kind="ingest", params={"dataset_id": 1}, created_by_id=lead.id, run_as_id=lead.id,
                     state=JobState.failed.value, error="boom")
        session.add_all([queued, failed])
        session.commit()
        row, _ = one_new_row(db_engine, lambda: jobs.cancel(session, job_id=queued.id, actor=lead))
        assert (row.user_id, row.action, row.entity, row.entity_id) == (lead.id, "cancel_job", "job", queued.id)
        assert row.detail == {"kind": "ingest", "state": "queued"}
        # `retry` is this unit of work and then a hand-off to the worker.
        row, _ = one_new_row(db_engine, lambda: jobs._queue_again(session, job_id=failed.id, actor=lead))
        assert (row.user_id, row.action, row.entity, row.entity_id) == (lead.id, "retry_job", "job", failed.id)
        assert row.detail == {"kind": "ingest", "before": {"run_as_id": lead.id, "run_as_cli": False}}

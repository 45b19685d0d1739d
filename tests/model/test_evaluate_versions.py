"""Every model version is scored on the same held-out clips, even one promoted after consensus existed.

Promotion re-predicts unlabelled clips; the held-out clips have consensus, so a retrained version used to
have no prediction on them and the Evaluate page showed it with 0 clips and no scores.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session

from annotation.datasets import is_held_out
from annotation.formats.evaluate import evaluate_sources
from annotation.jobs import enqueue, run_job_inline
from db.queries import predictions as prediction_queries
from model.inference import predict_dataset
from model.jobs import EVALUATE_MODELS_KIND, promote_and_repredict
from model.training import train_version
from tests.model.conftest import add_labelled_clips

BOTH = pytest.mark.parametrize("app_db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                               indirect=True)


def _held_out(app_db, dataset_id: int) -> set[str]:
    from sqlmodel import select

    from db.models import Clip

    with Session(app_db) as session:
        names = session.exec(select(Clip.name).where(Clip.dataset_id == dataset_id)).all()
    return {n for n in names if is_held_out(n)}


@BOTH
def test_promotion_repredicts_the_held_out_clips_so_the_new_version_scores(app_db, dataset, lead):
    add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=60)
    held = _held_out(app_db, dataset.id)
    assert len(held) >= 6
    baseline = predict_dataset(dataset_id=dataset.id)["model_version_id"]
    version = train_version(dataset_id=dataset.id, user=lead)
    job_id = promote_and_repredict(version_id=version.id, user=lead, confirm=True)["repredict_job_id"]
    assert run_job_inline(job_id).state == "done"

    with Session(app_db) as session:
        table = evaluate_sources(session, dataset_id=dataset.id, reference="consensus",
                                 systems=[f"model:{baseline}", f"model:{version.id}"], split="held-out")
    rows = table.set_index("system")
    assert rows.loc[f"model:{version.id}", "clips"] == len(held)
    assert rows.loc[f"model:{baseline}", "clips"] == len(held)  # the same clips for both versions
    assert rows.loc[f"model:{version.id}", "weighted_f1"] == pytest.approx(
        rows.loc[f"model:{version.id}", "weighted_f1"])  # a number, not None/NaN
    assert rows.loc[f"model:{version.id}", "weighted_f1"] > 0.5


@BOTH
def test_evaluating_versions_predicts_their_missing_held_out_clips_first(app_db, dataset, lead):
    add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=60)
    held = _held_out(app_db, dataset.id)
    version = train_version(dataset_id=dataset.id, user=lead)  # trained, never used to predict
    with Session(app_db) as session:
        assert not prediction_queries.predicted_clip_ids(session, version_id=version.id)

    job = run_job_inline(enqueue(EVALUATE_MODELS_KIND, user=lead, params={
        "dataset_id": dataset.id, "reference": "consensus", "systems": [f"model:{version.id}", "annotations"],
        "split": "held-out"}))
    assert job.state == "done", job.error
    row = next(r for r in job.result["table"] if r["system"] == f"model:{version.id}")
    assert row["clips"] == len(held)
    assert row["weighted_f1"] is not None and row["weighted_f1"] > 0.5
    assert job.result["predicted"] == {f"model:{version.id}": len(held)}

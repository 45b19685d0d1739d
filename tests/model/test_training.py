"""Retraining on consensus: a learnable signal lifts held-out F1 above the untrained model."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from annotation.permissions import PermissionDenied
from db.queries import model_versions as q
from db.queries import predictions as prediction_queries
from model.baseline.backend import EXTRACTOR_VERSIONS
from model.training import build_snapshot, is_held_out, promote, train_version
from tests.model.conftest import add_labelled_clips


def test_held_out_split_is_deterministic_and_near_the_fraction():
    names = [f"clip-{i}" for i in range(2000)]
    first = [is_held_out(n) for n in names]
    assert first == [is_held_out(n) for n in names]
    assert 0.17 < sum(first) / len(names) < 0.23


def test_snapshot_freezes_consensus_with_a_stable_hash(app_db, dataset):
    add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=12)
    with Session(app_db) as session:
        one = build_snapshot(session, dataset_id=dataset.id, versions=EXTRACTOR_VERSIONS)
        two = build_snapshot(session, dataset_id=dataset.id, versions=EXTRACTOR_VERSIONS)
    assert one.content_hash == two.content_hash
    assert len(one.train) + len(one.held_out) == 12
    assert not {i.clip_id for i in one.train} & {i.clip_id for i in one.held_out}


def test_training_lifts_held_out_f1_and_more_labels_do_not_hurt(app_db, dataset, lead):
    add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=60)
    first = train_version(dataset_id=dataset.id, user=lead)
    held = first.metrics["held_out"]
    before = first.metrics["parent_held_out"]
    assert first.metrics["held_out_size"] >= 6
    assert held["weighted_f1"] >= before["weighted_f1"] + 0.3, (held, before)
    assert held["weighted_f1"] >= 0.7
    assert set(held) >= {"accuracy", "weighted_f1", "uar", "war", "per_class_f1", "confusion", "clue_similarity"}
    # The team's scene phrasing is learned: clue similarity to consensus rises.
    assert held["clue_similarity"]["scene"] > before["clue_similarity"]["scene"] + 0.1

    add_labelled_clips(app_db, dataset_id=dataset.id, start=60, count=60)
    second = train_version(dataset_id=dataset.id, user=lead)
    assert second.parent_id is not None
    assert second.snapshot["content_hash"] != first.snapshot["content_hash"]
    assert not set(second.snapshot["train_clip_ids"]) & set(second.snapshot["held_out_clip_ids"])
    assert second.metrics["held_out"]["weighted_f1"] >= held["weighted_f1"] - 0.05


def test_only_leads_promote_and_promotion_keeps_old_versions(app_db, dataset, lead, annotator):
    add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=24)
    version = train_version(dataset_id=dataset.id, user=lead)
    with pytest.raises(PermissionDenied):
        promote(version_id=version.id, user=annotator, repredict=False)
    with pytest.raises(PermissionDenied):
        train_version(dataset_id=dataset.id, user=annotator)
    promote(version_id=version.id, user=lead, repredict=False)
    with Session(app_db) as session:
        versions = q.list_versions(session, dataset_id=dataset.id)
        assert [v.is_active for v in versions] == [False, True]
        assert q.active_version(session, dataset_id=dataset.id).id == version.id


def test_evaluate_measures_held_out_and_how_much_annotators_edited_the_clues(app_db, dataset, lead, annotator):
    from db.models import Annotation
    from model.inference import predict_dataset
    from model.training import evaluate_version

    ids = add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=20)
    result = predict_dataset(dataset_id=dataset.id, clip_ids=ids[:2])
    with Session(app_db, expire_on_commit=False) as session:
        for n, clip_id in enumerate(ids[:2]):
            prediction = prediction_queries.prediction_for_clip(session, clip_id=clip_id, version_id=result["model_version_id"])
            clues = dict(prediction.clues)
            if n == 0:
                clues["scene"] = "A bright room."  # rewritten
            session.add(Annotation(clip_id=clip_id, user_id=annotator.id, prediction_id=prediction.id, clues=clues,
                                   emotion="happy", status="submitted"))
        session.commit()
    metrics = evaluate_version(version_id=result["model_version_id"], user=lead)
    edits = metrics["annotator_edit_distance"]
    assert edits["facial"] == 0.0 and 0.4 < edits["scene"] <= 0.5  # one of two scene clues rewritten
    assert metrics["evaluation"]["n"] >= 1 and "weighted_f1" in metrics["evaluation"]
    with Session(app_db) as session:
        stored = q.get_version(session, version_id=result["model_version_id"]).metrics
        assert stored["annotator_edit_distance"] == edits


def test_training_is_refused_without_enough_labels_and_says_why(app_db, dataset, lead):
    from model.training import NotEnoughLabels, training_readiness

    assert "no consensus labels" in training_readiness(dataset_id=dataset.id)
    with pytest.raises(NotEnoughLabels, match="no consensus labels"):
        train_version(dataset_id=dataset.id, user=lead)
    with Session(app_db) as session:
        assert len(q.list_versions(session, dataset_id=dataset.id)) <= 1  # at most the untrained start


def test_label_counts_need_two_classes_with_the_minimum():
    from model.training import label_counts_problem

    assert "happy 5" in label_counts_problem(["happy"] * 5 + ["sad"], minimum=2)
    assert label_counts_problem(["happy"] * 2 + ["sad"] * 2, minimum=2) is None


def test_promoting_a_version_no_better_than_the_active_one_needs_confirmation(app_db, dataset, lead):
    from db.models import ModelVersion
    from model.training import PromotionNotBetter

    confusion = {"labels": ["happy", "sad"], "matrix": [[4, 1], [1, 4]]}
    with Session(app_db, expire_on_commit=False) as session:
        active = q.create_version(session, backend="baseline", name="v-active", dataset_id=dataset.id, is_active=True)
        worse = q.create_version(session, backend="baseline", name="v-worse", dataset_id=dataset.id,
                                 parent_id=active.id, metrics={
                                     "held_out": {"n": 10, "weighted_f1": 0.5, "confusion": confusion},
                                     "parent_held_out": {"n": 10, "weighted_f1": 0.8, "confusion": confusion}})
        session.commit()
    with pytest.raises(PromotionNotBetter) as refused:
        promote(version_id=worse.id, user=lead, repredict=False)
    comparison = refused.value.comparison
    assert comparison["n"] == 10 and comparison["candidate"]["low"] <= comparison["candidate"]["high"]
    assert "not better" in str(refused.value)
    with Session(app_db) as session:
        assert q.active_version(session, dataset_id=dataset.id).id == active.id
    promote(version_id=worse.id, user=lead, repredict=False, confirm=True)
    with Session(app_db) as session:
        assert q.active_version(session, dataset_id=dataset.id).id == worse.id
        assert session.get(ModelVersion, active.id).is_active is False

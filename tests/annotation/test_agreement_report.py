"""The dashboard's tables from database rows: figures equal the reference libraries, filters apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from sqlmodel import Session

from annotation.agreement.report import build_report
from db.models import Consensus
from tests.annotation.factories_consensus import (
    make_annotation,
    make_clip,
    make_dataset,
    make_prediction,
    make_user,
)

LABELS = ["neutral", "angry", "happy", "sad", "worried", "surprise"]
SCENES = ["A busy open-plan office.", "A quiet beach at night.", "A crowded train station platform."]
START = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.fixture
def report_world(db_engine):
    rng = np.random.default_rng(5)
    with Session(db_engine) as session:
        users = [make_user(session, f"ann{i}", "annotator") for i in range(4)]
        dataset = make_dataset(session)
        emotions = np.full((4, 30), np.nan)
        ratings = np.full((4, 30), np.nan)
        for c in range(30):
            clip = make_clip(session, dataset, f"c{c}")
            truth = int(rng.integers(0, 6))
            scene = SCENES[c % len(SCENES)]
            make_prediction(session, clip, {"facial": "He smiles.", "scene": scene}, emotion=LABELS[truth])
            for u, user in enumerate(users):
                if (c + u) % 5 == 0:
                    continue  # missing ratings
                label = truth if rng.random() < 0.7 else int(rng.integers(0, 6))
                rating = int(rng.integers(1, 5))
                emotions[u, c], ratings[u, c] = label, rating
                make_annotation(
                    session, clip, user, emotion=LABELS[label], rating=rating,
                    clues={"facial": "He smiles widely." if label == truth else "He looks away.", "scene": scene},
                    seconds_spent=30.0 + u, submitted_at=START + timedelta(days=c // 3),
                )
            session.add(Consensus(clip_id=clip.id, emotion=LABELS[truth], clues={"facial": "The person smiles."},
                                  source_annotation_ids=[]))
        skipper = make_clip(session, dataset, "skipped")
        make_annotation(session, skipper, users[0], emotion=None, rating=None, status="skipped", skip_reason="no face")
        session.commit()
        return {"dataset": dataset.id, "users": [u.id for u in users], "emotions": emotions, "ratings": ratings}


def test_report_figures_equal_reference_libraries(db_engine, report_world):
    with Session(db_engine) as session:
        report = build_report(session, dataset_id=report_world["dataset"], resamples=200)
    figures = report.figures.set_index(["scope", "metric"])
    emotions, ratings = report_world["emotions"], report_world["ratings"]
    assert figures.loc[("emotion", "Krippendorff's α (nominal)"), "value"] == pytest.approx(
        krippendorff.alpha(emotions, value_domain=range(6), level_of_measurement="nominal"), abs=1e-9)
    assert figures.loc[("rating", "Krippendorff's α (ordinal)"), "value"] == pytest.approx(
        krippendorff.alpha(ratings, value_domain=[1, 2, 3, 4], level_of_measurement="ordinal"), abs=1e-9)
    pairs = []
    for a in range(4):
        for b in range(a + 1, 4):
            both = ~np.isnan(ratings[a]) & ~np.isnan(ratings[b])
            pairs.append(cohen_kappa_score(ratings[a, both], ratings[b, both], labels=[1, 2, 3, 4], weights="quadratic"))
    assert figures.loc[("rating", "mean pairwise quadratic-weighted κ"), "value"] == pytest.approx(np.mean(pairs), abs=1e-9)
    assert (figures["ci_low"] <= figures["value"]).all() and (figures["value"] <= figures["ci_high"]).all()
    assert (figures["n_raters"] == 4).all() and (figures["n_clips"] == 30).all()
    assert set(report.pairwise["scope"]) == {"emotion", "rating"}
    assert len(report.pairwise) == 2 * 4 * 3


def test_report_per_annotator_clues_and_model(db_engine, report_world):
    with Session(db_engine) as session:
        report = build_report(session, dataset_id=report_world["dataset"], resamples=100)
    ann0 = report.annotators.set_index("annotator").loc["ann0"]
    assert ann0["skipped"] == 1 and ann0["skip_rate"] == pytest.approx(1 / (ann0["submitted"] + 1))
    assert ann0["median_seconds"] == 30.0
    assert 0 < ann0["agreement_with_consensus"] <= 1 and 0 < ann0["dawid_skene_accuracy"] <= 1
    assert report.confusion["count"].sum() == report.annotators["compared_with_consensus"].sum()
    assert set(report.drift["annotator"]) == {"ann0", "ann1", "ann2", "ann3"}
    assert report.ratings["count"].sum() == np.isfinite(report_world["ratings"]).sum()
    clues = report.clues.set_index("aspect")
    assert clues.loc["scene", "raw"] == pytest.approx(1.0, abs=1e-5)  # everyone wrote the clip's scene clue
    assert clues.loc["scene", "effort"] == 0.0
    assert clues.loc["facial", "corrected"] < clues.loc["scene", "corrected"]
    model = report.model.set_index("metric")
    assert model.loc["emotion accuracy vs consensus", "value"] == 1.0  # the model predicted the truth here


def test_report_filters_by_annotator_and_date(db_engine, report_world):
    with Session(db_engine) as session:
        two = build_report(session, dataset_id=report_world["dataset"], user_ids=report_world["users"][:2], resamples=50)
        early = build_report(session, dataset_id=report_world["dataset"], until=START + timedelta(days=3), resamples=50)
        empty = build_report(session, dataset_id=report_world["dataset"], since=START + timedelta(days=365), resamples=50)
    assert set(two.annotators["annotator"]) == {"ann0", "ann1"}
    assert (two.figures["n_raters"] == 2).all()
    assert early.figures["n_clips"].max() == 9  # days 0, 1, 2: three clips a day
    assert empty.figures.empty and empty.n_annotations == 0


def test_clue_agreement_on_a_sample_of_clips_says_so(db_engine, report_world):
    with Session(db_engine) as session:
        report = build_report(session, dataset_id=report_world["dataset"], resamples=50, max_clue_clips=12)
    assert (report.clues["n_clips"].dropna() <= 12).all() and (report.clues["effort_n_clips"] <= 12).all()
    assert set(report.clues["aspect"]) == {"facial", "scene"}  # nobody wrote vocal or verbal clues
    assert any("random sample of 12 of 30 clips" in note for note in report.notes)

"""Study results: means and bootstrap CIs, agreement and tests, checked against hand computation and scipy."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from annotation.studies import blind_clip, create_study, rate, results, set_study_status
from db.queries.studies import study_items, study_ratings

# Ratings by system (model, consensus, reference) for rater r on clip c: hand-made, the reference clearly best.
RATINGS = {
    "model": [[1, 2, 1, 2, 1, 2, 2, 1], [2, 1, 1, 2, 2, 1, 1, 1], [1, 1, 2, 2, 1, 2, 1, 2]],
    "consensus": [[3, 2, 3, 2, 3, 3, 2, 2], [2, 3, 3, 3, 2, 2, 2, 3], [3, 2, 2, 3, 3, 2, 3, 2]],
    "reference": [[4, 4, 4, 3, 4, 4, 4, 4], [4, 4, 3, 4, 4, 4, 4, 3], [4, 3, 4, 4, 4, 4, 4, 4]],
}


@pytest.fixture
def rated(session, world):
    study = create_study(session, user=world.researcher, dataset_id=world.dataset_id, name="s",
                         systems=world.systems, clip_count=8, seed=2)
    set_study_status(session, user=world.researcher, study_id=study.id, status="open")
    items = study_items(session, study_id=study.id)
    clips = sorted({i.clip_id for i in items})
    short = dict(zip(world.systems, RATINGS, strict=False))
    for item in items:
        for r, rater in enumerate(world.raters):
            rate(session, user=rater, item_id=item.id, rating=RATINGS[short[item.system]][r][clips.index(item.clip_id)])
    session.commit()
    return study, world, short


def _by_system(world):
    return {system: np.array(RATINGS[name], dtype=float) for system, name in zip(world.systems, RATINGS, strict=False)}


def test_means_and_bootstrap_intervals_equal_hand_computation(session, rated):
    study, world, _ = rated
    out = results(session, study_id=study.id, resamples=500, seed=9).systems.set_index("system")
    drawn = np.random.default_rng(9).integers(0, 8, size=(500, 8))  # clips, sorted by id, with replacement
    for system, grid in _by_system(world).items():  # grid: raters x clips
        assert out.loc[system, "mean"] == pytest.approx(grid.mean(), abs=1e-12)
        assert out.loc[system, "n_ratings"] == 24 and out.loc[system, "n_clips"] == 8
        assert out.loc[system, "share_3_4"] == pytest.approx((grid >= 3).mean())
        replicates = [grid[:, row].mean() for row in drawn]
        assert out.loc[system, "ci_low"] == pytest.approx(np.percentile(replicates, 2.5), abs=1e-12)
        assert out.loc[system, "ci_high"] == pytest.approx(np.percentile(replicates, 97.5), abs=1e-12)
        assert out.loc[system, "ci_low"] <= out.loc[system, "mean"] <= out.loc[system, "ci_high"]


def test_tests_equal_scipy_and_the_better_system_is_significant(session, rated):
    study, world, _ = rated
    out = results(session, study_id=study.id, resamples=200)
    grids = _by_system(world)
    matrix = pd.DataFrame({system: grid.mean(axis=0) for system, grid in grids.items()})
    friedman = stats.friedmanchisquare(*(matrix[s] for s in world.systems))
    assert out.friedman["p"] == pytest.approx(friedman.pvalue, rel=1e-12)
    assert out.friedman["statistic"] == pytest.approx(friedman.statistic, rel=1e-12)
    assert out.friedman["p"] < 0.01

    pairs = out.pairwise.set_index(["a", "b"])
    raw = []
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        sa, sb = world.systems[a], world.systems[b]
        expected = stats.wilcoxon(matrix[sa], matrix[sb]).pvalue
        assert pairs.loc[(sa, sb), "p"] == pytest.approx(expected, rel=1e-12)
        raw.append(expected)
    # Holm by hand: sort, multiply by the number left, keep it monotone, cap at 1.
    order = np.argsort(raw)
    holm = np.empty(3)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, raw[index] * (3 - rank)))
        holm[index] = running
    assert pairs["p_holm"].to_numpy() == pytest.approx(holm, rel=1e-12)
    reference_vs_model = pairs.loc[(world.systems[0], world.systems[2])]
    assert reference_vs_model["significant"] and reference_vs_model["mean_difference"] < -1.5


def test_rater_agreement_is_ordinal_alpha(session, rated):
    study, world, short = rated
    out = results(session, study_id=study.id, resamples=200)
    items = study_items(session, study_id=study.id)
    clips = sorted({i.clip_id for i in items})
    data = np.array([[RATINGS[short[i.system]][r][clips.index(i.clip_id)] for i in sorted(items, key=lambda i: i.id)]
                     for r in range(3)], dtype=float)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=[1, 2, 3, 4])
    assert out.agreement.value == pytest.approx(expected, abs=1e-9)
    assert out.agreement.n_raters == 3


def test_results_of_an_unrated_or_two_system_study_say_so(session, world):
    study = create_study(session, user=world.researcher, dataset_id=world.dataset_id, name="s",
                         systems=world.systems[:2], clip_count=3, seed=2)
    out = results(session, study_id=study.id)
    assert out.systems["n_ratings"].tolist() == [0, 0]
    assert out.agreement is None and out.agreement_note == "no ratings yet"
    assert out.friedman is None
    assert out.pairwise["p"].tolist() == [1.0]


def test_mean_by_display_position_matches_what_raters_saw(session, rated):
    study, world, _ = rated
    rate(session, user=world.raters[0], item_id=study_items(session, study_id=study.id)[0].id, rating=2,
         comment="misses the voice")
    session.commit()
    seen: dict[str, list[int]] = {}
    ratings = {(r.rater_id, r.study_item_id): r.rating for r, _ in study_ratings(session, study_id=study.id)}
    for rater in world.raters:
        for clip_id in {i.clip_id for i in study_items(session, study_id=study.id)}:
            for output in blind_clip(session, user=rater, study_id=study.id, clip_id=clip_id).outputs:
                seen.setdefault(output.label, []).append(ratings[(rater.id, output.item_id)])
    out = results(session, study_id=study.id, resamples=50)
    table = out.by_position.set_index("position")
    for label, values in seen.items():
        assert table.loc[label, "mean"] == pytest.approx(np.mean(values), abs=1e-12)
        assert table.loc[label, "n_ratings"] == len(values) == 24
    assert out.comments.to_dict("records") == [{"clip_id": study_items(session, study_id=study.id)[0].clip_id,
                                                "system": study_items(session, study_id=study.id)[0].system,
                                                "rating": 2, "comment": "misses the voice"}]


def test_identical_ratings_give_no_evidence_rather_than_an_error(session, world):
    study = create_study(session, user=world.researcher, dataset_id=world.dataset_id, name="s",
                         systems=world.systems, clip_count=4, seed=2)
    set_study_status(session, user=world.researcher, study_id=study.id, status="open")
    for item in study_items(session, study_id=study.id):
        for rater in world.raters[:2]:
            rate(session, user=rater, item_id=item.id, rating=3)
    out = results(session, study_id=study.id, resamples=50)
    assert out.friedman["p"] == 1.0 and out.pairwise["p"].tolist() == [1.0, 1.0, 1.0]
    assert out.systems["mean"].tolist() == [3.0, 3.0, 3.0]
    assert out.systems["ci_low"].tolist() == [3.0, 3.0, 3.0]
    assert out.agreement is None and "same value" in out.agreement_note

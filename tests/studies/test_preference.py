"""Preference studies: blind pairs, counterbalanced sides, swapped repeats, Bradley–Terry, exports."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from annotation.permissions import PermissionDenied
from annotation.preference import (
    answer,
    bradley_terry,
    comparison_matrix,
    dpo_jsonl,
    mer_prefer_csv,
    next_pair_for,
    pair_verdicts,
    preference_results,
)
from annotation.studies import StudyError, create_study, rate, set_study_status


def make_study(session, world, *, systems=None, clips=4, share=0.25):
    study = create_study(session, user=world.researcher, dataset_id=world.dataset_id, name="Which is better?",
                         systems=systems or world.systems[:2], clip_count=clips, seed=5, kind="preference",
                         repeat_share=share)
    set_study_status(session, user=world.researcher, study_id=study.id, status="open")
    return study


def answer_all(session, study, rater, prefer):
    """Answer every pair: `prefer(a_text, b_text) -> 'A' | 'B' | 'same'`."""
    shown = []
    while (pair := next_pair_for(session, user=rater, study_id=study.id)) is not None:
        shown.append(pair)
        answer(session, user=rater, study_id=study.id, rank=pair.rank, choice=prefer(pair.a.text, pair.b.text))
    return shown


MODEL_TEXT = "the corners of the mouth rise"  # the model's clue, in the paragraph raters read


def model_wins(a_text: str, b_text: str) -> str:
    return "A" if MODEL_TEXT in a_text else "B"


def test_bradley_terry_by_hand():
    # A beats B 3 times, B beats A once, one "same" counts half each: 3.5 vs 1.5 wins.
    first, second = np.array([0, 0, 0, 0, 0]), np.array([1, 1, 1, 1, 1])
    outcome = np.array([0, 0, 0, 1, 2])
    comparisons = comparison_matrix(first, second, outcome, 2)
    assert comparisons.tolist() == [[0, 3.5], [1.5, 0]]
    strength, regularised = bradley_terry(comparisons)
    # ML: P(A beats B) = 3.5/5 -> θA − θB = ln(3.5/1.5), split around 0.
    assert strength[0] - strength[1] == pytest.approx(np.log(3.5 / 1.5), abs=1e-6)
    assert strength.sum() == pytest.approx(0) and not regularised
    _, regularised = bradley_terry(np.array([[0, 3.0], [0, 0]]))  # B never wins: no ML estimate
    assert regularised


def test_sides_are_counterbalanced_and_a_share_comes_back_swapped(session, world):
    study = make_study(session, world, systems=world.systems, clips=4, share=0.25)
    rater = world.raters[0]
    shown = answer_all(session, study, rater, lambda a, b: "same")
    pairs = 4 * 3  # 4 clips x 3 system pairs
    assert len(shown) == pairs + 3  # a quarter of 12 pairs again
    results = preference_results(session, study_id=study.id, resamples=50)
    first = results.answers[results.answers["repeat"] == 0]
    assert len(first) == pairs and len(results.answers) == pairs + 3
    with_first_on_a = Counter(bool(x) for x in _shown_first(session, study.id, rater.id, repeat=0))
    assert abs(with_first_on_a[True] - with_first_on_a[False]) <= 1
    # Every repeat shows the pair with the sides the other way round.
    assert _swapped(session, study.id, rater.id)
    assert results.consistency.set_index("rater_id").loc[rater.id, "share"] == 1.0


def _shown_first(session, study_id, rater_id, repeat):
    from db.queries.studies import study_answers

    return [a.shown_first for a in study_answers(session, study_id=study_id) if a.rater_id == rater_id
            and a.repeat == repeat]


def _swapped(session, study_id, rater_id):
    from db.queries.studies import study_answers

    rows = [a for a in study_answers(session, study_id=study_id) if a.rater_id == rater_id]
    firsts = {(a.first_item_id, a.second_item_id): a.shown_first for a in rows if a.repeat == 0}
    return all(firsts[(a.first_item_id, a.second_item_id)] != a.shown_first for a in rows if a.repeat == 1)


def test_results_rank_the_preferred_system_with_intervals_agreement_and_consistency(session, world):
    study = make_study(session, world, clips=6, share=0.5)
    model, consensus = world.systems[:2]
    for rater in world.raters[:2]:
        answer_all(session, study, rater, model_wins)
    # The third rater prefers the model on all but one clip, and answers a repeat the other way.
    flips = iter(["B"] + ["A"] * 20)
    answer_all(session, study, world.raters[2], lambda a, b: model_wins(a, b) if next(flips) == "A" else
               ("B" if model_wins(a, b) == "A" else "A"))
    results = preference_results(session, study_id=study.id, resamples=200, seed=1)
    table = results.strengths.set_index("system")
    assert table.loc[model, "strength"] > 0 > table.loc[consensus, "strength"]
    assert table.loc[model, "ci_low"] <= table.loc[model, "strength"] <= table.loc[model, "ci_high"]
    # 6 clips x 3 raters: the third rater gave one of the first showings to consensus (or only a repeat).
    assert table.loc[model, "win_rate"] >= 17 / 18
    assert table.loc[model, "comparisons"] == 18
    assert results.agreement is not None and results.agreement.n_raters == 3
    assert set(results.consistency["rater_id"]) == {r.id for r in world.raters}
    assert results.consistency.set_index("rater_id").loc[world.raters[0].id, "share"] == 1.0


def test_exports_mer_prefer_csv_and_dpo_triples(session, world):
    study = make_study(session, world, clips=3, share=0)
    for rater in world.raters:
        answer_all(session, study, rater, model_wins)
    verdicts = pair_verdicts(session, user=world.lead, study_id=study.id)
    csv_text = mer_prefer_csv(verdicts)
    lines = csv_text.strip().splitlines()
    assert lines[0] == "name,a1,a2,preference" and len(lines) == 4
    assert all(line.endswith(",a1") for line in lines[1:])  # the model is the study's first system
    triples = [json.loads(line) for line in dpo_jsonl(verdicts).splitlines()]
    assert len(triples) == 3
    assert all(MODEL_TEXT in t["chosen"] and t["prompt"].startswith("<video>") for t in triples)
    assert triples[0]["votes"] == {"a1": 3, "a2": 0, "same": 0}
    with pytest.raises(PermissionDenied):
        pair_verdicts(session, user=world.raters[0], study_id=study.id)


def test_ratings_and_preferences_do_not_mix(session, world):
    study = make_study(session, world)
    with pytest.raises(StudyError, match="preferences, not ratings"):
        rate(session, user=world.raters[0], item_id=1, rating=3)
    with pytest.raises(StudyError, match="A, B, same"):
        answer(session, user=world.raters[0], study_id=study.id, rank=0, choice="left")

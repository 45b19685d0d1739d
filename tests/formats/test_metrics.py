"""Model-quality metrics: equal to scikit-learn, the wheel metric on hand-worked cases, the offline proxy."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

from annotation.evaluation.metrics import (
    classification_metrics,
    clue_overlap_proxy,
    evaluate_rows,
    map_label,
    normalise_label,
    split_labels,
    wheel_scores,
)
from annotation.formats.common import ExportRow

LABELS = ["neutral", "angry", "happy", "sad", "worried", "surprise"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    truth = list(rng.choice(LABELS, size=300, p=[0.4, 0.2, 0.2, 0.1, 0.05, 0.05]))
    guess = [t if rng.random() < 0.6 else rng.choice(LABELS) for t in truth]
    got = classification_metrics(truth, guess)
    assert got["accuracy"] == pytest.approx(accuracy_score(truth, guess), abs=1e-12)
    assert got["war"] == pytest.approx(recall_score(truth, guess, average="weighted"), abs=1e-12)
    assert got["weighted_f1"] == pytest.approx(f1_score(truth, guess, average="weighted"), abs=1e-12)
    assert got["uar"] == pytest.approx(recall_score(truth, guess, average="macro", labels=sorted(set(truth))), abs=1e-12)


def test_classification_hand_worked():
    # happy: 2 of 2 right; sad: 1 of 2 right -> UAR (1 + 0.5) / 2 = 0.75, WAR 3/4.
    got = classification_metrics(["happy", "happy", "sad", "sad"], ["happy", "happy", "sad", "happy"])
    assert got["uar"] == 0.75 and got["war"] == 0.75 and got["accuracy"] == 0.75


def test_classification_refuses_bad_input():
    with pytest.raises(ValueError, match="items"):
        classification_metrics(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="no items"):
        classification_metrics([], [])


def test_label_normalisation_and_mapping():
    assert normalise_label(" Happiness ") == "happy"
    assert normalise_label("开心") == "happy"
    assert split_labels("happy, excited；紧张、worried") == ["happy", "excited", "紧张", "worried"]
    assert map_label("joyful", "plutchik") == "joy"
    assert map_label("worried", "plutchik", "level2") == "apprehension"
    assert map_label("worried", "circumplex") == "negative"
    assert map_label("flabbergasted", "plutchik") == "flabbergasted"  # not on the wheel: itself


def test_wheel_exact_match_scores_one():
    assert wheel_scores([["happy"]], [["开心"]])["f"] == 1.0


def test_wheel_hand_worked_partial():
    # Clip 1: G={joy, surprise} P={joy}: precision 1, recall 1/2.
    # Clip 2: G={anger} P={fear, anger} (level 1 on plutchik): precision 1/2, recall 1.
    # Mean P = 0.75, mean R = 0.75 -> F = 0.75 on plutchik.
    got = wheel_scores([["happy", "surprised"], ["angry"]], [["joyful"], ["scared", "furious"]],
                       wheels=["plutchik"])
    assert got["plutchik_precision"] == 0.75 and got["plutchik_recall"] == 0.75 and got["f"] == 0.75


def test_wheel_levels_and_average_over_wheels():
    # worried vs nervous: plutchik level1 fear=fear; parrott level1 fear=fear; circumplex negative=negative.
    assert wheel_scores(["worried"], ["nervous"], level="level1")["f"] == 1.0
    # Level 2: plutchik apprehension=apprehension (1), parrott nervousness=nervousness (1),
    # circumplex negative-high=negative-high (1).
    assert wheel_scores(["worried"], ["nervous"], level="level2")["f"] == 1.0
    # sad vs disappointed at level 2: plutchik sadness vs pensiveness (0), parrott sadness vs
    # disappointment (0), circumplex negative-low = negative-low (1) -> mean 1/3.
    assert wheel_scores(["sad"], ["disappointed"], level="level2")["f"] == pytest.approx(1 / 3)
    # An empty prediction scores 0.
    assert wheel_scores([["happy"]], [[]])["f"] == 0.0


REFS = [
    {"facial": "He frowns deeply and clenches his jaw.", "vocal": "He shouts loudly.",
     "verbal": "He says nobody told him about the meeting.", "scene": "A dim office at night."},
    {"facial": "She smiles broadly, eyes crinkled.", "vocal": "Her voice is bright and quick.",
     "verbal": "She says this is the best day of her life.", "scene": "A sunny beach with friends."},
    {"facial": "Tears run down her cheeks.", "vocal": "She sobs quietly.",
     "verbal": "She says she misses her mother.", "scene": "A hospital corridor."},
    {"facial": "His eyes widen and his mouth falls open.", "vocal": "He gasps.",
     "verbal": "He asks how this could have happened.", "scene": "A crowded train station."},
    {"facial": "她眉头紧锁，嘴角下垂。", "vocal": "她的声音颤抖。", "verbal": "她说自己明天考试很担心。", "scene": "教室里光线昏暗。"},
    {"facial": "他面带微笑，点头。", "vocal": "他语气轻松。", "verbal": "他说这顿饭很好吃。", "scene": "一家热闹的餐厅。"},
    {"facial": "He stares blankly ahead.", "vocal": "His tone is flat and slow.",
     "verbal": "He reads the weather report.", "scene": "A television studio."},
    {"facial": "She rolls her eyes and sneers.", "vocal": "Her tone is sarcastic.",
     "verbal": "She says the plan is ridiculous.", "scene": "A boardroom meeting."},
]
PREDS = [
    {"facial": "The man frowns and tightens his jaw.", "vocal": "He is yelling.",
     "verbal": "He complains that no one informed him of the meeting.", "scene": "An office in the evening, dimly lit."},
    {"facial": "She is grinning with crinkled eyes.", "vocal": "Her voice sounds cheerful and fast.",
     "verbal": "She calls it the best day she has had.", "scene": "Friends on a bright beach."},
    {"facial": "She is crying.", "vocal": "She is sobbing softly.",
     "verbal": "She says that she misses her mom.", "scene": "In a hospital hallway."},
    {"facial": "He looks shocked, wide eyes, open mouth.", "vocal": "A sharp gasp.",
     "verbal": "He wonders how it happened.", "scene": "A busy railway station."},
    {"facial": "她皱着眉，嘴角向下。", "vocal": "她说话时声音发抖。", "verbal": "她说担心明天的考试。", "scene": "昏暗的教室。"},
    {"facial": "他微笑着点头。", "vocal": "他的语气很轻松。", "verbal": "他说饭菜很好吃。", "scene": "热闹的餐馆里。"},
    {"facial": "He has a blank stare.", "vocal": "He speaks in a flat, slow tone.",
     "verbal": "He is reading out the weather forecast.", "scene": "Inside a TV studio."},
    {"facial": "She sneers and rolls her eyes.", "vocal": "She sounds sarcastic.",
     "verbal": "She calls the plan ridiculous.", "scene": "A meeting in a boardroom."},
]


def test_offline_proxy_is_high_on_matched_and_near_zero_on_shuffled():
    matched = clue_overlap_proxy(REFS, PREDS)
    # Chance is calibrated on the matched set's mismatched pairs; shuffled predictions then score ~0.
    chance = {a: matched[f"{a}_chance"] for a in ("facial", "vocal", "verbal", "scene")}
    shifts = [clue_overlap_proxy(REFS, PREDS[k:] + PREDS[:k], chance=chance)["overall"] for k in range(1, 8)]
    shuffled = clue_overlap_proxy(REFS, PREDS[3:] + PREDS[:3], chance=chance)
    assert matched["overall"] > 5.0
    assert all(abs(s) < 1.0 for s in shifts)
    assert abs(np.mean(shifts)) < 0.05  # every mismatched pair once: exactly the chance level
    assert all(matched[a] > shuffled[a] + 3 for a in ("facial", "vocal", "verbal", "scene"))
    identical = clue_overlap_proxy(REFS, REFS)
    assert identical["overall"] == pytest.approx(10.0, abs=1e-3)


def test_evaluate_rows_one_row_per_system():
    truth = [ExportRow(name=f"c{i}", emotion=e, clues=REFS[i]) for i, e in
             enumerate(["angry", "happy", "sad", "surprise", "worried", "happy", "neutral", "angry"])]
    good = [ExportRow(name=f"c{i}", emotion=f" {t.emotion.title()}", clues=PREDS[i]) for i, t in enumerate(truth)]
    bad = [ExportRow(name=f"c{i}", emotion="neutral", clues=PREDS[(i + 3) % 8]) for i in range(8)]
    table = evaluate_rows(truth, {"good": good, "bad": bad})
    assert list(table["system"]) == ["good", "bad"]
    good_row, bad_row = table.iloc[0], table.iloc[1]
    assert good_row["accuracy"] == 1.0 and bad_row["accuracy"] == 0.125
    assert good_row["clue_overlap_proxy"] > bad_row["clue_overlap_proxy"] + 3
    assert good_row["wheel_f_level1"] == 1.0

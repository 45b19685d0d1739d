"""Semantic agreement of free-text clues (real multilingual embeddings) and edit effort."""

from __future__ import annotations

import pytest

from annotation.agreement.clues import (
    ClueText,
    clip_similarity,
    edit_effort,
    semantic_agreement,
)

PARAPHRASED = [
    ("c1", ["He frowns and narrows his eyes.", "The man is frowning with narrowed eyes.", "他皱着眉头，眯起眼睛。"]),
    ("c2", ["She is smiling broadly.", "A wide smile is on her face.", "她开心地笑着。"]),
    ("c3", ["The room is dark and empty.", "A dim, empty room.", "房间又暗又空。"]),
    ("c4", ["His voice is loud and fast.", "He speaks loudly and quickly.", "他说话又快又大声。"]),
]
UNRELATED = [
    ("c1", ["He frowns and narrows his eyes.", "Rain falls on a quiet street.", "她在厨房里做饭。"]),
    ("c2", ["She is smiling broadly.", "The stock market closed lower.", "他的电脑坏了。"]),
    ("c3", ["The room is dark and empty.", "A cat sleeps on the sofa.", "火车准时到站。"]),
    ("c4", ["His voice is loud and fast.", "The bread is fresh.", "今天是星期一。"]),
]


def as_clues(rows):
    return [ClueText(clip, f"a{i}", text) for clip, texts in rows for i, text in enumerate(texts)]


def test_paraphrases_agree_far_above_chance_and_unrelated_do_not():
    agree = semantic_agreement(as_clues(PARAPHRASED), resamples=200)
    disagree = semantic_agreement(as_clues(UNRELATED), resamples=200)
    assert agree.raw.value > agree.chance
    assert agree.corrected.value > 0.3
    assert disagree.corrected.value < agree.corrected.value - 0.25
    assert agree.raw.n_clips == 4 and agree.raw.n_raters == 3
    assert agree.corrected.ci_low <= agree.corrected.value <= agree.corrected.ci_high
    assert agree.corrected.value == pytest.approx((agree.raw.value - agree.chance) / (1 - agree.chance))


def test_empty_clues_are_left_out_and_undefined_is_an_error():
    clues = as_clues(PARAPHRASED) + [ClueText("c1", "a9", "  ")]
    assert semantic_agreement(clues, resamples=50).raw.n_raters == 3
    with pytest.raises(ValueError, match="two annotators"):
        semantic_agreement([ClueText("c1", "a", "x"), ClueText("c2", "b", "y")])


def test_clip_similarity():
    assert clip_similarity(["He smiles.", "He smiles."]) == pytest.approx(1.0, abs=1e-5)
    assert clip_similarity(["He smiles.", ""]) is None


def test_edit_effort_zero_when_model_clue_kept_and_one_when_replaced():
    model = {"c1": "他皱着眉头。", "c2": "He looks down."}
    kept = [ClueText("c1", "a", "他皱着眉头。"), ClueText("c2", "a", "He looks down.")]
    assert edit_effort(kept, model, resamples=50).value == 0.0
    replaced = [ClueText("c1", "a", "她在笑"), ClueText("c2", "b", "Bright sunny beach")]
    effort = edit_effort(replaced, model, resamples=50)
    assert effort.value == pytest.approx(1.0)
    assert effort.n_raters == 2 and effort.n_clips == 2
    with pytest.raises(ValueError, match="to compare"):
        edit_effort(kept, {})
    with pytest.raises(ValueError, match="to compare"):
        edit_effort([ClueText("c1", "a", "")], {"c1": ""})


def test_no_chance_correction_when_every_clip_has_the_same_clue():
    clues = [ClueText(clip, who, "An office.") for clip in ("c1", "c2") for who in ("a", "b")]
    result = semantic_agreement(clues, resamples=20)
    assert result.raw.value == pytest.approx(1.0, abs=1e-5)
    assert result.corrected is None

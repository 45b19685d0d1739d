"""Word sets: cleaning, the wheel vocabulary, mapping and the majority proposal (hand-worked)."""

from __future__ import annotations

import pytest

from annotation.evaluation.wheel import WheelData
from annotation.evaluation.word_sets import (
    category_set,
    clean_words,
    on_wheel,
    propose_word_set,
    show_category,
    wheel_vocabulary,
)

# A tiny wheel: joyful/cheerful -> happy, furious -> mad; "glad" is a form of "joyful".
DATA = WheelData.from_tables(
    format_mapping={"joyful": ["joyful"], "glad": ["joyful"], "cheerful": ["cheerful"], "furious": ["furious"]},
    raw_mapping={"joyful": ["joyful"], "cheerful": ["cheerful"], "furious": ["furious"]},
    wheels={"wheel1": {"level1": {"joyful": "happy", "cheerful": "happy", "furious": "mad"},
                       "level2": {"joyful": "joyful", "cheerful": "cheerful", "furious": "furious"}}},
)


def test_clean_words_normalises_and_deduplicates():
    assert clean_words([" Happy", "happy ", "", "Deeply  Moved"]) == ["happy", "deeply moved"]
    with pytest.raises(ValueError, match="at most"):
        clean_words([f"w{i}" for i in range(31)])


def test_vocabulary_is_the_word_form_table():
    vocabulary = wheel_vocabulary()
    assert len(vocabulary) > 5000 and list(vocabulary) == sorted(vocabulary)
    assert on_wheel("Happy") and not on_wheel("blorfish")


def test_unmapped_words_stay_themselves():
    assert category_set(["glad", "cheerful", "blorfish"], data=DATA) == {"happy", "~blorfish"}
    assert show_category("~blorfish") == "blorfish (not on the wheel)"


def test_majority_proposal_by_hand():
    # Three annotators: happy is reached by all three (glad, joyful, cheerful+joyful), mad by one,
    # "blorfish" by two (a majority of 3), so the proposal holds happy's most written word and blorfish.
    sets = {1: ["glad", "furious"], 2: ["joyful", "blorfish"], 3: ["cheerful", "joyful", "blorfish"], 4: []}
    words, votes = propose_word_set(sets, data=DATA)
    assert words == ["joyful", "blorfish"]
    by = {v.category: v for v in votes}
    assert by["happy"].supporters == 3 and by["happy"].raw_words == {"joyful": 2, "glad": 1, "cheerful": 1}
    assert by["~blorfish"].majority and not by["mad"].majority

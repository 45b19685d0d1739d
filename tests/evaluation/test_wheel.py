"""The emotion-wheel metric, rule by rule, on a tiny hand-made table whose numbers are worked out by hand."""

from __future__ import annotations

import pytest

from annotation.evaluation.wheel import WheelData, map_words, score_openset, unmapped_words

# Word form -> base words.
FORMS = {
    "happy": ["happy"], "happiness": ["happy"], "joyful": ["joyful"], "glad": ["glad", "happy"],
    "pleased": ["glad"], "sad": ["sad"], "sadness": ["sad"], "angry": ["angry"], "furious": ["furious"],
}
# Base word -> wheel words.
SYNONYMS = {
    "happy": ["joy", "cheerful"], "glad": ["pleased"], "joyful": ["joy"], "sad": ["sorrow"],
    "angry": ["anger"], "furious": ["rage", "anger"],
}
# wheel1: joy (children cheerful, content), sadness (child lonely), anger (children annoyed, rage).
# The inner word "joy" sits at level 2 under its alphabetically first child, as in the official maps.
# wheel2 knows only joy and sorrow.
WHEELS = {
    "wheel1": {
        "level1": {"joy": "joy", "cheerful": "joy", "pleased": "joy", "sorrow": "sadness", "anger": "anger",
                   "rage": "anger"},
        "level2": {"joy": "cheerful", "cheerful": "cheerful", "pleased": "content", "sorrow": "lonely",
                   "anger": "annoyed", "rage": "rage"},
    },
    "wheel2": {
        "level1": {"joy": "positive", "sorrow": "negative"},
        "level2": {"joy": "joy", "sorrow": "sorrow"},
    },
}


@pytest.fixture(scope="module")
def tiny() -> WheelData:
    return WheelData.from_tables(format_mapping=FORMS, raw_mapping=SYNONYMS, wheels=WHEELS)


def test_a_word_reaching_two_wheel_words_takes_the_alphabetically_first_ones_category(tiny: WheelData):
    # glad -> bases {glad, happy} -> wheel words {pleased, joy, cheerful}; sorted: cheerful, joy, pleased.
    # cheerful is in wheel1, so level 2 gives "cheerful", not pleased's "content".
    assert map_words(["glad"], wheel=1, level="level2", data=tiny) == {"cheerful"}
    # furious -> {rage, anger}; anger < rage, so level 2 is anger's "annoyed".
    assert map_words(["furious"], wheel="wheel1", level="level2", data=tiny) == {"annoyed"}
    # happy -> {joy, cheerful}: wheel2 does not know cheerful, so its first known word joy decides.
    assert map_words(["happy"], wheel=2, level="level1", data=tiny) == {"positive"}


def test_level2_splits_a_level1_category_into_its_children(tiny: WheelData):
    # pleased -> base glad -> wheel word pleased: level 1 joy, level 2 content; joyful -> joy: joy / cheerful.
    assert map_words(["pleased", "joyful"], wheel=1, level="level1", data=tiny) == {"joy"}
    assert map_words(["pleased", "joyful"], wheel=1, level="level2", data=tiny) == {"content", "cheerful"}
    score = score_openset({"a": ["happy"]}, {"a": ["pleased"]}, data=tiny)
    # wheel1: level 1 {joy} vs {joy} -> 1; level 2 {cheerful} vs {content} -> 0.
    assert score.per_metric["wheel1/level1"].f == 1.0
    assert score.per_metric["wheel1/level2"].f == 0.0


def test_words_are_lower_cased_and_stripped_and_unknown_words_dropped(tiny: WheelData):
    assert map_words(["  HAPPY ", "Sadness\t", "zzz"], wheel=1, level="level1", data=tiny) == {"joy", "sadness"}
    assert unmapped_words(["zzz", " ZZZ", "happy", "", "Xyz"], data=tiny) == ["zzz", "xyz"]
    # gold {joy} (zzz dropped) vs prediction {joy}: perfect in both wheels and at both levels.
    score = score_openset({"a": ["  HAPPY ", "zzz"]}, {"a": ["happy"]}, data=tiny)
    assert (score.level1.f, score.level2.f) == (1.0, 1.0)
    assert score.unmapped == ("zzz",)


def test_case1_and_case2_use_only_the_first_base_word(tiny: WheelData):
    # glad: case1 = first base word "glad"; case2 = first wheel word of "glad" only = "pleased"
    # (the wheel levels would reach cheerful through "happy").
    assert map_words(["glad"], wheel=None, level="case1", data=tiny) == {"glad"}
    assert map_words(["glad"], wheel=None, level="case2", data=tiny) == {"pleased"}
    # furious: case2 = min(rage, anger) = anger, so it matches angry in case2 but not in case1.
    score = score_openset({"a": ["angry"]}, {"a": ["furious"]}, data=tiny)
    assert score.case1.f == 0.0
    assert score.case2.f == 1.0


def test_empty_gold_is_skipped_and_empty_prediction_scores_zero(tiny: WheelData):
    # a: gold empty and b: gold only unknown words -> both skipped; c: perfect -> P = R = 1.
    skipped = score_openset({"a": [], "b": ["zzz"], "c": ["happy"]}, {"a": ["happy"], "b": ["sad"], "c": ["happy"]},
                            data=tiny)
    assert skipped.level1.f == 1.0 and skipped.n_skipped == 2 and skipped.n_samples == 3
    # a: prediction empty after mapping -> p = r = 0; b: perfect. P = R = (0 + 1) / 2 = 0.5, F = 0.5.
    empty = score_openset({"a": ["happy"], "b": ["happy"]}, {"a": ["zzz"], "b": ["happy"]}, data=tiny)
    assert (empty.level1.f, empty.level1.precision, empty.level1.recall) == (0.5, 0.5, 0.5)


def test_a_sample_missing_from_the_predictions_counts_as_an_empty_prediction(tiny: WheelData):
    gold = {"a": ["happy"], "b": ["sad"]}
    missing = score_openset(gold, {"a": ["happy"], "other": ["sad"]}, data=tiny)
    as_empty = score_openset(gold, {"a": ["happy"], "b": []}, data=tiny)
    assert missing.n_missing == 1 and as_empty.n_missing == 0
    assert missing.to_json_dict() == as_empty.to_json_dict()
    assert missing.level1.f == 0.5  # P = R = (1 + 0) / 2


def test_f_comes_from_the_averaged_precision_and_recall_not_the_mean_of_per_sample_f(tiny: WheelData):
    # wheel1 level 1, from the worked example below: a p=1, r=1/2; b p=r=0; d p=1/2, r=1.
    # P = R = 1/2 -> F = 1/2. The mean of per-sample F would be (2/3 + 0 + 2/3) / 3 = 4/9.
    score = score_openset(GOLD, PRED, data=tiny)
    assert score.per_metric["wheel1/level1"].f == pytest.approx(0.5, abs=1e-15)
    assert score.per_metric["wheel1/level1"].f != pytest.approx(4 / 9)


# The worked example. Mapped sets per sample (c is skipped everywhere: zzz is no word form):
#                gold                      prediction
# wheel1 L1  a {joy, sadness}           {joy}              (joyful->joy, pleased->joy; xyz dropped)
#            b {anger}                  {}                 (empty prediction)
#            d {anger}                  {anger, sadness}   (furious->anger, sadness->sorrow->sadness)
#   a p=1 r=1/2; b 0 0; d p=1/2 r=1 -> P = 1.5/3 = 1/2, R = 1.5/3 = 1/2, F = 1/2; hits a, d -> 2/3
# wheel1 L2  a {cheerful, lonely}       {cheerful, content}
#            b {annoyed}                {}
#            d {annoyed}                {annoyed, lonely}
#   a p=1/2 r=1/2; b 0 0; d p=1/2 r=1 -> P = 1/3, R = 1/2, F = 2(1/6)/(5/6) = 2/5
# wheel2: furious and angry reach no wheel2 word, so b and d are skipped; only a counts.
#   L1 a {positive, negative} vs {positive} (pleased dropped): p=1 r=1/2 -> F = 2(1/2)/(3/2) = 2/3; hit 1
#   L2 a {joy, sorrow} vs {joy}: same, F = 2/3
# level1 = mean over wheels: F = (1/2 + 2/3)/2 = 7/12, P = (1/2 + 1)/2 = 3/4, R = (1/2 + 1/2)/2 = 1/2
# level2: F = (2/5 + 2/3)/2 = 8/15, P = (1/3 + 1)/2 = 2/3, R = 1/2; mean_f = (7/12 + 8/15)/2 = 67/120
# hit rate = (2/3 + 1)/2 = 5/6
# case1 (first base word): a {happy, sad} vs {joyful, glad}; b {furious} vs {}; d {angry} vs {furious, sad}
#   -> all 0.
# case2 (first wheel word of the first base word): a {cheerful, sorrow} vs {joy, pleased} -> 0;
#   b 0; d {anger} vs {anger, sorrow} p=1/2 r=1 -> P = 1/6, R = 1/3, F = 2(1/18)/(1/2) = 2/9
GOLD = {"a": ["happy", "sad"], "b": ["furious"], "c": ["zzz"], "d": ["angry"]}
PRED = {"a": ["Joyful", "xyz", " PLEASED "], "b": [], "d": ["furious", "sadness"], "e": ["happy"]}


def test_the_worked_example(tiny: WheelData):
    score = score_openset(GOLD, PRED, data=tiny)
    expected = {
        "level1": {"f": 7 / 12, "precision": 3 / 4, "recall": 1 / 2},
        "level2": {"f": 8 / 15, "precision": 2 / 3, "recall": 1 / 2},
        "mean_f": 67 / 120,
        "hit_rate": 5 / 6,
        "case1": {"f": 0.0, "precision": 0.0, "recall": 0.0},
        "case2": {"f": 2 / 9, "precision": 1 / 6, "recall": 1 / 3},
    }
    got = score.to_json_dict()
    assert list(got) == ["level1", "level2", "mean_f", "hit_rate", "case1", "case2"]
    for key, value in expected.items():
        assert got[key] == (pytest.approx(value, abs=1e-12) if isinstance(value, float) else
                            {k: pytest.approx(v, abs=1e-12) for k, v in value.items()})
    assert (score.n_samples, score.n_skipped, score.n_missing) == (4, 1, 1)
    assert score.unmapped == ("xyz", "zzz")
    assert score.skipped_per_metric["wheel1/level1"] == 1 and score.skipped_per_metric["wheel2/level1"] == 3


def test_strings_instead_of_word_lists_are_refused(tiny: WheelData):
    with pytest.raises(TypeError, match="list of words"):
        score_openset({"a": "happy, sad"}, {"a": ["happy"]}, data=tiny)


def test_nothing_to_score_gives_zeros(tiny: WheelData):
    score = score_openset({}, {}, data=tiny)
    assert score.to_json_dict()["level1"] == {"f": 0.0, "precision": 0.0, "recall": 0.0}
    assert score.hit_rate == 0.0 and score.n_samples == 0


def test_bad_arguments(tiny: WheelData):
    with pytest.raises(ValueError):
        map_words(["happy"], wheel=None, level="level1", data=tiny)
    with pytest.raises(ValueError):
        map_words(["happy"], wheel=1, level="case1", data=tiny)
    with pytest.raises(ValueError):
        map_words(["happy"], wheel=9, level="level1", data=tiny)
    with pytest.raises(ValueError):
        WheelData.from_tables(format_mapping=FORMS, raw_mapping=SYNONYMS, wheels={"wheel1": {"level1": {}}})

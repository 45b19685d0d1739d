"""Krippendorff's α with set distances: a hand-worked case, nltk's distances, the krippendorff package."""

from __future__ import annotations

import itertools

import krippendorff
import numpy as np
import pytest
from nltk.metrics.distance import jaccard_distance as nltk_jaccard
from nltk.metrics.distance import masi_distance as nltk_masi

from annotation.agreement.sets import (
    distance_matrix,
    encode_sets,
    jaccard_distance,
    masi_distance,
    set_alpha,
    set_alpha_estimate,
)

A, AB, B, C = frozenset("a"), frozenset("ab"), frozenset("b"), frozenset("c")
# Two raters, three clips: {a}/{a}, {a,b}/{a}, {b}/{c}.
HAND = [[A, AB, B], [A, A, C]]


def test_hand_worked_jaccard_alpha():
    # Distinct sets {a}, {a,b}, {b}, {c}; δ({a},{a,b}) = δ({a,b},{b}) = 0.5, all others 1.
    # Observed Σ = clip 2: 2·0.5 + clip 3: 2·1 = 3; n_v = 3, 1, 1, 1 (n = 6);
    # expected Σ n_v n_w δ = 2·(1.5 + 3 + 3 + 0.5 + 1 + 1) = 20; α = 1 − 5·3/20 = 0.25.
    assert set_alpha(HAND, distance="jaccard") == pytest.approx(0.25, abs=1e-12)


def test_hand_worked_masi_alpha():
    # MASI: a subset pair keeps J·2/3 = 1/3, so δ = 2/3 where Jaccard said 0.5.
    # Observed 2·2/3 + 2 = 10/3; expected 2·(2 + 3 + 3 + 2/3 + 1 + 1) = 64/3; α = 1 − 5·(10/3)/(64/3) = 7/32.
    assert set_alpha(HAND, distance="masi") == pytest.approx(7 / 32, abs=1e-12)


def test_distances_equal_nltk():
    sets = [frozenset(s) for s in ("a", "ab", "abc", "b", "bc", "cd", "abcd", "d")]
    for a, b in itertools.product(sets, repeat=2):
        assert masi_distance(a, b) == pytest.approx(nltk_masi(set(a), set(b)), abs=1e-12)
        assert jaccard_distance(a, b) == pytest.approx(nltk_jaccard(set(a), set(b)), abs=1e-12)


@pytest.mark.parametrize("distance", ["masi", "jaccard"])
def test_alpha_equals_krippendorff_with_a_callable_distance(distance):
    rng = np.random.default_rng(7)
    pool = [frozenset(s) for s in ("a", "ab", "b", "bc", "c", "abc")]
    table = [[None if rng.random() < 0.2 else pool[rng.integers(len(pool))] for _ in range(40)] for _ in range(4)]
    codes, values = encode_sets(table)
    delta = distance_matrix(values, distance)

    def metric(v1, v2, i1, i2, n_v, dtype=np.float64):  # the package's callable signature
        return delta[i1, i2].astype(dtype)

    expected = krippendorff.alpha(reliability_data=codes, value_domain=np.arange(len(values)),
                                  level_of_measurement=metric)
    assert set_alpha(table, distance=distance) == pytest.approx(expected, abs=1e-9)


def test_estimate_has_an_interval_and_counts():
    table = [row * 5 + [None] for row in HAND]  # 15 pairable clips and one with nobody
    est = set_alpha_estimate(table, distance="masi", resamples=200, seed=1)
    assert est.value == pytest.approx(set_alpha(table, distance="masi"), abs=1e-12)
    assert est.ci_low <= est.value <= est.ci_high
    assert est.n_clips == 15 and est.n_raters == 2 and est.resamples == 200


def test_undefined_cases_say_why():
    with pytest.raises(ValueError, match="two or more raters"):
        set_alpha([[A, None], [None, B]])
    with pytest.raises(ValueError, match="nothing varies"):
        set_alpha([[A, A], [A, A]])

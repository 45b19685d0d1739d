"""Agreement coefficients against the reference libraries and published worked examples."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from annotation.agreement import (
    agreement_estimate,
    cohen_kappa_matrix,
    encode,
    fleiss_kappa,
    gwet_ac,
    krippendorff_alpha,
    mean_pairwise_cohen_estimate,
    positive_agreement,
    positive_agreement_estimates,
    value_counts,
)

N = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: 4 observers, 12 units,
# values 1-5, missing values. The same data is `cac.raw4raters` in Gwet's irrCAC package.
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
])
DOMAIN_1_5 = [1, 2, 3, 4, 5]


def random_reliability_data(seed: int, raters: int = 5, clips: int = 300, values: int = 6, missing: float = 0.3):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, values, clips)
    data = np.where(rng.random((raters, clips)) < 0.6, truth, rng.integers(0, values, (raters, clips))).astype(float)
    data[rng.random(data.shape) < missing] = np.nan
    return data


@pytest.mark.parametrize(("level", "published"), [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797),
])
def test_alpha_reproduces_krippendorff_2011(level, published):
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, level=level), 3) == published


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_equals_krippendorff_package(seed, level):
    data = random_reliability_data(seed, values=4 + seed % 4) + 1  # ratio needs positive values
    domain = np.arange(1, 5 + seed % 4)
    ours = krippendorff_alpha(data, domain=domain, level=level)
    theirs = krippendorff.alpha(reliability_data=data, value_domain=domain, level_of_measurement=level)
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_alpha_from_value_counts_equals_package():
    counts = value_counts(random_reliability_data(3), np.arange(6))
    assert krippendorff_alpha(value_counts=counts, level="ordinal") == pytest.approx(
        krippendorff.alpha(value_counts=counts, level_of_measurement="ordinal"), abs=1e-9)


def test_gwet_and_fleiss_reproduce_irrcac_worked_example():
    counts = value_counts(KRIPPENDORFF_2011, DOMAIN_1_5)
    # Values printed by irrCAC (Gwet 2014) for cac.raw4raters.
    assert gwet_ac(counts, DOMAIN_1_5) == pytest.approx(0.77544, abs=5e-6)
    assert gwet_ac(counts, DOMAIN_1_5, weights="quadratic") == pytest.approx(0.914, abs=5e-4)
    assert fleiss_kappa(counts) == pytest.approx(0.76117, abs=5e-6)


def test_gwet_ac1_two_raters_by_hand():
    # 40 both "in", 45 both "out", 10 + 5 disagreements: pa 0.85, pi_in 0.475, pe 2*0.475*0.525.
    rows = [[0, 0]] * 40 + [[1, 1]] * 45 + [[0, 1]] * 10 + [[1, 0]] * 5
    counts = value_counts(np.array(rows, dtype=float).T, [0, 1])
    assert gwet_ac(counts) == pytest.approx((0.85 - 0.49875) / (1 - 0.49875), abs=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_fleiss_equals_statsmodels_when_every_clip_has_all_raters(seed):
    data = random_reliability_data(seed, missing=0.0)
    counts = value_counts(data, np.arange(6))
    assert fleiss_kappa(counts) == pytest.approx(sm_fleiss_kappa(counts, method="fleiss"), abs=1e-9)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("weights", ["identity", "linear", "quadratic"])
def test_pairwise_cohen_equals_scikit_learn(seed, weights):
    data = random_reliability_data(seed, raters=4, values=4)
    domain = np.arange(4)
    kappa, shared = cohen_kappa_matrix(data, domain, weights=weights)
    sk_weights = None if weights == "identity" else weights
    for a in range(4):
        for b in range(4):
            if a == b:
                continue
            both = ~np.isnan(data[a]) & ~np.isnan(data[b])
            assert shared[a, b] == both.sum()
            expected = cohen_kappa_score(data[a, both], data[b, both], labels=domain, weights=sk_weights)
            assert kappa[a, b] == pytest.approx(expected, abs=1e-9)


def test_positive_agreement_two_raters_is_2a_over_2a_b_c():
    # a = 30 both positive, b = 5 and c = 10 disagreements, d = 55 both negative.
    rows = [[1, 1]] * 30 + [[1, 0]] * 5 + [[0, 1]] * 10 + [[0, 0]] * 55
    counts = value_counts(np.array(rows, dtype=float).T, [0, 1])
    negative, positive = positive_agreement(counts)
    assert positive == pytest.approx(60 / 75)
    assert negative == pytest.approx(110 / 125)


def test_encode_labels_and_refuse_unknown():
    codes = encode([["happy", None], ["sad", "happy"]], ["neutral", "happy", "sad"])
    np.testing.assert_array_equal(np.isnan(codes), [[False, True], [False, False]])
    assert codes[1, 0] == 2
    with pytest.raises(ValueError, match="not in the label set"):
        encode([["joyful"]], ["happy"])


def test_explicit_errors():
    with pytest.raises(ValueError, match="not in the value domain"):
        krippendorff_alpha(KRIPPENDORFF_2011, domain=[1, 2, 3])
    with pytest.raises(ValueError, match="at least two raters"):
        krippendorff_alpha(np.array([[1, N], [N, 2.0]]))
    with pytest.raises(ValueError, match="more than one value"):
        krippendorff_alpha(np.array([[1, 1], [1, 1.0]]))
    with pytest.raises(ValueError, match="numeric codes"):
        krippendorff_alpha(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="level must be"):
        krippendorff_alpha(KRIPPENDORFF_2011, level="interval-ish")
    with pytest.raises(ValueError, match="not both"):
        krippendorff_alpha(KRIPPENDORFF_2011, value_counts=np.ones((2, 2)))


@pytest.mark.parametrize("coefficient", ["alpha", "fleiss_kappa", "gwet_ac"])
def test_bootstrap_interval_covers_point_and_narrows_with_more_clips(coefficient):
    small = agreement_estimate(random_reliability_data(1, clips=150), coefficient=coefficient, resamples=400)
    large = agreement_estimate(random_reliability_data(1, clips=3000), coefficient=coefficient, resamples=400)
    for est in (small, large):
        assert est.ci_low <= est.value <= est.ci_high
        assert est.n_raters == 5 and est.resamples == 400
    assert large.n_clips > small.n_clips
    assert (large.ci_high - large.ci_low) < 0.5 * (small.ci_high - small.ci_low)


def test_bootstrap_is_seeded_and_configurable():
    data = random_reliability_data(2)
    a = agreement_estimate(data, coefficient="alpha", resamples=200, seed=7)
    b = agreement_estimate(data, coefficient="alpha", resamples=200, seed=7)
    c = agreement_estimate(data, coefficient="alpha", resamples=200, seed=8)
    assert a == b and a != c
    assert a.value == pytest.approx(krippendorff.alpha(data, level_of_measurement="nominal"), abs=1e-9)


def test_ordinal_estimates_use_the_ordinal_metric():
    ordinal = agreement_estimate(KRIPPENDORFF_2011, coefficient="alpha", level="ordinal", resamples=100)
    assert ordinal.value == pytest.approx(krippendorff.alpha(KRIPPENDORFF_2011, level_of_measurement="ordinal"))
    assert ordinal.value != pytest.approx(krippendorff_alpha(KRIPPENDORFF_2011, level="interval"))


def test_positive_agreement_and_pairwise_estimates_cover_their_points():
    data = random_reliability_data(4, clips=400)
    for est, point in zip(positive_agreement_estimates(data, np.arange(6), resamples=200),
                          positive_agreement(value_counts(data, np.arange(6))), strict=False):
        assert est.value == pytest.approx(point)
        assert est.ci_low <= est.value <= est.ci_high
    mean_k = mean_pairwise_cohen_estimate(data, np.arange(6), resamples=200)
    kappa, _ = cohen_kappa_matrix(data, np.arange(6))
    assert mean_k.value == pytest.approx(kappa[np.triu_indices(5, 1)].mean())
    assert mean_k.ci_low <= mean_k.value <= mean_k.ci_high


def test_hundred_thousand_clips_five_raters_is_fast():
    import time

    data = random_reliability_data(0, clips=100_000)
    start = time.perf_counter()
    value = krippendorff_alpha(data, domain=np.arange(6), level="ordinal")
    assert time.perf_counter() - start < 3.0
    assert value == pytest.approx(
        krippendorff.alpha(data, value_domain=np.arange(6), level_of_measurement="ordinal"), abs=1e-9)


def gwet_by_the_book(data: np.ndarray, domain: list[float], weights: str) -> tuple[float, float]:
    """Gwet (2014), ch. 2 and 3, unit by unit in plain Python: (AC1/AC2, Fleiss' kappa) with missing ratings."""
    q = len(domain)
    span = max(domain) - min(domain)
    def w(k, l):
        if weights == "identity":
            return float(k == l)
        if weights == "linear":
            return 1 - abs(domain[k] - domain[l]) / span
        return 1 - (domain[k] - domain[l]) ** 2 / span**2
    units = [[domain.index(v) for v in data[:, u] if not np.isnan(v)] for u in range(data.shape[1])]
    units = [u for u in units if u]
    agreement, paired, prevalence = 0.0, 0, [0.0] * q
    for ratings in units:
        r = len(ratings)
        counts = [ratings.count(k) for k in range(q)]
        for k in range(q):
            prevalence[k] += counts[k] / r / len(units)
        if r >= 2:
            paired += 1
            agreement += sum(counts[k] * (sum(w(k, l) * counts[l] for l in range(q)) - 1) for k in range(q)) / (r * (r - 1))
    pa = agreement / paired
    total_weight = sum(w(k, l) for k in range(q) for l in range(q))
    pe_gwet = total_weight / (q * (q - 1)) * sum(p * (1 - p) for p in prevalence)
    pe_fleiss = sum(p * p for p in prevalence)
    return (pa - pe_gwet) / (1 - pe_gwet), (pa - pe_fleiss) / (1 - pe_fleiss)


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("weights", ["identity", "linear", "quadratic"])
def test_vectorised_gwet_and_fleiss_equal_the_formulas_unit_by_unit(seed, weights):
    data = random_reliability_data(seed, raters=4, clips=120, values=4, missing=0.35) + 1
    domain = [1.0, 2.0, 3.0, 4.0]
    counts = value_counts(data, domain)
    ac, fleiss = gwet_by_the_book(data, domain, weights)
    assert gwet_ac(counts, domain, weights=weights) == pytest.approx(ac, abs=1e-9)
    if weights == "identity":
        assert fleiss_kappa(counts) == pytest.approx(fleiss, abs=1e-9)

"""Chance-corrected agreement coefficients, vectorised over clips.

Input is *reliability data*: shape (R, N), rater by clip, NaN where a rater did
not rate a clip (missing data, as Krippendorff and Gwet define it: a clip with
fewer raters still counts). Values are codes drawn from a `domain` of V values,
ordered when the level is ordinal or interval. Each coefficient is defined once,
as per-clip contributions plus a finish function (see `bootstrap`), so the point
value and every bootstrap resample share one code path.

References: Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability";
Gwet (2014) "Handbook of Inter-Rater Reliability", 4th ed. (AC1/AC2 and
Fleiss' kappa with missing ratings); Cohen (1968) weighted kappa.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from annotation.agreement.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Estimate,
    Finish,
    bootstrap_replicates,
    estimate,
    percentile_interval,
)

Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weights = Literal["identity", "linear", "quadratic"]
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")


# --- input ------------------------------------------------------------------------------------


def as_reliability_data(reliability_data: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Float array (R, N) with NaN for missing; refuses other shapes and dtypes."""
    data = np.asarray(reliability_data)
    if data.dtype.kind not in "iuf":
        raise ValueError(f"reliability data must be numeric codes (NaN for missing), got dtype {data.dtype}")
    if data.ndim != 2:
        raise ValueError(f"reliability data must be (raters, clips), got shape {data.shape}")
    return data.astype(np.float64, copy=False)


def encode(labels: Sequence[Sequence[object]], domain: Sequence[object]) -> np.ndarray:
    """Codes (R, N) for a rater-by-clip table of labels; None or NaN is missing.

    The code of a label is its index in `domain`; an unknown label raises.
    """
    index = {label: i for i, label in enumerate(domain)}
    rows = []
    for r, row in enumerate(labels):
        codes = []
        for n, label in enumerate(row):
            if label is None or (isinstance(label, float) and np.isnan(label)):
                codes.append(np.nan)
            elif label in index:
                codes.append(float(index[label]))
            else:
                raise ValueError(f"label {label!r} (rater {r}, clip {n}) is not in the label set {list(domain)}")
        rows.append(codes)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


def value_counts(reliability_data: np.ndarray, domain: Sequence[float] | np.ndarray) -> np.ndarray:
    """How many raters gave each value to each clip: (R, N) -> (N, V) int.

    Raises ValueError when a rating is not in `domain`.
    """
    data = as_reliability_data(reliability_data)
    domain = np.asarray(domain, dtype=np.float64)
    present = ~np.isnan(data)
    unknown = present & ~np.isin(data, domain)
    if unknown.any():
        bad = np.unique(data[unknown])[:5].tolist()
        raise ValueError(f"ratings {bad} are not in the value domain {domain.tolist()}")
    return (data[..., np.newaxis] == domain).sum(axis=0).astype(np.int64)


def _check_counts(counts: np.ndarray, domain: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != len(domain):
        raise ValueError(f"value counts must be (N, {len(domain)}), got shape {counts.shape}")
    if (counts < 0).any():
        raise ValueError("value counts must not be negative")
    if len(domain) < 2:
        raise ValueError("there has to be more than one value in the domain")
    if not (counts.sum(axis=1) >= 2).any():
        raise ValueError("no clip was rated by at least two raters: agreement is undefined")
    return counts.astype(np.float64)


def _n_raters(reliability_data: np.ndarray | None) -> int:
    if reliability_data is None:
        return 0
    return int((~np.isnan(reliability_data)).any(axis=1).sum())


# --- Krippendorff's alpha -----------------------------------------------------------------------------


def alpha_contributions(counts: np.ndarray) -> np.ndarray:
    """Each clip's share of the coincidence matrix, flattened: (N, V) -> (N, V*V).

    o_u[c, k] = n_uc (n_uk - [c == k]) / (m_u - 1); clips with one rating add nothing.
    """
    n, v = counts.shape
    m = counts.sum(axis=1)
    pairs = counts[:, :, np.newaxis] * counts[:, np.newaxis, :] - counts[:, np.newaxis, :] * np.eye(v)
    scale = np.divide(1.0, m - 1, out=np.zeros_like(m, dtype=np.float64), where=m >= 2)
    return (pairs * scale[:, np.newaxis, np.newaxis]).reshape(n, v * v)


def _distances(domain: np.ndarray, level: Level, n_v: np.ndarray) -> np.ndarray:
    """Squared distances between values, (..., V, V); ordinal ones depend on the marginals n_v (..., V)."""
    c, k = domain[:, np.newaxis], domain[np.newaxis, :]
    if level == "nominal":
        return (c != k).astype(np.float64)
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        total = c + k
        return np.divide(c - k, total, out=np.zeros_like(total), where=total != 0) ** 2
    # Ordinal: (sum of n_g for g between c and k, inclusive, minus half the two end counts) squared.
    cumulative = np.concatenate([np.zeros(n_v.shape[:-1] + (1,)), np.cumsum(n_v, axis=-1)], axis=-1)
    i = np.arange(len(domain))
    lo, hi = np.minimum.outer(i, i), np.maximum.outer(i, i)
    between = cumulative[..., hi + 1] - cumulative[..., lo]
    return (between - (n_v[..., :, np.newaxis] + n_v[..., np.newaxis, :]) / 2) ** 2


def alpha_finish(domain: np.ndarray, level: Level) -> Finish:
    """alpha = 1 - sum(o * d) / sum(e * d), from coincidence sums (..., V*V)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    v = len(domain)

    def finish(totals: np.ndarray) -> np.ndarray:
        o = totals.reshape(totals.shape[:-1] + (v, v))
        n_v = o.sum(axis=-1)
        n = n_v.sum(axis=-1)[..., np.newaxis, np.newaxis]
        e = (n_v[..., :, np.newaxis] * n_v[..., np.newaxis, :] - n_v[..., np.newaxis, :] * np.eye(v)) / (n - 1)
        d = _distances(domain, level, n_v)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1 - (o * d).sum(axis=(-2, -1)) / (e * d).sum(axis=(-2, -1))

    return finish


def _resolve(reliability_data, counts, domain) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    if (reliability_data is None) == (counts is None):
        raise ValueError("give either reliability_data or value_counts, not both")
    if reliability_data is not None:
        data = as_reliability_data(reliability_data)
        if domain is None:
            domain = np.unique(data[~np.isnan(data)])
        domain = np.asarray(domain, dtype=np.float64)
        return data, value_counts(data, domain), domain
    counts = np.asarray(counts)
    domain = np.arange(counts.shape[1], dtype=np.float64) if domain is None else np.asarray(domain, np.float64)
    return None, counts, domain


def krippendorff_alpha(
    reliability_data: np.ndarray | None = None,
    *,
    value_counts: np.ndarray | None = None,
    domain: Sequence[float] | None = None,
    level: Level = "nominal",
) -> float:
    """Krippendorff's alpha from reliability data (R, N) or value counts (N, V).

    `domain` lists the possible values in order (default: the values seen). Ordinal
    uses Krippendorff's rank-based metric, never the interval one.
    """
    _, counts, domain_arr = _resolve(reliability_data, value_counts, domain)
    counts = _check_counts(counts, domain_arr)
    return float(alpha_finish(domain_arr, level)(alpha_contributions(counts).sum(axis=0)))


# --- Fleiss' kappa, Gwet's AC1 / AC2 --------------------------------------------------------------


def weight_matrix(domain: np.ndarray, weights: Weights) -> np.ndarray:
    """Agreement weights (V, V): 1 on the diagonal, falling with distance between values."""
    c, k = domain[:, np.newaxis], domain[np.newaxis, :]
    span = domain.max() - domain.min()
    if weights == "identity":
        return np.eye(len(domain))
    if weights == "linear":
        return 1 - np.abs(c - k) / span
    if weights == "quadratic":
        return 1 - (c - k) ** 2 / span**2
    raise ValueError(f"weights must be identity, linear or quadratic, got {weights!r}")


def chance_corrected_contributions(counts: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per clip: [observed agreement, paired flag, class shares (V), rated flag] -> (N, V + 3).

    Gwet's multi-rater form with missing ratings: observed agreement is averaged over
    clips with two or more ratings, class prevalence over clips with at least one.
    """
    r = counts.sum(axis=1)
    weighted = counts @ w.T  # r*_ik = sum_l w_kl r_il
    paired = r >= 2
    agree = np.divide((counts * (weighted - 1)).sum(axis=1), r * (r - 1), out=np.zeros_like(r), where=paired)
    rated = r >= 1
    shares = np.divide(counts, r[:, np.newaxis], out=np.zeros_like(counts), where=rated[:, np.newaxis])
    return np.column_stack([agree, paired, shares, rated]).astype(np.float64)


def _split(totals: np.ndarray, v: int) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        pa = totals[..., 0] / totals[..., 1]
        pi = totals[..., 2 : 2 + v] / totals[..., 2 + v][..., np.newaxis]
    return pa, pi


def fleiss_finish(v: int) -> Finish:
    def finish(totals: np.ndarray) -> np.ndarray:
        pa, pi = _split(totals, v)
        pe = (pi**2).sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (pa - pe) / (1 - pe)

    return finish


def gwet_finish(w: np.ndarray) -> Finish:
    v = len(w)

    def finish(totals: np.ndarray) -> np.ndarray:
        pa, pi = _split(totals, v)
        pe = w.sum() / (v * (v - 1)) * (pi * (1 - pi)).sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (pa - pe) / (1 - pe)

    return finish


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa (N, V) -> float; equals statsmodels' `fleiss_kappa` when every clip has the same raters,
    and Gwet's generalisation (irrCAC `fleiss.kappa.raw`) when some ratings are missing."""
    counts = _check_counts(counts, np.arange(np.asarray(counts).shape[1]))
    v = counts.shape[1]
    return float(fleiss_finish(v)(chance_corrected_contributions(counts, np.eye(v)).sum(axis=0)))


def gwet_ac(counts: np.ndarray, domain: Sequence[float] | None = None, weights: Weights = "identity") -> float:
    """Gwet's AC1 (identity weights, nominal) or AC2 (linear/quadratic weights, ordinal): (N, V) -> float."""
    counts = np.asarray(counts)
    domain_arr = np.arange(counts.shape[1], dtype=np.float64) if domain is None else np.asarray(domain, np.float64)
    counts = _check_counts(counts, domain_arr)
    w = weight_matrix(domain_arr, weights)
    return float(gwet_finish(w)(chance_corrected_contributions(counts, w).sum(axis=0)))


# --- specific (positive) agreement per class -------------------------------------------------------


def positive_agreement_contributions(counts: np.ndarray) -> np.ndarray:
    """Per clip: [n_uk (n_uk - 1) for each k, n_uk (m_u - 1) for each k] -> (N, 2V)."""
    m = counts.sum(axis=1, keepdims=True)
    return np.concatenate([counts * (counts - 1), counts * (m - 1)], axis=1).astype(np.float64)


def positive_agreement_finish(v: int) -> Finish:
    def finish(totals: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return totals[..., :v] / totals[..., v:]

    return finish


def positive_agreement(counts: np.ndarray) -> np.ndarray:
    """Specific agreement per class (V,): of the rater pairs in which one said k, the share in which both did.

    For two raters this is 2a / (2a + b + c), the positive agreement of Fleiss (1975); NaN for a class nobody used.
    """
    counts = np.asarray(counts, dtype=np.float64)
    return positive_agreement_finish(counts.shape[1])(positive_agreement_contributions(counts).sum(axis=0))


# --- pairwise Cohen's kappa ---------------------------------------------------------------------------


def cohen_contributions(codes_a: np.ndarray, codes_b: np.ndarray, v: int) -> np.ndarray:
    """One-hot outer products of two raters' codes on the clips both rated: (N,), (N,) -> (N, V*V)."""
    both = ~np.isnan(codes_a) & ~np.isnan(codes_b)
    out = np.zeros((len(codes_a), v * v))
    cells = codes_a[both].astype(np.int64) * v + codes_b[both].astype(np.int64)
    out[np.flatnonzero(both), cells] = 1.0
    return out


def cohen_finish(domain: np.ndarray, weights: Weights) -> Finish:
    """kappa = 1 - sum(w * observed) / sum(w * expected) with disagreement weights, as scikit-learn defines it."""
    v = len(domain)
    c, k = domain[:, np.newaxis], domain[np.newaxis, :]
    if weights == "identity":
        disagree = (c != k).astype(np.float64)
    elif weights == "linear":
        disagree = np.abs(c - k)
    elif weights == "quadratic":
        disagree = (c - k) ** 2
    else:
        raise ValueError(f"weights must be identity, linear or quadratic, got {weights!r}")

    def finish(totals: np.ndarray) -> np.ndarray:
        confusion = totals.reshape(totals.shape[:-1] + (v, v))
        n = confusion.sum(axis=(-2, -1))[..., np.newaxis, np.newaxis]
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = confusion.sum(axis=-1)[..., :, np.newaxis] * confusion.sum(axis=-2)[..., np.newaxis, :] / n
            return 1 - (disagree * confusion).sum(axis=(-2, -1)) / (disagree * expected).sum(axis=(-2, -1))

    return finish


def cohen_kappa_matrix(
    reliability_data: np.ndarray, domain: Sequence[float], weights: Weights = "identity"
) -> tuple[np.ndarray, np.ndarray]:
    """Cohen's kappa for every pair of raters on the clips both rated.

    (R, N) -> kappa (R, R) with NaN where a pair shares no clip or kappa is undefined, and
    shared clip counts (R, R). The diagonal is 1 where the rater rated anything.
    """
    data = as_reliability_data(reliability_data)
    domain_arr = np.asarray(domain, dtype=np.float64)
    value_counts(data, domain_arr)  # validates the domain
    codes = np.where(np.isnan(data), np.nan, np.searchsorted(domain_arr, np.nan_to_num(data)))
    v = len(domain_arr)
    onehot = np.zeros(data.shape + (v,))
    rated = ~np.isnan(codes)
    onehot[rated, codes[rated].astype(np.int64)] = 1.0
    confusion = np.einsum("anv,bnw->abvw", onehot, onehot)  # (R, R, V, V)
    shared = confusion.sum(axis=(-2, -1))
    kappa = cohen_finish(domain_arr, weights)(confusion.reshape(len(data), len(data), v * v))
    kappa = np.where(shared > 0, kappa, np.nan)
    return kappa, shared.astype(np.int64)


# --- estimates with bootstrap intervals ------------------------------------------------------------------

Coefficient = Literal["alpha", "fleiss_kappa", "gwet_ac"]


def agreement_estimate(
    reliability_data: np.ndarray,
    *,
    coefficient: Coefficient,
    domain: Sequence[float] | None = None,
    level: Level = "nominal",
    weights: Weights = "identity",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """One coefficient on reliability data (R, N) with a bootstrap interval over clips.

    Clips nobody rated are dropped first; clips with a single rating stay (they count
    towards prevalence in AC1/AC2 and Fleiss, and add nothing to alpha).
    """
    data, counts, domain_arr = _resolve(reliability_data, None, domain)
    counts = _check_counts(counts, domain_arr)
    counts = counts[counts.sum(axis=1) >= 1]
    if coefficient == "alpha":
        contributions, finish = alpha_contributions(counts), alpha_finish(domain_arr, level)
    elif coefficient == "fleiss_kappa":
        v = len(domain_arr)
        contributions, finish = chance_corrected_contributions(counts, np.eye(v)), fleiss_finish(v)
    elif coefficient == "gwet_ac":
        w = weight_matrix(domain_arr, weights)
        contributions, finish = chance_corrected_contributions(counts, w), gwet_finish(w)
    else:
        raise ValueError(f"unknown coefficient {coefficient!r}")
    return estimate(
        contributions, finish, n_raters=_n_raters(data), resamples=resamples, seed=seed, confidence=confidence
    )


def positive_agreement_estimates(
    reliability_data: np.ndarray,
    domain: Sequence[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[Estimate]:
    """Specific agreement for each value of `domain`, each with its interval."""
    data = as_reliability_data(reliability_data)
    counts = value_counts(data, domain).astype(np.float64)
    counts = counts[counts.sum(axis=1) >= 1]
    contributions = positive_agreement_contributions(counts)
    finish = positive_agreement_finish(counts.shape[1])
    values = finish(contributions.sum(axis=0))
    low, high, undefined = percentile_interval(
        bootstrap_replicates(contributions, finish, resamples=resamples, seed=seed), confidence
    )
    n_raters = _n_raters(data)
    return [
        Estimate(float(values[i]), float(low[i]), float(high[i]), len(counts), n_raters, resamples, confidence,
                 undefined)
        for i in range(len(values))
    ]


def mean_pairwise_cohen_estimate(
    reliability_data: np.ndarray,
    domain: Sequence[float],
    *,
    weights: Weights = "identity",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Mean Cohen's kappa over rater pairs that share two or more clips, resampling clips for all pairs at once."""
    data = as_reliability_data(reliability_data)
    domain_arr = np.asarray(domain, dtype=np.float64)
    kappa, shared = cohen_kappa_matrix(data, domain_arr, weights)
    codes = np.where(np.isnan(data), np.nan, np.searchsorted(domain_arr, np.nan_to_num(data)))
    finish = cohen_finish(domain_arr, weights)
    pairs = [(a, b) for a in range(len(data)) for b in range(a + 1, len(data)) if shared[a, b] >= 2]
    if not pairs:
        raise ValueError("no two raters share two or more clips: pairwise kappa is undefined")
    value = float(np.nanmean([kappa[a, b] for a, b in pairs]))
    # Same seed for every pair: each replicate resamples the same clips for all pairs.
    replicates = np.stack(
        [
            bootstrap_replicates(cohen_contributions(codes[a], codes[b], len(domain_arr)), finish,
                                 resamples=resamples, seed=seed)
            for a, b in pairs
        ],
        axis=1,
    )
    finite = np.isfinite(replicates)
    counted = finite.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(finite, replicates, 0.0).sum(axis=1) / counted  # NaN where no pair was defined
    low, high, undefined = percentile_interval(mean, confidence)
    return Estimate(value, float(low), float(high), data.shape[1], _n_raters(data), resamples, confidence, undefined)

"""Agreement on sets of labels: Krippendorff's α with a set distance (MASI or Jaccard), vectorised,
with bootstrap intervals over clips.

Each distinct set that occurs becomes one value v of a domain; δ(v, w) is the set distance between
them (Passonneau 2006 for MASI; Jaccard). With n_uv the raters of clip u who gave set v and m_u the
raters of u, only clips with two or more sets are pairable, and

    α = 1 − (n − 1) Σ_u Σ_{v,w} n_uv n_uw δ(v, w) / (m_u − 1)  /  Σ_{v,w} n_v n_w δ(v, w),

n_v being the pairable count of v and n their sum (Krippendorff 2011, the coincidence form with a
custom δ). Per clip the contributions are [observed disagreement, n_uv for every v] (N, 1 + V), so a
bootstrap replicate is weights @ contributions and one (V, V) product: no loop over resamples.
The pinned `krippendorff` package accepts a callable distance too; the tests check this code
against it and the distances against nltk's `masi_distance` / `jaccard_distance`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np

from annotation.agreement.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED, Estimate, estimate

SetDistance = Literal["masi", "jaccard"]
SET_DISTANCES: tuple[str, ...] = ("masi", "jaccard")
Label = Hashable


def jaccard_distance(a: frozenset, b: frozenset) -> float:
    """1 − |a ∩ b| / |a ∪ b|; two empty sets are identical (0)."""
    union = len(a | b)
    return 0.0 if union == 0 else 1.0 - len(a & b) / union


def masi_distance(a: frozenset, b: frozenset) -> float:
    """MASI (Passonneau 2006): 1 − J·M with M = 1 equal, 2/3 one a subset of the other, 1/3 overlapping,
    0 disjoint; as nltk's `masi_distance`, but two empty sets are identical (0) rather than an error."""
    union, common = len(a | b), len(a & b)
    if union == 0:
        return 0.0
    if len(a) == len(b) == common:
        monotonicity = 1.0
    elif common == min(len(a), len(b)):
        monotonicity = 2 / 3
    elif common > 0:
        monotonicity = 1 / 3
    else:
        monotonicity = 0.0
    return 1.0 - common / union * monotonicity


_DISTANCE = {"masi": masi_distance, "jaccard": jaccard_distance}


def distance_matrix(values: Sequence[frozenset], distance: SetDistance) -> np.ndarray:
    """δ (V, V) between distinct sets; symmetric, 0 on the diagonal."""
    if distance not in _DISTANCE:
        raise ValueError(f"set distance must be one of {SET_DISTANCES}, got {distance!r}")
    measure = _DISTANCE[distance]
    v = len(values)
    out = np.zeros((v, v), dtype=np.float64)
    for i in range(v):
        for j in range(i + 1, v):
            out[i, j] = out[j, i] = measure(values[i], values[j])
    return out


def encode_sets(table: Sequence[Sequence[frozenset | set | None]]) -> tuple[np.ndarray, list[frozenset]]:
    """Rater-by-clip table of sets (None or an empty set: missing) -> codes (R, N) and the distinct sets."""
    index: dict[frozenset, int] = {}
    rows = []
    for row in table:
        codes = []
        for cell in row:
            if not cell:
                codes.append(np.nan)
            else:
                codes.append(float(index.setdefault(frozenset(cell), len(index))))
        rows.append(codes)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1), list(index)


def set_alpha_contributions(codes: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Per clip [observed disagreement, pairable counts per value] -> (N, 1 + V)."""
    v = delta.shape[0]
    present = ~np.isnan(codes)
    counts = np.zeros((codes.shape[1], v), dtype=np.float64)
    raters, clips = np.nonzero(present)
    np.add.at(counts, (clips, codes[raters, clips].astype(np.int64)), 1.0)
    m = counts.sum(axis=1)
    counts[m < 2] = 0.0  # a clip with one set pairs with nothing
    scale = np.divide(1.0, m - 1, out=np.zeros_like(m), where=m >= 2)
    observed = np.einsum("nv,vw,nw->n", counts, delta, counts) * scale
    return np.column_stack([observed, counts])


def set_alpha_finish(delta: np.ndarray):  # noqa: ANN201 - a Finish
    def finish(totals: np.ndarray) -> np.ndarray:
        observed, n_v = totals[..., 0], totals[..., 1:]
        n = n_v.sum(axis=-1)
        expected = ((n_v @ delta) * n_v).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return 1.0 - (n - 1) * observed / expected
    return finish


def set_alpha(table: Sequence[Sequence[frozenset | set | None]], *, distance: SetDistance = "masi") -> float:
    """Krippendorff's α of a rater-by-clip table of sets under a set distance (NaN when nothing varies)."""
    codes, values = encode_sets(table)
    _check(codes, values)
    delta = distance_matrix(values, distance)
    return float(set_alpha_finish(delta)(set_alpha_contributions(codes, delta).sum(axis=0)))


def set_alpha_estimate(table: Sequence[Sequence[frozenset | set | None]], *, distance: SetDistance = "masi",
                       resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                       confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """α with a percentile bootstrap interval over clips (clips with fewer than two sets are left out)."""
    codes, values = encode_sets(table)
    _check(codes, values)
    pairable = (~np.isnan(codes)).sum(axis=0) >= 2
    codes = codes[:, pairable]
    delta = distance_matrix(values, distance)
    n_raters = int((~np.isnan(codes)).any(axis=1).sum())
    return estimate(set_alpha_contributions(codes, delta), set_alpha_finish(delta), n_raters=n_raters,
                    resamples=resamples, seed=seed, confidence=confidence)


def _check(codes: np.ndarray, values: list[frozenset]) -> None:
    if not ((~np.isnan(codes)).sum(axis=0) >= 2).any():
        raise ValueError("no clip has sets from two or more raters: agreement is undefined")
    if len(values) < 2:
        raise ValueError("every rater gave the same set: agreement is undefined (nothing varies)")

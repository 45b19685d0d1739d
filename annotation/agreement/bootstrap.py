"""Bootstrap confidence intervals over clips, vectorised.

Every coefficient here is written as per-clip *contributions* (an (N, K) array
whose column sums are the coefficient's sufficient statistics) and a *finish*
function from those sums to the value. The point estimate is finish(sum over
clips); a bootstrap resample is finish(weights @ contributions), where weights
count how often each clip was drawn. One matrix product per chunk of resamples
replaces a Python loop over resamples.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20231
DEFAULT_CONFIDENCE = 0.95
# Resample weights are drawn in chunks of about this many cells (B x N) to bound memory.
_CHUNK_CELLS = 4_000_000

Finish = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Estimate:
    """A figure with its percentile bootstrap interval and what it rests on."""

    value: float
    ci_low: float
    ci_high: float
    n_clips: int
    n_raters: int
    resamples: int
    confidence: float = DEFAULT_CONFIDENCE
    # Resamples on which the figure was undefined (e.g. one value only); left out of the interval.
    undefined_resamples: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def resample_weights(n_units: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield (B, N) float arrays: how often each unit was drawn, B rows per chunk.

    The chunk size depends only on `n_units`, so a seed always gives the same resamples.
    """
    if n_units < 1:
        raise ValueError("bootstrap needs at least one clip")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_CELLS // n_units)
    done = 0
    while done < resamples:
        b = min(per_chunk, resamples - done)
        drawn = rng.integers(0, n_units, size=(b, n_units))
        weights = np.empty((b, n_units), dtype=np.float64)
        for row in range(b):  # one bincount per resample stays in cache; faster than one over the chunk
            weights[row] = np.bincount(drawn[row], minlength=n_units)
        yield weights
        done += b


def bootstrap_replicates(
    contributions: np.ndarray, finish: Finish, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """Replicates of finish(weights @ contributions), shape (B, ...) .

    contributions: (N, K) per-unit sufficient statistics.
    finish: maps (..., K) sums to (...) or (..., M) values; must be vectorised over leading axes.
    """
    contributions = np.asarray(contributions, dtype=np.float64)
    if contributions.ndim != 2:
        raise ValueError(f"contributions must be (N, K), got shape {contributions.shape}")
    chunks = [finish(weights @ contributions) for weights in resample_weights(len(contributions), resamples, seed)]
    return np.concatenate(chunks, axis=0)


def percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Percentile interval along axis 0, leaving out undefined (non-finite) replicates, and their count."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    finite = np.isfinite(replicates)
    undefined = int((~finite.reshape(len(replicates), -1)).any(axis=1).sum())
    tail = (1 - confidence) / 2 * 100
    masked = np.where(finite, replicates, np.nan)
    with warnings.catch_warnings():
        # A column with no defined replicate gets a NaN interval, on purpose; the count above says so.
        warnings.simplefilter("ignore", RuntimeWarning)
        low = np.nanpercentile(masked, tail, axis=0)
        high = np.nanpercentile(masked, 100 - tail, axis=0)
    return low, high, undefined


def estimate(
    contributions: np.ndarray,
    finish: Finish,
    *,
    n_raters: int,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Point value and bootstrap interval of a scalar figure defined by contributions and finish."""
    contributions = np.asarray(contributions, dtype=np.float64)
    value = float(finish(contributions.sum(axis=0)))
    replicates = bootstrap_replicates(contributions, finish, resamples=resamples, seed=seed)
    low, high, undefined = percentile_interval(replicates, confidence)
    return Estimate(
        value=value, ci_low=float(low), ci_high=float(high), n_clips=len(contributions), n_raters=n_raters,
        resamples=resamples, confidence=confidence, undefined_resamples=undefined,
    )

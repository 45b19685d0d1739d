"""Agreement at scale: ClueLab's vectorised coefficients against the `krippendorff` package, same run.

    python bench/agreement.py [--clips 100000] [--raters 5] [--resamples 1000]

Reliability data: raters x clips, 20% of ratings missing, 6 emotion values (nominal)
and the 1-4 reasoning rating (ordinal). The bootstrap reference resamples clips and
calls `krippendorff.alpha` once per resample; it is timed on a subset of the resamples
and scaled to the full count (marked "est.").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import krippendorff
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotation.agreement import agreement_estimate, krippendorff_alpha  # noqa: E402


def timed(function, repeat: int = 3):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def make_data(clips: int, raters: int, values: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.choice(values, clips)
    data = np.where(rng.random((raters, clips)) < 0.6, truth, rng.choice(values, (raters, clips))).astype(np.float64)
    data[rng.random(data.shape) < 0.2] = np.nan
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--raters", type=int, default=5)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--reference-resamples", type=int, default=20,
                        help="resamples the package is actually timed on for the bootstrap row")
    args = parser.parse_args()

    rows = []
    for name, level, values in [("alpha nominal (6 labels)", "nominal", np.arange(6.0)),
                                ("alpha ordinal (rating 1-4)", "ordinal", np.arange(1.0, 5.0))]:
        data = make_data(args.clips, args.raters, values, seed=1)
        ours_s, ours = timed(lambda data=data, values=values, level=level: krippendorff_alpha(data, domain=values, level=level))
        ref_s, ref = timed(lambda data=data, values=values, level=level: krippendorff.alpha(
            data, value_domain=values, level_of_measurement=level))
        rows.append((name, ours_s, ref_s, "", abs(ours - ref)))

    data = make_data(args.clips, args.raters, np.arange(6.0), seed=2)
    ours_s, est = timed(lambda: agreement_estimate(data, coefficient="alpha", level="nominal",
                                                   resamples=args.resamples, seed=3), repeat=1)
    rng = np.random.default_rng(3)
    start = time.perf_counter()
    for _ in range(args.reference_resamples):
        picked = rng.integers(0, data.shape[1], data.shape[1])
        krippendorff.alpha(data[:, picked], value_domain=np.arange(6.0), level_of_measurement="nominal")
    ref_s = (time.perf_counter() - start) * args.resamples / args.reference_resamples
    rows.append((f"bootstrap alpha nominal, {args.resamples} resamples", ours_s, ref_s, "est.", float("nan")))

    print(f"{args.clips:,} clips x {args.raters} raters, 20% missing")
    print(f"{'figure':46} {'ClueLab s':>10} {'krippendorff s':>15} {'ratio':>7} {'|diff|':>9}")
    for name, ours_s, ref_s, mark, diff in rows:
        diff_text = "" if np.isnan(diff) else f"{diff:.1e}"
        print(f"{name:46} {ours_s:10.3f} {ref_s:11.3f} {mark:>3} {ref_s / ours_s:6.1f}x {diff_text:>9}")
    print(f"bootstrap alpha = {est.value:.4f} [{est.ci_low:.4f}, {est.ci_high:.4f}] "
          f"on {est.n_clips:,} clips, {est.n_raters} raters")


if __name__ == "__main__":
    main()

"""Emotion-wheel scoring at MER2025 scale: ClueLab's vectorised scorer against a naive word-by-word reference.

    python bench/openset_metric.py [--samples 20000] [--seed 0]

MER2025 Track 2 scored 20,000 candidate samples. Gold and predictions are random lists of 0-6 words drawn
from the shipped tables' word forms and wheel words, with some unknown words, mixed case and padding. The
reference below follows the rules one word, one sample, one wheel at a time (as the official scorer does),
without precomputed tables; both must give the same numbers.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotation.evaluation.wheel import WheelData, load_wheel, score_openset  # noqa: E402


def naive_scores(gold: dict, pred: dict, data: WheelData) -> dict[str, tuple[float, float, float]]:
    """Level-1/level-2 (mean over wheels) and case1/case2 (F, P, R), computed the slow, obvious way."""
    def category(word: str, metric: str) -> str | None:
        bases = data.format_mapping.get(word.lower().strip())
        if not bases:
            return None
        if metric == "case1":
            return sorted(bases)[0]
        if metric == "case2":
            return sorted(data.raw_mapping[sorted(bases)[0]])[0]
        wheel, level = metric.split("/")
        reachable = sorted(w for base in bases for w in data.raw_mapping[base])
        return next((data.wheels[wheel][level][w] for w in reachable if w in data.wheels[wheel][level]), None)

    def prf(metric: str) -> list[float]:
        precision, recall = [], []
        for name, words in gold.items():
            g = {c for c in (category(w, metric) for w in words) if c is not None}
            p = {c for c in (category(w, metric) for w in pred.get(name, [])) if c is not None}
            if not g:
                continue
            precision.append(len(g & p) / len(p) if p else 0)
            recall.append(len(g & p) / len(g) if p else 0)
        mp = float(np.mean(precision)) if precision else 0.0
        mr = float(np.mean(recall)) if recall else 0.0
        return [0.0 if mp + mr == 0 else 2 * (mp * mr) / (mp + mr), mp, mr]

    out = {case: tuple(prf(case)) for case in ("case1", "case2")}
    for level in ("level1", "level2"):
        out[level] = tuple(np.mean([prf(f"{wheel}/{level}") for wheel in sorted(data.wheels)], axis=0).tolist())
    return out


def make_samples(n: int, data: WheelData, seed: int) -> tuple[dict, dict]:
    rng = random.Random(seed)
    forms = sorted(data.format_mapping)
    wheel_words = sorted({w for levels in data.wheels.values() for m in levels.values() for w in m})
    unknown = ["zzz", "meh", "not-an-emotion"]

    def word() -> str:
        roll = rng.random()
        text = rng.choice(forms) if roll < 0.6 else rng.choice(wheel_words) if roll < 0.9 else rng.choice(unknown)
        return (" " + text.title()) if rng.random() < 0.2 else text

    gold = {f"sample_{i:08d}": [word() for _ in range(rng.randint(0, 6))] for i in range(n)}
    pred = {name: words[: rng.randint(0, len(words))] + [word() for _ in range(rng.randint(0, 4))]
            for name, words in gold.items()}
    return gold, pred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    data = load_wheel()
    load_s = time.perf_counter() - start
    gold, pred = make_samples(args.samples, data, args.seed)

    start = time.perf_counter()
    ours = score_openset(gold, pred, data=data)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    reference = naive_scores(gold, pred, data)
    ref_s = time.perf_counter() - start

    worst = max(abs(a - b) for key, triple in reference.items()
                for a, b in zip((getattr(ours, key).f, getattr(ours, key).precision, getattr(ours, key).recall),
                                triple, strict=True))
    print(f"{args.samples:,} samples, 5 wheels x 2 levels + case1 + case2 (tables loaded once in {load_s:.2f} s)")
    print(f"{'implementation':20} {'seconds':>9} {'samples/s':>12}")
    for name, seconds in (("ClueLab", ours_s), ("naive reference", ref_s)):
        print(f"{name:20} {seconds:9.3f} {args.samples / seconds:12,.0f}")
    print(f"level-1 F {ours.level1.f:.6f}, level-2 F {ours.level2.f:.6f}, case1 F {ours.case1.f:.6f}, "
          f"case2 F {ours.case2.f:.6f}; max |ClueLab - reference| = {worst:.1e}")
    if worst > 1e-12:
        raise SystemExit("the two implementations disagree")


if __name__ == "__main__":
    main()

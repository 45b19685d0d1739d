"""Agreement and effort on free-text clues.

Semantic agreement: mean cosine similarity of sentence embeddings between
annotators on the same clip, corrected for chance against random pairs of
clues from different clips: corrected = (raw - chance) / (1 - chance), so 0 is
"no more alike than clues of unrelated clips" and 1 is identical meaning.

Effort: normalised token edit distance of each annotator's clue from the
model's pre-annotation (0 = accepted as is, 1 = rewritten entirely).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from annotation.agreement.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Estimate,
    estimate,
)
from annotation.text import normalized_edit_distance

Embed = Callable[[Sequence[str]], np.ndarray]
DEFAULT_CHANCE_PAIRS = 2000


@dataclass(frozen=True)
class ClueText:
    """One annotator's clue for one clip (one aspect)."""

    clip: Hashable
    annotator: Hashable
    text: str


@dataclass(frozen=True)
class SemanticAgreement:
    raw: Estimate  # mean similarity of same-clip pairs
    chance: float  # mean similarity of different-clip pairs
    chance_pairs: int
    # (raw - chance) / (1 - chance); None when clues of different clips are as alike as
    # clues of one clip can be (chance ~ 1), where no correction is defined.
    corrected: Estimate | None


def default_embed(texts: Sequence[str]) -> np.ndarray:
    """Multilingual sentence embeddings, each distinct text embedded once: (N,) -> (N, D) unit rows.

    Annotators often keep the model's clue or each other's wording, so duplicates are common.
    """
    from annotation.embeddings import embed

    texts = list(texts)
    unique = list(dict.fromkeys(texts))
    if len(unique) == len(texts):
        return embed(texts)
    vectors = embed(unique)
    position = {text: i for i, text in enumerate(unique)}
    return vectors[[position[t] for t in texts]]


def _filled(clues: Sequence[ClueText]) -> list[ClueText]:
    return [c for c in clues if c.text and c.text.strip()]


def semantic_agreement(
    clues: Sequence[ClueText],
    *,
    embed: Embed | None = None,
    chance_pairs: int = DEFAULT_CHANCE_PAIRS,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> SemanticAgreement:
    """Chance-corrected semantic agreement of clues; empty clues are left out.

    Raises ValueError when no clip has two non-empty clues, or fewer than two clips have any.
    """
    filled = _filled(clues)
    by_clip: dict[Hashable, list[int]] = defaultdict(list)
    for i, clue in enumerate(filled):
        by_clip[clue.clip].append(i)
    paired_clips = [idx for idx in by_clip.values() if len(idx) >= 2]
    if not paired_clips:
        raise ValueError("no clip has clues from two annotators: semantic agreement is undefined")
    if len(by_clip) < 2:
        raise ValueError("chance agreement needs clues from at least two clips")
    vectors = (embed or default_embed)([c.text for c in filled])
    similarity = vectors @ vectors.T  # unit vectors: cosine

    # Per clip: [sum of pairwise similarities, number of pairs].
    contributions = np.zeros((len(paired_clips), 2))
    for row, idx in enumerate(paired_clips):
        block = similarity[np.ix_(idx, idx)]
        upper = np.triu_indices(len(idx), k=1)
        contributions[row] = block[upper].sum(), len(upper[0])

    clip_index = {clip: i for i, clip in enumerate(by_clip)}
    clip_of = np.array([clip_index[c.clip] for c in filled])
    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(filled), size=chance_pairs * 4)
    second = rng.integers(0, len(filled), size=chance_pairs * 4)
    different = clip_of[first] != clip_of[second]
    first, second = first[different][:chance_pairs], second[different][:chance_pairs]
    chance = float(similarity[first, second].mean())

    def raw_finish(totals: np.ndarray) -> np.ndarray:
        return totals[..., 0] / totals[..., 1]

    def corrected_finish(totals: np.ndarray) -> np.ndarray:
        return (raw_finish(totals) - chance) / (1 - chance)

    n_raters = len({c.annotator for c in filled})
    common = dict(n_raters=n_raters, resamples=resamples, seed=seed, confidence=confidence)
    if len(first) == 0:
        raise ValueError("no pair of clues from different clips to estimate chance agreement")
    defined = 1 - chance > 1e-6
    return SemanticAgreement(
        raw=estimate(contributions, raw_finish, **common),
        chance=chance,
        chance_pairs=len(first),
        corrected=estimate(contributions, corrected_finish, **common) if defined else None,
    )


def clip_similarity(texts: Sequence[str], *, embed: Embed | None = None) -> float | None:
    """Mean pairwise cosine similarity of one clip's non-empty clues; None with fewer than two."""
    texts = [t for t in texts if t and t.strip()]
    if len(texts) < 2:
        return None
    vectors = (embed or default_embed)(texts)
    upper = np.triu_indices(len(texts), k=1)
    return float((vectors @ vectors.T)[upper].mean())


def edit_effort(
    clues: Sequence[ClueText],
    model_clues: dict[Hashable, str],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Mean normalised edit distance of annotators' clues from the model's, clips resampled.

    Only clips the model pre-annotated count, and only clues where the model or the annotator wrote
    something; an annotator who emptied the model's clue scores 1.
    """
    per_clip: dict[Hashable, list[float]] = defaultdict(list)
    annotators = set()
    for clue in clues:
        if clue.clip not in model_clues:
            continue
        if not (model_clues[clue.clip] or "").strip() and not (clue.text or "").strip():
            continue  # neither wrote anything for this aspect: no effort to measure
        per_clip[clue.clip].append(normalized_edit_distance(model_clues[clue.clip] or "", clue.text or ""))
        annotators.add(clue.annotator)
    if not per_clip:
        raise ValueError("no annotated clip has a model clue or an annotator clue to compare")
    contributions = np.array([[sum(d), len(d)] for d in per_clip.values()], dtype=np.float64)
    return estimate(
        contributions, lambda t: t[..., 0] / t[..., 1], n_raters=len(annotators),
        resamples=resamples, seed=seed, confidence=confidence,
    )

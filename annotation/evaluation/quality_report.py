"""Reference-free clue quality from the database: one prediction (Annotate, Adjudicate) or a whole
system (Evaluate). The checks themselves are `annotation.evaluation.clue_quality`; this module fetches
the clues, the clip's transcript and its newest cached features.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sqlmodel import Session

from annotation.evaluation.clue_quality import (
    MODALITIES,
    UNKNOWN,
    ClueQuality,
    assess,
    consistency_scores,
    grounding_claims,
    modality_coverage,
    uses_aspect,
)
from annotation.evaluation.metrics import clues_of
from annotation.formats.export_service import gather_rows
from core.vocabulary import ASPECTS
from db.engine import with_session
from db.queries import clips as clip_queries
from db.queries import model_versions as feature_queries
from db.queries import predictions as prediction_queries
from db.queries.references import clip_ids_by_name

Embed = Callable[[Sequence[str]], np.ndarray]
DEFAULT_MAX_CLIPS = 500
SYSTEM_COLUMNS = ["system", "clips", *[f"grounded_{a.value}" for a in ASPECTS], "claims_checked",
                  "claims_unsupported", "consistent", "consistency_margin",
                  *[f"uses_{m}" for m in MODALITIES], "coverage"]


def _default_embed() -> Embed:
    from annotation.embeddings import embed

    return embed


@with_session
def prediction_quality(session: Session, *, prediction_id: int, embed: Embed | None = None,
                       consistency: bool = True) -> ClueQuality | None:
    """Grounding, consistency and coverage of one model prediction's clues; None if it does not exist.

    `consistency=False` skips the sentence encoder: grounding and coverage are plain look-ups, cheap
    enough for the Annotate page's budget, while the encoder's threads would compete with it."""
    prediction = prediction_queries.get_prediction(session, prediction_id=prediction_id)
    if prediction is None:
        return None
    clip = clip_queries.get_clip(session, clip_id=prediction.clip_id)
    dataset = clip_queries.get_dataset(session, dataset_id=clip.dataset_id)
    features = feature_queries.latest_features(session, clip_ids=[clip.id]).get(clip.id, {})
    candidates = list(dataset.label_set) or list(prediction.distribution or {})
    return assess(dict(prediction.clues or {}), emotion=prediction.emotion, features=features,
                  transcript=clip.transcript, candidates=candidates,
                  embed=(embed or _default_embed()) if consistency else None)


@with_session
def system_quality(session: Session, *, dataset_id: int, systems: Sequence[str], embed: Embed | None = None,
                   max_clips: int = DEFAULT_MAX_CLIPS, seed: int = 0) -> pd.DataFrame:
    """Per system: share of checked claims that hold per aspect, share of reasonings consistent with
    their emotion, and modality coverage. Large systems are scored on a seeded sample of `max_clips`."""
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise LookupError(f"dataset {dataset_id} does not exist")
    embed = embed or _default_embed()
    records = []
    for system in systems:
        rows = [r for r in gather_rows(session, dataset_id=dataset_id, source=system)
                if any((v or "").strip() for v in clues_of(r).values())]
        if len(rows) > max_clips:
            keep = np.random.default_rng(seed).choice(len(rows), size=max_clips, replace=False)
            rows = [rows[i] for i in sorted(keep)]
        if not rows:
            continue
        ids = clip_ids_by_name(session, dataset_id=dataset_id, names=[r.name for r in rows])
        features = feature_queries.latest_features(session, clip_ids=sorted(set(ids.values())))
        clues = [clues_of(r) for r in rows]
        claims = [grounding_claims(c, features.get(ids.get(r.name, -1), {}), r.transcript)
                  for c, r in zip(clues, rows, strict=True)]
        texts = [" ".join((c.get(a.value) or "").strip() for a in ASPECTS if uses_aspect(c.get(a.value)))
                 for c in clues]
        consistency = consistency_scores(texts, [r.emotion for r in rows], list(dataset.label_set), embed=embed)
        coverage = [modality_coverage(c) for c in clues]
        record: dict[str, object] = {"system": system, "clips": len(rows)}
        checked = [claim for per_clip in claims for claim in per_clip if claim.status != UNKNOWN]
        for aspect in ASPECTS:
            mine = [c for c in checked if c.aspect == aspect.value]
            record[f"grounded_{aspect.value}"] = (sum(c.status == "ok" for c in mine) / len(mine)) if mine else None
        record["claims_checked"] = len(checked)
        record["claims_unsupported"] = sum(c.status == "unsupported" for c in checked)
        scored = [c for c in consistency if c[1] is not None]
        record["consistent"] = (sum(bool(c[1]) for c in scored) / len(scored)) if scored else None
        record["consistency_margin"] = float(np.mean([c[0] for c in scored])) if scored else None
        for modality in MODALITIES:
            record[f"uses_{modality}"] = float(np.mean([c[modality] for c in coverage]))
        record["coverage"] = float(np.mean([sum(c.values()) / len(MODALITIES) for c in coverage]))
        records.append(record)
    return pd.DataFrame(records, columns=SYSTEM_COLUMNS)

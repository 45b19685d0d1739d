"""Agreement on open-vocabulary emotion word sets, for the Agreement page.

Every submitted annotation's words are mapped to one wheel at one level (`annotation.evaluation.
word_sets.category_set`), then Krippendorff's α with MASI and with Jaccard distance is computed over
the mapped sets, overall and per annotator. Per annotator ClueLab reports α with that annotator left
out (a rise means they pull agreement down) and their mean set distance to the others on shared clips.
An annotation with no words is missing, not an empty set.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlmodel import Session

from annotation.agreement.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from annotation.agreement.sets import SET_DISTANCES, jaccard_distance, masi_distance, set_alpha, set_alpha_estimate
from annotation.evaluation.word_sets import DEFAULT_LEVEL, DEFAULT_WHEEL, category_set
from core.vocabulary import AnnotationStatus
from db.engine import with_session
from db.queries import clips as clip_queries
from db.queries import consensus as queries
from db.queries import users as user_queries

FIGURE_COLUMNS = ["distance", "value", "ci_low", "ci_high", "n_clips", "n_raters", "resamples", "confidence",
                  "undefined_resamples"]
ANNOTATOR_COLUMNS = ["annotator", "user_id", "clips_with_words", "shared_clips", "masi_alpha_without",
                     "masi_alpha_change", "mean_masi_to_others", "mean_jaccard_to_others"]


@dataclass
class WordSetAgreement:
    metric: str
    figures: pd.DataFrame  # one row per distance (masi, jaccard)
    annotators: pd.DataFrame
    n_annotations: int = 0  # submitted annotations with at least one word
    notes: list[str] = field(default_factory=list)


@with_session
def word_set_agreement(session: Session, *, dataset_id: int, metric: str = f"{DEFAULT_WHEEL}/{DEFAULT_LEVEL}",
                       resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> WordSetAgreement:
    """α (MASI, Jaccard) on the wheel-mapped word sets of one dataset's submitted annotations."""
    if clip_queries.get_dataset(session, dataset_id=dataset_id) is None:
        raise LookupError(f"dataset {dataset_id} does not exist")
    rows = queries.dataset_annotations(session, dataset_id=dataset_id, statuses=[AnnotationStatus.submitted.value])
    sets: dict[int, dict[int, frozenset]] = defaultdict(dict)  # user -> clip -> mapped set
    for a in rows:
        if a.emotion_words:
            sets[a.user_id][a.clip_id] = category_set(a.emotion_words, metric=metric)
    raters = sorted(sets)
    clips = sorted({c for mine in sets.values() for c in mine})
    table = [[sets[r].get(c) for c in clips] for r in raters]
    notes: list[str] = []
    figures = []
    for distance in SET_DISTANCES:
        try:
            est = set_alpha_estimate(table, distance=distance, resamples=resamples, seed=seed)  # type: ignore[arg-type]
        except ValueError as error:
            notes.append(f"{distance}: {error}")
            continue
        figures.append({"distance": distance, **est.as_dict()})

    users = user_queries.users_by_id(session, user_ids=raters)
    people = []
    for i, rater in enumerate(raters):
        others = [row for j, row in enumerate(table) if j != i]
        shared = [c for c in range(len(clips)) if table[i][c] and any(row[c] for row in others)]
        try:
            without = set_alpha(others, distance="masi") if len(others) >= 2 else float("nan")
        except ValueError:
            without = float("nan")
        overall = next((f["value"] for f in figures if f["distance"] == "masi"), float("nan"))
        pairs = [(table[i][c], row[c]) for c in shared for row in others if row[c]]
        user = users.get(rater)
        people.append({
            "annotator": (user.display_name or user.username) if user else str(rater), "user_id": rater,
            "clips_with_words": len(sets[rater]), "shared_clips": len(shared),
            "masi_alpha_without": without, "masi_alpha_change": without - overall,
            "mean_masi_to_others": float(np.mean([masi_distance(a, b) for a, b in pairs])) if pairs else None,
            "mean_jaccard_to_others": float(np.mean([jaccard_distance(a, b) for a, b in pairs])) if pairs else None,
        })
    return WordSetAgreement(metric=metric, figures=pd.DataFrame(figures, columns=FIGURE_COLUMNS),
                            annotators=pd.DataFrame(people, columns=ANNOTATOR_COLUMNS),
                            n_annotations=sum(len(m) for m in sets.values()), notes=notes)

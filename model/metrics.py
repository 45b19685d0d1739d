"""Model quality on held-out consensus: emotion metrics and clue metrics."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotation.text import normalized_edit_distance
from annotation.vocabulary import Aspect


def emotion_metrics(truth: list[str], predicted: list[str], labels: list[str]) -> dict[str, Any]:
    """Accuracy (= WAR), weighted F1 (MER2023), UAR (DFEW) from `annotation.metrics`, plus per-class F1 and confusion."""
    from sklearn.metrics import confusion_matrix, f1_score

    from annotation.metrics import classification_metrics

    if not truth:
        return {"n": 0}
    present = [label for label in labels if label in set(truth) | set(predicted)]
    seen = [label for label in labels if label in set(truth)]
    per_class = f1_score(truth, predicted, labels=seen, average=None, zero_division=0)
    scores = classification_metrics(truth, predicted)
    return {
        "n": len(truth),
        **{name: round(value, 4) for name, value in scores.items()},
        "per_class_f1": {label: round(float(v), 4) for label, v in zip(seen, per_class)},
        "confusion": {"labels": present,
                      "matrix": confusion_matrix(truth, predicted, labels=present).astype(int).tolist()},
    }


def clue_similarity(predicted: list[dict[str, str]], reference: list[dict[str, str]]) -> dict[str, float]:
    """Mean embedding cosine between predicted and consensus clue, per aspect (pairs with a reference only)."""
    from model.embeddings import embed

    out: dict[str, float] = {}
    for aspect in Aspect:
        pairs = [(p.get(aspect.value, ""), r.get(aspect.value, "")) for p, r in zip(predicted, reference)
                 if (r.get(aspect.value) or "").strip()]
        if not pairs:
            continue
        a = embed([p for p, _ in pairs])
        b = embed([r for _, r in pairs])
        out[aspect.value] = round(float(np.mean(np.sum(a * b, axis=1))), 4)
    return out


def clue_overlap(predicted: list[dict[str, str]], reference: list[dict[str, str]]) -> dict[str, float]:
    """The EMER-scale offline proxy (0 = chance, 10 = same text) from `annotation.metrics`."""
    from annotation.metrics import clue_overlap_proxy

    if len(reference) < 2:
        return {}
    return {k: round(v, 3) for k, v in clue_overlap_proxy(reference, predicted).items() if not k.endswith("_chance")}


def edit_distance_from_model(pairs: list[tuple[dict[str, str], dict[str, str]]]) -> dict[str, float]:
    """Mean normalised edit distance from the model's clues to the annotators' submitted clues, per aspect."""
    out: dict[str, float] = {}
    for aspect in Aspect:
        values = [normalized_edit_distance(model.get(aspect.value, "") or "", human.get(aspect.value, "") or "")
                  for model, human in pairs if aspect.value in human]
        if values:
            out[aspect.value] = round(float(np.mean(values)), 4)
    if out:
        out["mean"] = round(float(np.mean(list(out.values()))), 4)
    return out

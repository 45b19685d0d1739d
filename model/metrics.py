"""Model quality on held-out consensus: emotion metrics and clue metrics."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotation.text import normalized_edit_distance
from annotation.vocabulary import Aspect


def emotion_metrics(truth: list[str], predicted: list[str], labels: list[str]) -> dict[str, Any]:
    """Accuracy (= WAR), weighted F1 (MER2023), UAR (mean per-class recall, DFEW), per-class F1, confusion."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

    if not truth:
        return {"n": 0}
    present = [label for label in labels if label in set(truth) | set(predicted)]
    seen = [label for label in labels if label in set(truth)]
    per_class = f1_score(truth, predicted, labels=seen, average=None, zero_division=0)
    return {
        "n": len(truth),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "weighted_f1": round(float(f1_score(truth, predicted, labels=seen, average="weighted", zero_division=0)), 4),
        "uar": round(float(recall_score(truth, predicted, labels=seen, average="macro", zero_division=0)), 4),
        "war": round(float(accuracy_score(truth, predicted)), 4),
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

"""Plain rows about model versions for pages and the CLI: metrics flattened, learning curve points."""

from __future__ import annotations

from typing import Any

from db.models import ModelVersion


def _mean(values: dict[str, float] | None) -> float | None:
    values = {k: v for k, v in (values or {}).items() if k != "mean"}
    return round(sum(values.values()) / len(values), 4) if values else None


def version_row(version: ModelVersion) -> dict[str, Any]:
    metrics = version.metrics or {}
    held = metrics.get("held_out") or metrics.get("evaluation") or {}
    edits = metrics.get("annotator_edit_distance") or {}
    return {
        "id": version.id,
        "name": version.name,
        "backend": version.backend,
        "parent": version.parent_id,
        "active": version.is_active,
        "train clips": metrics.get("train_size"),
        "held-out clips": held.get("n"),
        "accuracy": held.get("accuracy"),
        "weighted F1": held.get("weighted_f1"),
        "UAR": held.get("uar"),
        "WAR": held.get("war"),
        "clue similarity": _mean(held.get("clue_similarity")),
        "clue overlap (0-10)": (held.get("clue_overlap") or {}).get("overall"),
        "annotator edits": edits.get("mean"),
        "parent weighted F1": (metrics.get("parent_held_out") or {}).get("weighted_f1"),
        "created": version.created_at,
    }


def learning_curve(versions: list[ModelVersion]) -> list[dict[str, Any]]:
    """One point per trained version and metric, in training order (x = training clips)."""
    points = []
    for v in versions:
        held = (v.metrics or {}).get("held_out")
        if not held or held.get("n", 0) == 0:
            continue
        for metric, key in (("weighted F1", "weighted_f1"), ("UAR", "uar"), ("accuracy", "accuracy")):
            if held.get(key) is not None:
                points.append({"version": v.name, "train clips": v.metrics.get("train_size", 0),
                               "metric": metric, "value": held[key]})
        similarity = _mean(held.get("clue_similarity"))
        if similarity is not None:
            points.append({"version": v.name, "train clips": v.metrics.get("train_size", 0),
                           "metric": "clue similarity", "value": similarity})
    return points


def confusion_of(version: ModelVersion) -> dict[str, Any] | None:
    held = (version.metrics or {}).get("held_out") or (version.metrics or {}).get("evaluation") or {}
    confusion = held.get("confusion")
    return confusion if confusion and confusion.get("labels") else None

"""A prediction's verification flags, stored without a migration (its words have their own column).

`Prediction` has no column for them, so they ride in its `spans` JSON list as one extra record whose
aspect is "notes": the player draws only the four aspects' spans and the exports read only the span
keys they know (`start`, `label`, `kind == "emotion_peak"`, `aus`, `frame`), so the record is inert
there. `read_notes` takes it back out; `time_spans` gives the spans without it.
"""

from __future__ import annotations

from typing import Any

from model.base import ClipPrediction

NOTES_ASPECT = "notes"


def stored_spans(prediction: ClipPrediction) -> list[dict[str, Any]]:
    """The prediction's spans as stored: its time spans, then its notes record when it has notes."""
    spans = [s.model_dump(mode="json") for s in prediction.spans]
    if prediction.flags:
        spans.append({"aspect": NOTES_ASPECT, "kind": "model_notes", "start": 0.0, "end": 0.0, "label": "",
                      "flags": {a.value: why for a, why in prediction.flags.items()}})
    return spans


def read_notes(spans: list[dict[str, Any]] | None) -> dict[str, Any]:
    """{"flags": {aspect: why}, "emotion_words": [...]} from stored spans (empty when there are none)."""
    for span in spans or []:
        if span.get("aspect") == NOTES_ASPECT:
            return {"flags": dict(span.get("flags") or {}), "emotion_words": list(span.get("emotion_words") or [])}
    return {"flags": {}, "emotion_words": []}


def time_spans(spans: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [s for s in spans or [] if s.get("aspect") != NOTES_ASPECT]

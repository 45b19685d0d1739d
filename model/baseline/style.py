"""The team's clue style: consensus phrasing retrieved from the nearest labelled clips.

At training time every consensus clue sentence is embedded and stored with its
clip's evidence embedding and emotion. At prediction time the nearest labelled
clips (by evidence embedding) offer their sentences for each aspect; the one
closest in meaning to the measured clue leads, and the measured evidence follows,
so the clue reads like the team's while still citing what was measured.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from annotation.embeddings import embed
from annotation.text import split_sentences
from core.vocabulary import Aspect

NEIGHBOURS = 5
# Unrelated sentences score up to ~0.2 with this encoder; below that a phrase is off-topic for the aspect.
MIN_SIMILARITY = 0.15


def evidence_text(clues: dict[Aspect, str] | dict[str, str]) -> str:
    return " ".join(str(v) for v in clues.values())


class ClueStyle:
    def __init__(self, clip_vectors: np.ndarray, emotions: list[str | None],
                 sentences: list[dict[str, Any]], sentence_vectors: np.ndarray) -> None:
        self.clip_vectors = clip_vectors  # (N, 512) evidence embedding per labelled clip
        self.emotions = emotions
        self.sentences = sentences  # [{"clip": i, "aspect": "facial", "text": ...}]
        self.sentence_vectors = sentence_vectors  # (S, 512)

    @classmethod
    def fit(cls, evidence: list[dict[Aspect, str]], consensus: list[dict[str, str]],
            emotions: list[str | None]) -> ClueStyle:
        clip_vectors = embed([evidence_text(e) for e in evidence])
        sentences = []
        for i, clues in enumerate(consensus):
            for aspect in Aspect:
                for sentence in split_sentences(clues.get(aspect.value, "") or ""):
                    sentences.append({"clip": i, "aspect": aspect.value, "text": sentence})
        sentence_vectors = embed([s["text"] for s in sentences]) if sentences else np.zeros((0, clip_vectors.shape[1]), np.float32)
        return cls(clip_vectors, emotions, sentences, sentence_vectors)

    def blend(self, measured: dict[Aspect, str], evidence_aspects: set[Aspect], emotion: str | None) -> dict[Aspect, str]:
        """Measured clues with the team's nearest phrasing leading, per aspect that has evidence."""
        if not self.sentences:
            return dict(measured)
        query = embed([evidence_text(measured)])[0]
        similarity = self.clip_vectors @ query
        if emotion is not None:  # prefer neighbours that the team labelled with the same emotion
            similarity = similarity + 0.2 * np.array([e == emotion for e in self.emotions], dtype=np.float32)
        order = np.argsort(-similarity)[:NEIGHBOURS]
        nearest = {int(i): float(similarity[i]) for i in order}
        out = dict(measured)
        aspect_vectors = embed([measured[a] for a in Aspect])
        for k, aspect in enumerate(Aspect):
            if aspect not in evidence_aspects:
                continue
            rows = [j for j, s in enumerate(self.sentences) if s["aspect"] == aspect.value and s["clip"] in nearest]
            if not rows:
                continue
            fit = self.sentence_vectors[rows] @ aspect_vectors[k]
            # The nearest clip's phrasing wins unless another neighbour's fits the measured evidence much better.
            scores = fit + np.array([nearest[self.sentences[j]["clip"]] for j in rows])
            best = int(np.argmax(scores))
            if fit[best] >= MIN_SIMILARITY:
                phrase = self.sentences[rows[best]]["text"].rstrip("。.；; ")
                zh = any("\u4e00" <= c <= "\u9fff" for c in measured[aspect])
                out[aspect] = f"{phrase}。{measured[aspect]}" if zh else f"{phrase}. {measured[aspect]}"
        return out

    def save(self, folder: Path) -> None:
        np.savez_compressed(folder / "style.npz", clip_vectors=self.clip_vectors, sentence_vectors=self.sentence_vectors)
        (folder / "style.json").write_text(json.dumps({"emotions": self.emotions, "sentences": self.sentences},
                                                       ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ClueStyle:
        arrays = np.load(folder / "style.npz")
        meta = json.loads((folder / "style.json").read_text(encoding="utf-8"))
        return cls(arrays["clip_vectors"], meta["emotions"], meta["sentences"], arrays["sentence_vectors"])

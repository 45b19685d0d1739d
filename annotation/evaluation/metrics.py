"""Model-quality metrics against a chosen reference.

- Classification: accuracy, weighted F1 (MER2023), UAR and WAR (DFEW), from scikit-learn.
- Emotion-wheel metric (MER2025 open vocabulary): labels are normalised through
  a synonym table, mapped onto each emotion wheel at a chosen level, scored as
  set precision/recall per clip, F from the mean precision and recall, then
  averaged over the wheels.
- Offline clue-overlap proxy: per-aspect sentence-embedding similarity of
  prediction and reference, calibrated so 0 is the similarity of unrelated
  (shuffled) pairs and 10 an identical text, on the EMER judge's 0-10 scale.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from annotation.text import normalized_edit_distance
from core.vocabulary import Aspect

Level = Literal["level1", "level2"]


def _check_pairs(y_true: Sequence, y_pred: Sequence) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("no items to score")


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    """accuracy, weighted_f1 (MER2023), uar (mean recall over true classes) and war (DFEW).

    WAR is DFEW's weighted average recall, which equals accuracy; UAR is the
    unweighted mean of per-class recall over the classes in `y_true`.
    """
    _check_pairs(y_true, y_pred)
    y_true, y_pred = [str(v) for v in y_true], [str(v) for v in y_pred]
    with warnings.catch_warnings():
        # A model predicting a class the reference never uses is normal here, not a problem to report.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        uar = float(balanced_accuracy_score(y_true, y_pred))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "weighted_f1": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "uar": uar,
        "war": float(accuracy_score(y_true, y_pred)),
    }


# --- emotion wheels ---------------------------------------------------------------

# Surface forms (English inflections, Chinese words) -> the canonical word the wheels use.
SYNONYMS: dict[str, str] = {
    "happiness": "happy", "joyful": "joy", "glad": "happy", "cheerful": "happy", "delighted": "delight",
    "pleased": "happy", "content": "contentment", "excited": "excitement", "amused": "amusement",
    "anger": "angry", "mad": "angry", "furious": "rage", "annoyed": "annoyance", "irritated": "irritation",
    "frustrated": "frustration", "sadness": "sad", "unhappy": "sad", "sorrowful": "sorrow", "depressed": "depression",
    "disappointed": "disappointment", "lonely": "loneliness", "grieving": "grief", "fear": "fearful",
    "afraid": "fearful", "scared": "fearful", "terrified": "terror", "anxious": "anxiety", "nervous": "nervousness",
    "worry": "worried", "concerned": "worried", "surprised": "surprise", "amazed": "amazement",
    "astonished": "astonishment", "shocked": "shock", "disgusted": "disgust", "contemptuous": "contempt",
    "calm": "neutral", "relaxed": "relief", "relieved": "relief", "doubtful": "doubt", "confused": "confusion",
    "ashamed": "shame", "guilty": "guilt", "embarrassed": "embarrassment", "proud": "pride", "loving": "love",
    # Chinese
    "开心": "happy", "高兴": "happy", "快乐": "joy", "喜悦": "joy", "兴奋": "excitement", "满足": "contentment",
    "生气": "angry", "愤怒": "angry", "恼怒": "annoyance", "烦躁": "irritation", "暴怒": "rage", "沮丧": "frustration",
    "伤心": "sad", "悲伤": "sad", "难过": "sad", "失望": "disappointment", "孤独": "loneliness", "悲痛": "grief",
    "害怕": "fearful", "恐惧": "fearful", "焦虑": "anxiety", "紧张": "nervousness", "担忧": "worried", "担心": "worried",
    "惊讶": "surprise", "吃惊": "surprise", "震惊": "shock", "厌恶": "disgust", "轻蔑": "contempt", "蔑视": "contempt",
    "平静": "neutral", "中性": "neutral", "怀疑": "doubt", "困惑": "confusion", "羞愧": "shame", "尴尬": "embarrassment",
}

# Each wheel: word -> (level2 category, level1 core). A core maps to itself.
_WHEEL_ROWS: dict[str, list[tuple[str, str, str]]] = {
    # Plutchik-style: eight primaries with intensity rings.
    "plutchik": [
        ("joy", "joy", "joy"), ("happy", "joy", "joy"), ("delight", "joy", "joy"), ("excitement", "ecstasy", "joy"),
        ("amusement", "joy", "joy"), ("contentment", "serenity", "joy"), ("pride", "joy", "joy"),
        ("love", "love", "joy"),
        ("angry", "anger", "anger"), ("rage", "rage", "anger"), ("annoyance", "annoyance", "anger"),
        ("irritation", "annoyance", "anger"), ("frustration", "anger", "anger"),
        ("sad", "sadness", "sadness"), ("sorrow", "sadness", "sadness"), ("grief", "grief", "sadness"),
        ("depression", "grief", "sadness"), ("disappointment", "pensiveness", "sadness"),
        ("loneliness", "pensiveness", "sadness"), ("shame", "remorse", "sadness"), ("guilt", "remorse", "sadness"),
        ("fearful", "fear", "fear"), ("terror", "terror", "fear"), ("anxiety", "apprehension", "fear"),
        ("nervousness", "apprehension", "fear"), ("worried", "apprehension", "fear"),
        ("embarrassment", "apprehension", "fear"),
        ("surprise", "surprise", "surprise"), ("amazement", "amazement", "surprise"),
        ("astonishment", "amazement", "surprise"), ("shock", "amazement", "surprise"),
        ("confusion", "distraction", "surprise"), ("doubt", "distraction", "surprise"),
        ("disgust", "disgust", "disgust"), ("contempt", "loathing", "disgust"),
        ("neutral", "neutral", "neutral"), ("relief", "serenity", "joy"),
    ],
    # Parrott-style tree: primary -> secondary -> words.
    "parrott": [
        ("joy", "cheerfulness", "joy"), ("happy", "cheerfulness", "joy"), ("delight", "cheerfulness", "joy"),
        ("amusement", "cheerfulness", "joy"), ("excitement", "zest", "joy"), ("contentment", "contentment", "joy"),
        ("pride", "pride", "joy"), ("relief", "relief", "joy"), ("love", "affection", "love"),
        ("angry", "rage", "anger"), ("rage", "rage", "anger"), ("annoyance", "irritation", "anger"),
        ("irritation", "irritation", "anger"), ("frustration", "exasperation", "anger"),
        ("contempt", "disgust", "anger"), ("disgust", "disgust", "anger"),
        ("sad", "sadness", "sadness"), ("sorrow", "sadness", "sadness"), ("grief", "suffering", "sadness"),
        ("depression", "sadness", "sadness"), ("disappointment", "disappointment", "sadness"),
        ("loneliness", "neglect", "sadness"), ("shame", "shame", "sadness"), ("guilt", "shame", "sadness"),
        ("embarrassment", "shame", "sadness"),
        ("fearful", "horror", "fear"), ("terror", "horror", "fear"), ("anxiety", "nervousness", "fear"),
        ("nervousness", "nervousness", "fear"), ("worried", "nervousness", "fear"),
        ("surprise", "surprise", "surprise"), ("amazement", "surprise", "surprise"),
        ("astonishment", "surprise", "surprise"), ("shock", "surprise", "surprise"),
        ("confusion", "surprise", "surprise"), ("doubt", "nervousness", "fear"),
        ("neutral", "neutral", "neutral"),
    ],
    # Valence-arousal quadrants, the coarsest wheel.
    "circumplex": [
        ("joy", "positive-high", "positive"), ("happy", "positive-high", "positive"),
        ("delight", "positive-high", "positive"), ("excitement", "positive-high", "positive"),
        ("amusement", "positive-high", "positive"), ("pride", "positive-high", "positive"),
        ("love", "positive-low", "positive"), ("contentment", "positive-low", "positive"),
        ("relief", "positive-low", "positive"), ("surprise", "surprise", "surprise"),
        ("amazement", "surprise", "surprise"), ("astonishment", "surprise", "surprise"),
        ("shock", "negative-high", "negative"),
        ("angry", "negative-high", "negative"), ("rage", "negative-high", "negative"),
        ("annoyance", "negative-high", "negative"), ("irritation", "negative-high", "negative"),
        ("frustration", "negative-high", "negative"), ("fearful", "negative-high", "negative"),
        ("terror", "negative-high", "negative"), ("anxiety", "negative-high", "negative"),
        ("nervousness", "negative-high", "negative"), ("worried", "negative-high", "negative"),
        ("disgust", "negative-high", "negative"), ("contempt", "negative-low", "negative"),
        ("sad", "negative-low", "negative"), ("sorrow", "negative-low", "negative"),
        ("grief", "negative-low", "negative"), ("depression", "negative-low", "negative"),
        ("disappointment", "negative-low", "negative"), ("loneliness", "negative-low", "negative"),
        ("shame", "negative-low", "negative"), ("guilt", "negative-low", "negative"),
        ("embarrassment", "negative-low", "negative"), ("confusion", "negative-low", "negative"),
        ("doubt", "negative-low", "negative"), ("neutral", "neutral", "neutral"),
    ],
}
WHEELS: dict[str, dict[str, tuple[str, str]]] = {
    wheel: {word: (level2, level1) for word, level2, level1 in rows} for wheel, rows in _WHEEL_ROWS.items()
}
_LABEL_SPLIT = re.compile(r"[,，;；、/|]+|\band\b")


def split_labels(text: str | Sequence[str] | None) -> list[str]:
    """An open-vocabulary answer ('happy, excited' / '开心、兴奋') as a list of labels."""
    if text is None:
        return []
    items = [text] if isinstance(text, str) else list(text)
    out: list[str] = []
    for item in items:
        out += [p.strip() for p in _LABEL_SPLIT.split(str(item)) if p.strip()]
    return out


def normalise_label(label: str) -> str:
    """Lower-case, trim, then the synonym table; unknown words stay as they are."""
    word = label.strip().strip(".。!！").lower()
    return SYNONYMS.get(word, word)


def map_label(label: str, wheel: str, level: Level = "level1") -> str:
    """The label's category on `wheel` at `level`; a word not on the wheel maps to itself."""
    word = normalise_label(label)
    entry = WHEELS[wheel].get(word)
    if entry is None:
        return word
    return entry[1] if level == "level1" else entry[0]


def wheel_scores(y_true: Sequence[Sequence[str] | str], y_pred: Sequence[Sequence[str] | str], *,
                 level: Level = "level1", wheels: Sequence[str] | None = None) -> dict[str, float]:
    """MER2025-style set F-score averaged over wheels; also per-wheel precision/recall/F.

    For clip i, G and P are the true and predicted label sets mapped onto a
    wheel; precision = mean |G∩P|/|P| and recall = mean |G∩P|/|G| over clips
    (an empty set scores 0), F = 2PR/(P+R). The result's `f` is the mean F over
    the wheels.
    """
    _check_pairs(y_true, y_pred)
    chosen = list(wheels or WHEELS)
    out: dict[str, float] = {}
    fs = []
    for wheel in chosen:
        precision = np.zeros(len(y_true))
        recall = np.zeros(len(y_true))
        for i, (truth, guess) in enumerate(zip(y_true, y_pred, strict=False)):
            g = {map_label(w, wheel, level) for w in split_labels(truth)}
            p = {map_label(w, wheel, level) for w in split_labels(guess)}
            hit = len(g & p)
            precision[i] = hit / len(p) if p else 0.0
            recall[i] = hit / len(g) if g else 0.0
        mp, mr = float(precision.mean()), float(recall.mean())
        f = 0.0 if mp + mr == 0 else 2 * mp * mr / (mp + mr)
        out.update({f"{wheel}_precision": mp, f"{wheel}_recall": mr, f"{wheel}_f": f})
        fs.append(f)
    out["f"] = float(np.mean(fs))
    return out


# --- offline clue-overlap proxy -------------------------------------------------------

_MAX_CHANCE_ROWS = 2000


def _row_cosines(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """Matched cosines a_i·b_i (N,) and the chance level: mean a_i·b_j over i != j."""
    matched = np.einsum("ij,ij->i", a, b)
    n = min(len(a), _MAX_CHANCE_ROWS)
    if n < 2:
        return matched, 0.0
    pick = np.random.default_rng(0).choice(len(a), size=n, replace=False) if len(a) > n else np.arange(n)
    cross = a[pick] @ b[pick].T
    chance = (cross.sum() - np.trace(cross)) / (n * (n - 1))
    return matched, float(chance)


def calibrated(similarity: np.ndarray, chance: float) -> np.ndarray:
    """Rescale cosine so chance -> 0 and identical -> 10.

    Not clipped below 0: a mean over pairs no better than chance stays near 0
    instead of being pushed up by the positive half of the noise.
    """
    return np.minimum((similarity - chance) / max(1e-9, 1.0 - chance), 1.0) * 10.0


def clue_overlap_proxy(references: Sequence[Mapping[str, str]], predictions: Sequence[Mapping[str, str]],
                       *, chance: Mapping[str, float] | None = None) -> dict[str, float]:
    """Mean calibrated similarity per aspect and overall (0 = chance, 10 = same text; below 0 = worse than chance).

    `chance` per aspect may be given (from a larger sample); otherwise it is the
    mean similarity of this set's mismatched pairs. Aspects empty on both sides
    are left out of that aspect's mean.
    """
    from annotation.embeddings import embed

    _check_pairs(references, predictions)
    out: dict[str, float] = {}
    per_clip = np.zeros(len(references))
    counts = np.zeros(len(references))
    for aspect in (a.value for a in Aspect):
        ref_text = [(r.get(aspect) or "") for r in references]
        pred_text = [(p.get(aspect) or "") for p in predictions]
        used = np.array([bool(r.strip() or p.strip()) for r, p in zip(ref_text, pred_text, strict=False)])
        if not used.any():
            continue
        a, b = embed(ref_text), embed(pred_text)
        matched, own_chance = _row_cosines(a[used], b[used])
        level = chance[aspect] if chance and aspect in chance else own_chance
        scores = calibrated(matched, level)
        out[aspect] = float(scores.mean())
        out[f"{aspect}_chance"] = level
        per_clip[used] += scores
        counts[used] += 1
    has = counts > 0
    out["overall"] = float((per_clip[has] / counts[has]).mean()) if has.any() else 0.0
    return out


def paragraph_overlap_proxy(references: Sequence[str], predictions: Sequence[str]) -> float:
    """The same proxy on whole reasoning paragraphs (when no aspects are available)."""
    from annotation.embeddings import embed

    _check_pairs(references, predictions)
    matched, chance = _row_cosines(embed(references), embed(predictions))
    return float(calibrated(matched, chance).mean())


# --- one table across systems ----------------------------------------------------------


def clues_of(row) -> dict[str, str]:  # noqa: ANN001 - an ExportRow
    if any((row.clues or {}).values()):
        return dict(row.clues)
    if row.reasoning:
        from annotation.evaluation.aspects import split_paragraph

        return split_paragraph(row.reasoning).clues
    return {}


def _text_of(row) -> str:  # noqa: ANN001
    if row.reasoning:
        return row.reasoning
    from annotation.evaluation.aspects import merge_aspects

    return merge_aspects(row.clues, emotion=row.emotion, language=row.language) if any(row.clues.values()) else ""


def evaluate_rows(reference: Sequence, systems: Mapping[str, Sequence],
                  *, judge=None) -> pd.DataFrame:  # noqa: ANN001
    """One row per system: clips matched, classification, wheel and clue-overlap figures.

    `reference` and each system are `ExportRow`s; clips pair up by name. The
    judge columns appear when an `annotation.evaluation.judge.EmerJudge` is given.
    """
    by_name = {r.name: r for r in reference}
    table = []
    for system, rows in systems.items():
        pairs = [(by_name[r.name], r) for r in rows if r.name in by_name]
        record: dict[str, object] = {"system": system, "clips": len(pairs)}
        # Case and stray spaces differ between sources ("Happy" vs "happy"); words do not get merged here.
        labelled = [(t.emotion.strip().lower(), p.emotion.strip().lower()) for t, p in pairs
                    if t.emotion and p.emotion]
        record["labelled"] = len(labelled)
        if labelled:
            truth, guess = zip(*labelled, strict=False)
            record.update(classification_metrics(truth, guess))
            record["wheel_f_level1"] = wheel_scores(truth, guess, level="level1")["f"]
            record["wheel_f_level2"] = wheel_scores(truth, guess, level="level2")["f"]
        clued = [(clues_of(t), clues_of(p)) for t, p in pairs]
        clued = [(t, p) for t, p in clued if any(t.values()) and any(p.values())]
        if clued:
            proxy = clue_overlap_proxy([t for t, _ in clued], [p for _, p in clued])
            record["clue_overlap_proxy"] = proxy["overall"]
            for aspect in (a.value for a in Aspect):
                if aspect in proxy:
                    record[f"proxy_{aspect}"] = proxy[aspect]
        if judge is not None and pairs:
            texts = [(_text_of(t), _text_of(p)) for t, p in pairs]
            texts = [(t, p) for t, p in texts if t and p]
            if texts:
                record["clue_overlap"] = float(np.mean([judge.clue_overlap(t, p) for t, p in texts]))
                record["label_overlap"] = float(np.mean([judge.label_overlap(t, p) for t, p in texts]))
        table.append(record)
    return pd.DataFrame(table)


# Model quality on held-out consensus (the Models page and training reports).
def emotion_metrics(truth: list[str], predicted: list[str], labels: list[str]) -> dict[str, Any]:
    """Accuracy (= WAR), weighted F1 (MER2023), UAR (DFEW), plus per-class F1 and confusion."""
    from sklearn.metrics import confusion_matrix

    if not truth:
        return {"n": 0}
    present = [label for label in labels if label in set(truth) | set(predicted)]
    seen = [label for label in labels if label in set(truth)]
    per_class = f1_score(truth, predicted, labels=seen, average=None, zero_division=0)
    scores = classification_metrics(truth, predicted)
    return {
        "n": len(truth),
        **{name: round(value, 4) for name, value in scores.items()},
        "per_class_f1": {label: round(float(v), 4) for label, v in zip(seen, per_class, strict=False)},
        "confusion": {"labels": present,
                      "matrix": confusion_matrix(truth, predicted, labels=present).astype(int).tolist()},
    }


def clue_similarity(predicted: list[dict[str, str]], reference: list[dict[str, str]]) -> dict[str, float]:
    """Mean embedding cosine between predicted and consensus clue, per aspect (pairs with a reference only)."""
    from annotation.embeddings import embed

    out: dict[str, float] = {}
    for aspect in Aspect:
        pairs = [(p.get(aspect.value, ""), r.get(aspect.value, "")) for p, r in zip(predicted, reference, strict=False)
                 if (r.get(aspect.value) or "").strip()]
        if not pairs:
            continue
        a = embed([p for p, _ in pairs])
        b = embed([r for _, r in pairs])
        out[aspect.value] = round(float(np.mean(np.sum(a * b, axis=1))), 4)
    return out


def clue_overlap(predicted: list[dict[str, str]], reference: list[dict[str, str]]) -> dict[str, float]:
    """The EMER-scale offline proxy (0 = chance, 10 = same text)."""
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

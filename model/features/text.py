"""Text: sentiment (VADER for English, pysenti's Bayes model for Mandarin) and a sentence embedding."""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from annotation.text import detect_language

VERSION = "text-1"
_lock = threading.Lock()

# Words that carry an emotion on their own; quoted in the verbal clue when said.
EMOTION_WORDS = {
    "en": ("angry", "mad", "furious", "hate", "annoyed", "happy", "glad", "great", "love", "wonderful",
           "sad", "sorry", "miss", "cry", "worried", "afraid", "scared", "nervous", "wow", "really",
           "surprised", "never", "why", "terrible", "awful", "thank"),
    "zh": ("生气", "气死", "讨厌", "恨", "烦", "开心", "高兴", "喜欢", "太好", "难过", "伤心", "哭", "对不起",
           "担心", "害怕", "紧张", "怕", "天哪", "真的", "居然", "竟然", "为什么", "谢谢", "惊讶"),
}


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _pysenti():
    from pysenti import ModelClassifier

    return ModelClassifier()


def sentiment(text: str, language: str | None = None) -> float:
    """Polarity in [-1, 1]: VADER's compound score, or pysenti's P(positive) - P(negative)."""
    if not text.strip():
        return 0.0
    language = language or detect_language(text)
    with _lock:
        if language.startswith("zh"):
            result = _pysenti().classify(text)
            return round(float(result["positive_prob"] - result["negative_prob"]), 4)
        return round(float(_vader().polarity_scores(text)["compound"]), 4)


def emotion_words(text: str, language: str) -> list[str]:
    if language.startswith("zh"):
        return [w for w in EMOTION_WORDS["zh"] if w in text]
    tokens = set(re.findall(r"[a-z']+", text.lower()))
    return [w for w in EMOTION_WORDS["en"] if w in tokens]


def text_features(text: str, language: str | None = None) -> dict[str, Any]:
    """Sentiment, questions/exclamations, emotion words and the embedding of what was said."""
    from annotation.embeddings import embed

    language = language or detect_language(text)
    return {
        "version": VERSION,
        "language": language,
        "sentiment": sentiment(text, language),
        "questions": len(re.findall(r"[?？]", text)),
        "exclamations": len(re.findall(r"[!！]", text)),
        "emotion_words": emotion_words(text, language),
        "chars": len(text),
        "embedding": [round(float(x), 5) for x in embed([text])[0]] if text.strip() else [],
    }

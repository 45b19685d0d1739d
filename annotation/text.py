"""Language-aware text helpers shared by diffs, edit distance, agreement and formats.

Chinese has no spaces, so tokens come from jieba; other text splits on words and
punctuation. Every function here works on English, Chinese and mixed text.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SPACE = re.compile(r"\s")
_LATIN_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*")


def cjk_ratio(text: str) -> float:
    """Share of non-space characters that are CJK ideographs."""
    visible = len(text) - len(_SPACE.findall(text))
    if visible == 0:
        return 0.0
    return len(_CJK.findall(text)) / visible


def detect_language(text: str) -> str:
    """'zh' when the text is mostly Chinese, 'en' otherwise (also for empty text)."""
    return "zh" if cjk_ratio(text) >= 0.3 else "en"


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def tokenize(text: str) -> list[str]:
    """Words and punctuation; Chinese runs segmented with jieba. Whitespace dropped."""
    if not text:
        return []
    if not has_cjk(text):
        return _LATIN_TOKEN.findall(text)
    return [t for t in _jieba().lcut(text) if t.strip()]


def split_sentences(text: str) -> list[str]:
    """Sentences, split after Western or Chinese end punctuation."""
    return [s.strip() for s in _SENTENCE_END.split(text or "") if s and s.strip()]


def edit_distance(a: list[str], b: list[str]) -> int:
    """Levenshtein distance between two token sequences."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, token_a in enumerate(a, 1):
        current = [i]
        for j, token_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (token_a != token_b)))
        previous = current
    return previous[-1]


def normalized_edit_distance(a: str, b: str) -> float:
    """Token edit distance divided by the longer length: 0 identical, 1 nothing shared."""
    ta, tb = tokenize(a), tokenize(b)
    longest = max(len(ta), len(tb))
    if longest == 0:
        return 0.0
    return edit_distance(ta, tb) / longest


@dataclass(frozen=True)
class DiffPart:
    """One run of a word diff: `op` is 'same', 'added' or 'removed'."""

    op: str
    text: str


def word_diff(before: str, after: str) -> list[DiffPart]:
    """Token-level diff of `after` against `before`, merged into runs."""
    ta, tb = tokenize(before), tokenize(after)
    joiner = "" if has_cjk(before + after) else " "
    parts: list[DiffPart] = []
    matcher = difflib.SequenceMatcher(a=ta, b=tb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(DiffPart("same", joiner.join(ta[i1:i2])))
            continue
        if i2 > i1:
            parts.append(DiffPart("removed", joiner.join(ta[i1:i2])))
        if j2 > j1:
            parts.append(DiffPart("added", joiner.join(tb[j1:j2])))
    return parts

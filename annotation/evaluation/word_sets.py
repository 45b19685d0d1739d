"""Open-vocabulary emotion word sets: cleaning, the wheel vocabulary, mapping to wheel categories and
the majority set a consensus proposes.

A set is what an annotator, a model or a system says a person feels in open vocabulary (OV-MER,
MER2025/2026 MER-FG): any words, scored with the official emotion-wheel (EW) metric
(`annotation.evaluation.wheel`). Words the wheel's word-form table does not know are kept (people may
need them) but marked "not on the wheel": the EW metric drops them.

Mapping for agreement and consensus uses one wheel at one level (default: wheel 1, level 1, the
coarsest reading the official scorer uses). A word the wheel cannot map stays as its normalised self,
so two annotators who both typed the same new word still agree on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from annotation.evaluation.wheel import LEVELS, WheelData, load_wheel, normalise

MAX_WORDS = 30  # per set; far above any real answer (OV-MER sets hold 1-8 words)
MAX_WORD_CHARS = 64
DEFAULT_WHEEL = "wheel1"
DEFAULT_LEVEL = "level1"
UNMAPPED_PREFIX = "~"  # marks a category that is a word the wheel does not know


def clean_words(words: Iterable[str] | None) -> list[str]:
    """Normalised (lower case, trimmed), de-duplicated words in first-seen order; empty ones dropped.

    Raises ValueError when a word is too long or there are too many: the page shows the message.
    """
    out: dict[str, None] = {}
    for word in words or ():
        if not isinstance(word, str):
            raise ValueError(f"emotion words are text, got {type(word).__name__}")
        key = " ".join(normalise(word).split())
        if not key:
            continue
        if len(key) > MAX_WORD_CHARS:
            raise ValueError(f"“{key[:20]}…” is longer than {MAX_WORD_CHARS} characters")
        out.setdefault(key)
    if len(out) > MAX_WORDS:
        raise ValueError(f"at most {MAX_WORDS} emotion words per clip")
    return list(out)


@cache
def wheel_vocabulary() -> tuple[str, ...]:
    """Every word form the emotion wheel maps (the keys of its word-form table), sorted."""
    return tuple(sorted(load_wheel().form_index))


def on_wheel(word: str, *, data: WheelData | None = None) -> bool:
    """Whether the wheel's word-form table knows the word (so the EW metric scores it)."""
    return normalise(word) in (data or load_wheel()).form_index


def wheel_choices() -> list[tuple[str, str]]:
    """(metric key, label) for every wheel and level: what agreement and consensus can map to."""
    data = load_wheel()
    return [(f"{wheel}/{level}", f"{wheel.replace('wheel', 'wheel ')}, {level.replace('level', 'level ')}")
            for wheel in sorted(data.wheels) for level in LEVELS]


def category(word: str, *, metric: str = f"{DEFAULT_WHEEL}/{DEFAULT_LEVEL}", data: WheelData | None = None) -> str:
    """The word's category on the wheel, or `~word` when the wheel cannot map it."""
    mapped = (data or load_wheel()).category_of(word, metric=metric)
    return mapped if mapped is not None else UNMAPPED_PREFIX + normalise(word)


def category_set(words: Iterable[str], *, metric: str = f"{DEFAULT_WHEEL}/{DEFAULT_LEVEL}",
                 data: WheelData | None = None) -> frozenset[str]:
    """The set of categories `words` map to (unmapped words as `~word`)."""
    data = data or load_wheel()
    return frozenset(category(w, metric=metric, data=data) for w in words if normalise(w))


def show_category(name: str) -> str:
    """A category for people: an unmapped word reads as “word (not on the wheel)”."""
    return f"{name[1:]} (not on the wheel)" if name.startswith(UNMAPPED_PREFIX) else name


@dataclass(frozen=True)
class CategoryVote:
    """One category of a proposed consensus set and the raw words behind it."""

    category: str
    supporters: int  # annotators with at least one word in this category
    raw_words: dict[str, int]  # word -> how many annotators wrote it
    word: str  # the word the proposal puts in the set: the most written, ties alphabetical
    majority: bool


def propose_word_set(sets: Mapping[int, Sequence[str]], *, metric: str = f"{DEFAULT_WHEEL}/{DEFAULT_LEVEL}",
                     data: WheelData | None = None) -> tuple[list[str], list[CategoryVote]]:
    """The majority set: for every category that more than half of the annotators reached, its most
    written raw word. Returns (proposed words, every category with its votes), majorities first.

    `sets` maps an annotator (any key) to their words; annotators with no words do not vote.
    """
    data = data or load_wheel()
    voters = {who: clean_words(words) for who, words in sets.items()}
    voters = {who: words for who, words in voters.items() if words}
    supporters: Counter[str] = Counter()
    raw: dict[str, Counter[str]] = {}
    for words in voters.values():
        mine: dict[str, set[str]] = {}
        for word in words:
            mine.setdefault(category(word, metric=metric, data=data), set()).add(word)
        for name, written in mine.items():
            supporters[name] += 1
            raw.setdefault(name, Counter()).update(written)
    needed = len(voters) / 2
    votes = []
    for name, count in supporters.items():
        counts = raw[name]
        word = min(counts, key=lambda w: (-counts[w], w))
        votes.append(CategoryVote(category=name, supporters=count, raw_words=dict(counts.most_common()),
                                  word=word, majority=count > needed))
    votes.sort(key=lambda v: (not v.majority, -v.supporters, v.category))
    return [v.word for v in votes if v.majority], votes

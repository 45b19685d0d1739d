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


# Sentence and clause ends. Chinese ones end a sentence wherever they stand; Western ones only
# before whitespace, the end of the text or a Chinese character, so "0.52" and "3.5" stay whole.
_CJK_ENDS = "。！？；"
_WESTERN_ENDS = ".!?;"
_PAIRS = {"(": ")", "（": "）", "[": "]", "【": "】", "{": "}", "“": "”", "「": "」", "『": "』", "《": "》"}
_CLOSERS = set(_PAIRS.values()) | {'"', "'", "’"}
# A "." after these never ends a sentence ("e.g. AU1 0.4 vs. AU2 0.3") ...
_ABBREVIATIONS = frozenset({"e.g", "i.e", "vs", "cf", "ca", "approx", "incl", "esp", "resp", "viz", "fig", "figs",
                            "dr", "mr", "mrs", "ms", "prof"})
# ... and after these only when the next word starts with a capital or a Chinese character.
_ABBREVIATIONS_BEFORE_LOWER = frozenset({"etc", "al"})
_LIST_NUMBER = re.compile(r"\d{1,2}")


def _grouped(text: str) -> list[bool]:
    """Per character: inside a matched pair of brackets or quotes (the pair's own marks excluded)."""
    stack: list[tuple[str, int]] = []
    change = [0] * (len(text) + 1)
    for i, char in enumerate(text):
        opens_quote = char == '"' and all(opener != '"' for opener, _ in stack)
        if char in _PAIRS or opens_quote:
            stack.append((char, i))
            continue
        wanted = [opener for opener, closer in _PAIRS.items() if closer == char] + (['"'] if char == '"' else [])
        for level in range(len(stack) - 1, -1, -1):
            if stack[level][0] in wanted:
                change[stack[level][1] + 1] += 1
                change[i] -= 1
                del stack[level:]  # openers left unclosed inside the pair do not count
                break
    inside, level = [], 0
    for i in range(len(text)):
        level += change[i]
        inside.append(level > 0)
    return inside


def _word_before(text: str, end: int) -> tuple[str, int]:
    """The run of non-space characters ending at `end`, without opening brackets or quotes, and its start."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while start < end and (text[start] in _PAIRS or text[start] in "\"'‘"):
        start += 1
    return text[start:end], start


def _next_visible(text: str, at: int) -> str:
    rest = text[at:].lstrip()
    return rest[0] if rest else ""


def _abbreviation_or_list_number(text: str, stop: int, sentence_start: int) -> bool:
    """Whether the "." at text[stop] closes an abbreviation or numbers a list, not a sentence."""
    word, word_start = _word_before(text, stop)
    key = word.casefold()
    if key in _ABBREVIATIONS:
        return True
    if key in _ABBREVIATIONS_BEFORE_LOWER:
        following = _next_visible(text, stop + 1)
        return following.islower() or following.isdigit()
    # "1. He smiles. 2. Voice flat.": a small number opening the sentence numbers it.
    return bool(_LIST_NUMBER.fullmatch(word)) and not text[sentence_start:word_start].strip()


def _is_end(char: str) -> bool:
    return char in _CJK_ENDS or char in _WESTERN_ENDS


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or clause of `text`, surrounding whitespace excluded.

    A sentence ends after 。！？； wherever they stand, and after . ! ? ; when whitespace, the end
    of the text or a Chinese character follows; so numbers ("0.52", "3.5 syllables/s") never
    split. Ends inside matched brackets or quotes do not count, except that an end right before
    the closing mark ends the sentence after that mark ('He says "No. Stop." Then …', 他说：“走吧。”然后…)
    unless a lower-case word follows. Closing marks right after an end stay with their sentence.
    A "." after a common abbreviation (e.g., vs., approx.) or a list number ("1.") ends nothing.
    Between consecutive spans lies only whitespace, so the spans with the gaps between them give
    back the text exactly.
    """
    text = text or ""
    n = len(text)
    inside = _grouped(text)
    ends: list[int] = []
    start = i = 0
    while i < n:
        closes_group = i > 0 and inside[i - 1] and not inside[i] and _is_end(text[i - 1])
        if inside[i] or not (_is_end(text[i]) or closes_group):
            i += 1
            continue
        # The run of end marks ("?!", "...") and the closing brackets or quotes after it.
        marks = text[i - 1] if closes_group else ""
        j = i
        while j < n and not inside[j] and _is_end(text[j]):
            marks += text[j]
            j += 1
        while j < n and text[j] in _CLOSERS:
            j += 1
        at_break = j == n or text[j].isspace() or bool(_CJK.match(text[j]))
        if any(c in _CJK_ENDS for c in marks):
            ends_here = True
        elif closes_group:
            ends_here = at_break and not _next_visible(text, j).islower()
        else:
            ends_here = at_break and not (marks == "." and _abbreviation_or_list_number(text, i, start))
        if ends_here:
            ends.append(j)
            start = j
        i = max(j, i + 1)
    spans = []
    previous = 0
    for end in [*ends, n]:
        piece = text[previous:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((previous + lead, previous + len(piece.rstrip())))
        previous = end
    return spans


def split_sentences(text: str) -> list[str]:
    """Sentences (and ；-separated clauses), each exactly as written; see `sentence_spans`."""
    text = text or ""
    return [text[start:end] for start, end in sentence_spans(text)]


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
    """One run of a word diff: `op` is 'same', 'added' or 'removed'.

    `text` is the run exactly as written in its source (`after` for same and
    added runs, `before` for removed ones) and `lead` the whitespace that stood
    before it, so a renderer joins runs with the writer's own spacing.
    """

    op: str
    text: str
    lead: str = ""


def token_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each token of `tokenize(text)`, in order."""
    if not text:
        return []
    if not has_cjk(text):
        return [m.span() for m in _LATIN_TOKEN.finditer(text)]
    return [(start, end) for word, start, end in _jieba().tokenize(text) if word.strip()]


def word_diff(before: str, after: str) -> list[DiffPart]:
    """Token-level diff of `after` against `before`, merged into runs that keep the original text."""
    spans_a, spans_b = token_spans(before), token_spans(after)
    ta = [before[s:e] for s, e in spans_a]
    tb = [after[s:e] for s, e in spans_b]

    def run(op: str, source: str, spans: list[tuple[int, int]], i: int, j: int) -> DiffPart:
        start, end = spans[i][0], spans[j - 1][1]
        previous_end = spans[i - 1][1] if i > 0 else start
        lead = source[previous_end:start] if source[previous_end:start].isspace() else ""
        return DiffPart(op, source[start:end], lead)

    parts: list[DiffPart] = []
    matcher = difflib.SequenceMatcher(a=ta, b=tb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            same = run("same", after, spans_b, j1, j2)
            if not same.lead and parts:  # after a removed run the gap stood in `before`
                same = DiffPart("same", same.text, run("same", before, spans_a, i1, i2).lead)
            parts.append(same)
            continue
        if i2 > i1:
            parts.append(run("removed", before, spans_a, i1, i2))
        if j2 > j1:
            parts.append(run("added", after, spans_b, j1, j2))
    return parts

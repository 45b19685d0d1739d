"""Find stored consensus clues that the old clue merge corrupted.

Until the merge kept sentences byte for byte, it cut clues at every "." and
re-joined the pieces, so Accept stored text such as "AU12 0. 52", "3. 5
syllables / s", a clue ending "neutral 0." (the decimals dropped with their
fragment) or "音域 3.音量最高比中位数高 9 dB；7 个半音；" (fragments re-ordered).
`find_corrupted_consensus` lists such spots for a lead to review; it changes
nothing. Patterns that ordinary text can also contain (a number closing a
sentence, a sentence opening with a number) are reported only where a source
annotation has a decimal number at that spot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from annotation.text import sentence_spans
from db.engine import with_session
from db.queries import consensus as queries

# "0. 52": a number cut at its decimal point and re-joined with a space.
_SPLIT_DECIMAL = re.compile(r"(?<![\d.])(\d+)\.[ \t]+(\d+)")
# "syllables / s": a unit spaced out by word tokenisation.
_SPACED_UNIT = re.compile(r"\b([A-Za-z%]+) / ([A-Za-z]+)\b")
_RATE_UNITS = {"s", "sec", "ms", "min", "h"}
# "neutral 0." / "音域 3.音量": a whole number and a "." closing a sentence or running into Chinese text.
_CUT_DECIMAL = re.compile(r"(?<![\d.])(\d+)\.(?=\s|$|[\u3400-\u9fff])")
# "7 个半音", "52)." opening a sentence: the tail of a cut number.
_DECIMAL_TAIL = re.compile(r"(\d+)(\s?[^\s\d]{1,4})")
_CONTEXT = 12


@dataclass(frozen=True)
class CorruptedClue:
    clip_id: int
    consensus_id: int
    revision: int
    is_current: bool
    aspect: str
    pattern: str  # split_decimal | spaced_unit | cut_decimal | decimal_tail
    offset: int  # where the suspicious text starts in the stored clue
    snippet: str  # the suspicious text with a little context, as stored
    source_text: str | None  # what a source annotation has at that spot, when one does


def _snippet(text: str, start: int, end: int) -> str:
    return text[max(0, start - _CONTEXT):end + _CONTEXT]


def _word_before(text: str, at: int) -> str:
    """What stands right before `at` (a word, or up to three Chinese characters, and a space): the context
    to find the number by in the sources."""
    match = re.search(r"(?:[\u3400-\u9fff]{1,3}|[^\s\u3400-\u9fff]{1,12})\s?$", text[:at])
    return match.group(0) if match else ""


def _in_sources(pattern: str, sources: Sequence[str]) -> str | None:
    regex = re.compile(pattern)
    for source in sources:
        match = regex.search(source)
        if match:
            return match.group(0)
    return None


def corrupted_spots(text: str, sources: Sequence[str]) -> list[tuple[str, int, str, str | None]]:
    """(pattern, offset, snippet, source text) for each suspicious spot of one stored clue, in text order."""
    found: list[tuple[str, int, str, str | None]] = []
    split = [(m.start(), m.end()) for m in _SPLIT_DECIMAL.finditer(text)]
    for match in _SPLIT_DECIMAL.finditer(text):
        whole = f"{match.group(1)}.{match.group(2)}"
        found.append(("split_decimal", match.start(), _snippet(text, match.start(), match.end()),
                      _in_sources(rf"(?<![\d.]){re.escape(whole)}", sources)))

    def reported(at: int) -> bool:  # one spot, one report: "3. 5" is not also a cut number and a tail
        return any(start <= at < end for start, end in split)

    for match in _SPACED_UNIT.finditer(text):
        joined = f"{match.group(1)}/{match.group(2)}"
        source = _in_sources(re.escape(joined), sources)
        if source or match.group(2) in _RATE_UNITS:
            found.append(("spaced_unit", match.start(), _snippet(text, match.start(), match.end()), source))
    for match in _CUT_DECIMAL.finditer(text):
        if reported(match.start()):
            continue
        before = _word_before(text, match.start())
        source = _in_sources(rf"{re.escape(before)}(?<![\d.]){match.group(1)}\.\d+", sources)
        if source:
            found.append(("cut_decimal", match.start(), _snippet(text, match.start(), match.end()), source))
    for start, end in sentence_spans(text):
        match = _DECIMAL_TAIL.match(text, start, end)
        if match and not reported(match.start()):
            source = _in_sources(rf"\d\.{match.group(1)}{re.escape(match.group(2))}", sources)
            if source:
                found.append(("decimal_tail", match.start(), _snippet(text, match.start(), match.end()), source))
    return sorted(found, key=lambda spot: spot[1])


@with_session
def find_corrupted_consensus(session: Session, *, dataset_id: int | None = None,
                             current_only: bool = False) -> list[CorruptedClue]:
    """Stored consensus clues that look cut or re-joined by the old merge, by clip, revision and aspect.

    Every revision is checked unless `current_only`; a source annotation is one the consensus
    row lists in `source_annotation_ids`, compared on the same aspect.
    """
    rows = queries.consensus_rows(session, dataset_id=dataset_id, current_only=current_only)
    sources = queries.annotation_clues(session, annotation_ids=(i for row in rows for i in row.source_annotation_ids))
    out: list[CorruptedClue] = []
    for row in rows:
        for aspect, text in sorted((row.clues or {}).items()):
            if not text:
                continue
            texts = [sources[i].get(aspect) or "" for i in row.source_annotation_ids if i in sources]
            for pattern, offset, snippet, source in corrupted_spots(text, texts):
                out.append(CorruptedClue(clip_id=row.clip_id, consensus_id=row.id, revision=row.revision,
                                         is_current=row.is_current, aspect=aspect, pattern=pattern,
                                         offset=offset, snippet=snippet, source_text=source))
    return out


__all__ = ["CorruptedClue", "corrupted_spots", "find_corrupted_consensus"]

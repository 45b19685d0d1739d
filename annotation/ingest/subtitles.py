"""SRT and WebVTT subtitles → transcript text and approximate word timings.

Subtitle cues give phrase timings only; words inside a cue get times spread in
proportion to their character counts, marked "estimated" until feature extraction
aligns them to the speech (annotation.ingest.transcripts).
"""

from __future__ import annotations

import re
from pathlib import Path

from annotation.ingest.records import WordTiming
from annotation.ingest.transcripts import cue_words
from annotation.text import has_cjk

_TIME = r"(\d{1,2}):(\d{2}):(\d{2})[,.](\d{1,3})|(\d{1,2}):(\d{2})[,.](\d{1,3})"
_CUE = re.compile(rf"(?:{_TIME})\s*-->\s*(?:{_TIME})")
_TAGS = re.compile(r"<[^>]+>|\{[^}]+\}")
SUBTITLE_SUFFIXES = (".srt", ".vtt")


def _seconds(groups: tuple[str | None, ...]) -> float:
    h, m, s, ms, m2, s2, ms2 = groups
    if h is not None:
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000
    return int(m2) * 60 + int(s2) + int(ms2.ljust(3, "0")) / 1000


def parse_subtitles(text: str) -> list[tuple[float, float, str]]:
    """Cues as (start, end, text), in file order."""
    cues: list[tuple[float, float, str]] = []
    lines = text.replace("\r\n", "\n").replace("\ufeff", "").split("\n")
    i = 0
    while i < len(lines):
        match = _CUE.search(lines[i])
        if not match:
            i += 1
            continue
        groups = match.groups()
        start, end = _seconds(groups[:7]), _seconds(groups[7:])
        i += 1
        body = []
        while i < len(lines) and lines[i].strip():
            body.append(_TAGS.sub("", lines[i]).strip())
            i += 1
        words = " ".join(b for b in body if b)
        if words:
            cues.append((start, max(end, start), words))
    return cues


def cues_to_words(cues: list[tuple[float, float, str]], joiner: str = " ") -> list[WordTiming]:
    return [WordTiming(**w) for w in cue_words(cues, joiner)[1]]


def read_subtitle_file(path: Path) -> tuple[str, list[WordTiming]]:
    """Transcript text and word timings from an .srt or .vtt file."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030", "latin-1"):
        try:
            content = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    cues = parse_subtitles(content)
    joiner = "" if any(has_cjk(c[2]) for c in cues) else " "
    text, words = cue_words(cues, joiner)
    return text, [WordTiming(**w) for w in words]


def find_subtitle(media: Path) -> Path | None:
    for suffix in SUBTITLE_SUFFIXES:
        candidate = media.with_suffix(suffix)
        if candidate.exists():
            return candidate
    return None

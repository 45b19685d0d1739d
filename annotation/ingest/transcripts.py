"""Word times for a transcript, and which transcript a clip keeps.

A clip's transcript may come from a subtitle file, a manifest or EMER column, speech
recognition, or text burnt into the picture. Only ASR gives real word times; every other
text is *aligned* to the ASR words here, character by character, in its own language
(Chinese per character, other text per letter of each word), so the given text stays
exactly as it was and each of its words gets times from the speech:

- words whose characters match the ASR's get the times of those characters ("aligned");
- a run of differing characters opposite a run of ASR characters ("生气" heard as "神奇",
  traditional for simplified characters) shares that run's times in proportion ("aligned");
- words with nothing opposite them are interpolated between their timed neighbours by
  character count ("estimated").

Subtitle cues give phrase times only: words inside a cue are spread by character count
("estimated"). Each stored word carries `timing` (asr | aligned | estimated) and `at`, its
character offset in the transcript, so the player shows the text exactly as given.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from annotation.text import has_cjk

ASR, ALIGNED, ESTIMATED = "asr", "aligned", "estimated"
# Better first: a clip's stored word times are only replaced by better ones.
TIMING_RANK = {ASR: 3, ALIGNED: 2, ESTIMATED: 1}

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each word of `text`: jieba words for Chinese runs, letters and
    digits (with inner apostrophes) elsewhere; punctuation and spaces belong to no word."""
    spans: list[tuple[int, int]] = []
    at = 0
    for run in _CJK_RUN.finditer(text):
        spans += [(at + m.start(), at + m.end()) for m in _WORD.finditer(text[at:run.start()])]
        position = run.start()
        for piece in _jieba_cut(run.group()):
            spans.append((position, position + len(piece)))
            position += len(piece)
        at = run.end()
    spans += [(at + m.start(), at + m.end()) for m in _WORD.finditer(text[at:])]
    return spans


def _jieba_cut(run: str) -> list[str]:
    from annotation.text import _jieba

    return [piece for piece in _jieba().lcut(run, HMM=True) if piece]


def _keys(text: str) -> list[tuple[str, int]]:
    """The characters alignment compares (case-folded letters, digits, ideographs) with their offsets."""
    return [(ch.casefold(), i) for i, ch in enumerate(text) if ch.isalnum()]


@dataclass
class _Timed:
    start: float
    end: float
    timing: str


def _word(text: str, span: tuple[int, int], start: float, end: float, timing: str) -> dict[str, Any]:
    return {"word": text[span[0]:span[1]], "start": round(start, 3), "end": round(max(end, start), 3),
            "timing": timing, "at": span[0]}


def spread(text: str, start: float, end: float, *, offset: int = 0,
           spans: list[tuple[int, int]] | None = None, timing: str = ESTIMATED) -> list[dict[str, Any]]:
    """The words of `text` spread over [start, end] in proportion to their character counts."""
    spans = word_spans(text) if spans is None else spans
    total = sum(b - a for a, b in spans)
    words, at = [], start
    for a, b in spans:
        step = (end - start) * (b - a) / total if total else 0.0
        words.append(_word(text, (a, b), at, at + step, timing))
        words[-1]["at"] += offset
        at += step
    return words


def cue_words(cues: Iterable[tuple[float, float, str]], joiner: str) -> tuple[str, list[dict[str, Any]]]:
    """Transcript text (cues joined by `joiner`) and its words, spread by character count within each cue."""
    text, words = "", []
    for start, end, cue in cues:
        if text:
            text += joiner
        offset = len(text)
        text += cue
        for word in spread(cue, start, end):
            word["at"] += offset
            words.append(word)
    return text, words


def _reference_chars(words: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """Each compared character of the timed words with its share of its word's time."""
    chars: list[tuple[str, float, float]] = []
    for w in words:
        keys = [k for k, _ in _keys(str(w.get("word", "")))]
        start, end = float(w.get("start") or 0.0), float(w.get("end") or 0.0)
        end = max(end, start)
        for k, key in enumerate(keys):
            chars.append((key, start + (end - start) * k / len(keys), start + (end - start) * (k + 1) / len(keys)))
    return chars


def align_words(text: str, timed: list[dict[str, Any]], *, duration: float | None = None) -> list[dict[str, Any]]:
    """The words of `text`, exactly as written, with times taken from `timed` words (usually ASR).

    Characters are matched with difflib's longest-matching-blocks alignment; see the module notes for
    how matched, substituted and missing characters get their times."""
    spans = word_spans(text)
    if not spans:
        return []
    reference = _reference_chars(timed)
    if not reference:
        return spread(text, 0.0, float(duration or 0.0), spans=spans) if duration else []
    keys = _keys(text)
    position = {offset: n for n, (_, offset) in enumerate(keys)}
    char_time: list[_Timed | None] = [None] * len(keys)
    matcher = difflib.SequenceMatcher(None, [k for k, _ in keys], [r[0] for r in reference], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for n in range(i2 - i1):
                _, start, end = reference[j1 + n]
                char_time[i1 + n] = _Timed(start, end, ALIGNED)
        elif op == "replace":
            t0, t1 = reference[j1][1], reference[j2 - 1][2]
            # Similar lengths: the same words heard differently. Very different: only a rough share.
            kind = ALIGNED if 0.5 <= (j2 - j1) / (i2 - i1) <= 2.0 else ESTIMATED
            for n in range(i2 - i1):
                char_time[i1 + n] = _Timed(t0 + (t1 - t0) * n / (i2 - i1), t0 + (t1 - t0) * (n + 1) / (i2 - i1), kind)
    words: list[dict[str, Any] | None] = []
    for a, b in spans:
        times = [char_time[position[i]] for i in range(a, b) if i in position and char_time[position[i]]]
        if not times:
            words.append(None)
            continue
        kind = ALIGNED if sum(t.timing == ALIGNED for t in times) * 2 >= (b - a) else ESTIMATED
        words.append(_word(text, (a, b), min(t.start for t in times), max(t.end for t in times), kind))
    _interpolate(text, spans, words, reference[0][1], reference[-1][2])
    # Times never run backwards: a word starts no earlier than the one before it.
    out: list[dict[str, Any]] = []
    for word in words:
        assert word is not None
        if out and word["start"] < out[-1]["start"]:
            word["start"] = out[-1]["start"]
            word["end"] = max(word["end"], word["start"])
        out.append(word)
    return out


def _interpolate(text: str, spans: list[tuple[int, int]], words: list[dict[str, Any] | None],
                 speech_start: float, speech_end: float) -> None:
    """Fill each run of untimed words between its timed neighbours' times, by character count."""
    n = 0
    while n < len(words):
        if words[n] is not None:
            n += 1
            continue
        m = n
        while m < len(words) and words[m] is None:
            m += 1
        left = words[n - 1]["end"] if n > 0 else None
        right = words[m]["start"] if m < len(words) else None
        chars = sum(b - a for a, b in spans[n:m])
        if left is None:
            left = min(speech_start, right if right is not None else speech_start)
            # A run before the first heard word ends where that word starts, starting up to 0.15 s/char earlier.
            if right is not None:
                left = max(0.0, min(left, right - 0.15 * chars))
        if right is None:
            right = max(speech_end, left)
            if right - left > 0.3 * chars:
                right = left + 0.3 * chars
        for k, word in enumerate(spread(text, left, right, spans=spans[n:m])):
            words[n + k] = word
        n = m


def asr_words(text: str, words: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ASR words placed in their own transcript (their `at` offsets), timing `asr`."""
    out, at = [], 0
    for w in words:
        word = str(w.get("word", "")).strip()
        if not word:
            continue
        found = text.find(word, at)
        record = {"word": word, "start": float(w.get("start") or 0.0), "end": float(w.get("end") or 0.0),
                  "timing": ASR}
        if found >= 0:
            record["at"] = found
            at = found + len(word)
        out.append(record)
    return out


def timing_of(words: list[dict[str, Any]]) -> str | None:
    """The clip's word timing in one word: the weakest kind any word has (None without words)."""
    kinds = {str(w.get("timing") or ESTIMATED) for w in words}
    if not kinds:
        return None
    return min(kinds, key=lambda k: TIMING_RANK.get(k, 0))


# --- which transcript a clip keeps ---------------------------------------------------------------

def similarity(a: str, b: str) -> float:
    """How alike two transcripts read, 0..1, over their letters, digits and ideographs only."""
    ka, kb = [k for k, _ in _keys(a)], [k for k, _ in _keys(b)]
    if not ka or not kb:
        return 0.0
    return difflib.SequenceMatcher(None, ka, kb, autojunk=False).ratio()


def on_screen_transcript(timeline: list[dict[str, Any]]) -> tuple[str, list[tuple[float, float, str]]]:
    """Subtitle-like text from OCR over time: each line once, in order of appearance, with the span of
    frames it was seen in. `timeline` items are {"t": seconds, "lines": [...]}."""
    cues: list[list[Any]] = []
    times = [float(item.get("t") or 0.0) for item in timeline]
    step = min((b - a for a, b in zip(times, times[1:], strict=False) if b > a), default=1.0)
    for item in timeline:
        t = float(item.get("t") or 0.0)
        for line in item.get("lines") or []:
            line = str(line).strip()
            if not line:
                continue
            same = next((c for c in cues if similarity(c[2], line) >= 0.8), None)
            if same is not None:
                same[1] = t + step
            else:
                cues.append([t, t + step, line])
    joiner = "" if any(has_cjk(c[2]) for c in cues) else " "
    return joiner.join(c[2] for c in cues), [(c[0], c[1], c[2]) for c in cues]


TRANSCRIPT_SOURCES = ("best", "given", "asr", "on_screen")
# On-screen text replaces the given transcript only when it reads that much closer to the speech.
ON_SCREEN_MARGIN = 0.1
ON_SCREEN_MIN_MATCH = 0.4


@dataclass
class Choice:
    text: str
    source: str  # given | asr | on_screen | none
    reason: str


def choose_transcript(mode: str, *, given: str, heard: str, on_screen: str) -> Choice:
    """The transcript a clip keeps, per the dataset's setting (`TRANSCRIPT_SOURCES`).

    given / asr / on_screen: that text when there is one, else the next of given, asr, on-screen text.
    best: the given transcript, unless the on-screen text matches the speech better (burnt-in
    subtitles of a clip whose given text is missing or wrong); without either, what ASR heard."""
    given, heard, on_screen = given.strip(), heard.strip(), on_screen.strip()
    texts = {"given": given, "asr": heard, "on_screen": on_screen}
    if mode in texts:
        for source in (mode, "given", "asr", "on_screen"):
            if texts[source]:
                why = "chosen for this dataset" if source == mode else f"no {mode.replace('_', '-')} text"
                return Choice(texts[source], source, why)
        return Choice("", "none", "no transcript")
    if on_screen and heard:
        screen_match, given_match = similarity(on_screen, heard), similarity(given, heard) if given else 0.0
        if screen_match >= ON_SCREEN_MIN_MATCH and screen_match > given_match + ON_SCREEN_MARGIN:
            return Choice(on_screen, "on_screen", f"on-screen text matches the speech better "
                                                  f"({screen_match:.2f} vs {given_match:.2f})")
    if given:
        return Choice(given, "given", "the given transcript")
    if heard:
        return Choice(heard, "asr", "speech recognition")
    return Choice("", "none", "no transcript")


def transcript_words(choice: Choice, *, given_words: list[dict[str, Any]], heard_words: list[dict[str, Any]],
                     heard_text: str, screen_cues: list[tuple[float, float, str]] | None = None,
                     duration: float | None = None) -> list[dict[str, Any]]:
    """Word times for the chosen transcript: ASR's own, else aligned to ASR words, else the best estimate."""
    if choice.source == "none":
        return []
    if choice.source == "asr":
        return asr_words(choice.text, heard_words)
    if heard_words:
        return align_words(choice.text, heard_words, duration=duration)
    if choice.source == "given" and given_words:
        return given_words
    if choice.source == "on_screen" and screen_cues:
        return cue_words(screen_cues, "" if has_cjk(choice.text) else " ")[1]
    return spread(choice.text, 0.0, float(duration)) if duration else []


# --- choosing again, when a lead changes the dataset's transcript source --------------------------

def candidates(heard: dict[str, Any] | None, screen_text: str,
               screen_cues: list[tuple[float, float, str]]) -> dict[str, Any]:
    """What ASR heard and what was on screen, as kept in the speech features."""
    return {"heard": (heard or {}).get("text") or "", "heard_words": list((heard or {}).get("words") or []),
            "heard_language": (heard or {}).get("language"), "on_screen": screen_text,
            "on_screen_cues": [list(c) for c in screen_cues]}


def rechoose(found: dict[str, Any], mode: str, *, given: str, given_words: list[dict[str, Any]],
             language: str | None, duration: float | None) -> dict[str, Any]:
    """The transcript record (text, words, source, timing, choice) for `mode`, from stored candidates."""
    heard, heard_words = str(found.get("heard") or ""), list(found.get("heard_words") or [])
    screen_cues = [(float(a), float(b), str(t)) for a, b, t in found.get("on_screen_cues") or []]
    choice = choose_transcript(mode, given=given, heard=heard, on_screen=str(found.get("on_screen") or ""))
    words = transcript_words(choice, given_words=given_words, heard_words=heard_words, heard_text=heard,
                             screen_cues=screen_cues, duration=duration)
    said = found.get("heard_language") if choice.source == "asr" else language
    return {"text": choice.text, "words": words, "source": choice.source, "timing": timing_of(words),
            "choice": choice.reason, "language": said}

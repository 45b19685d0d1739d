"""EMER CSV files.

v1: columns `names, emotions, subtitles, reasons` (English or Chinese content;
`chi_reasons`/`eng_reasons` also read, both kept when both are present):
one clip per row, the subtitle is its transcript, the reason paragraph the
reference reasoning, cut into the four aspects.
v2: columns `name, chinese, english`: one reasoning paragraph per language,
both kept (the English one as primary, the Chinese one in translations).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from annotation.evaluation.aspects import split_paragraph
from annotation.formats.common import (
    ExportRow,
    ParsedBuilder,
    csv_header,
    iter_csv,
    write_csv,
)
from annotation.ingest.records import ClipRecord, ParsedImport, ReferenceRecord
from annotation.text import detect_language

DEFAULT_SOURCE = "emer-gt"

_V1_NAME = ("names", "name")
_V1_EMOTION = ("emotions", "emotion", "label")
_V1_SUBTITLE = ("subtitles", "subtitle", "chi_subtitle", "eng_subtitle", "chinese_subtitle", "english_subtitle")
_V1_REASON = ("reasons", "reason", "chi_reasons", "eng_reasons", "chinese_reasons", "english_reasons")


def _pick(row: dict[str, str], keys: Sequence[str]) -> str:
    for key in keys:
        if row.get(key):
            return row[key]
    return ""


def detect_v1(path: Path) -> bool:
    header = set(csv_header(path))
    return path.suffix.lower() == ".csv" and bool(header & set(_V1_NAME)) and bool(header & set(_V1_REASON))


def detect_v2(path: Path) -> bool:
    header = set(csv_header(path))
    return path.suffix.lower() == ".csv" and "name" in header and {"chinese", "english"} <= header


def _reference(name: str, source: str, text: str, emotion: str | None) -> ReferenceRecord:
    split = split_paragraph(text)
    return ReferenceRecord(clip_name=name, source=source, emotion=emotion or None, clues=split.clues,
                           reasoning=text, language=detect_language(text),
                           meta={"split_method": split.method, "conclusion": split.conclusion})


def read_v1(path: Path, media_dir: str | Path | None = None, *, source: str = DEFAULT_SOURCE) -> ParsedImport:
    builder = ParsedBuilder(media_dir)
    for number, row in iter_csv(path):
        name = _pick(row, _V1_NAME)
        if not name:
            builder.error(number, None, "no name in the names column")
            continue
        subtitle, reason, emotion = _pick(row, _V1_SUBTITLE), _pick(row, _V1_REASON), _pick(row, _V1_EMOTION)
        if not reason and not emotion:
            builder.error(number, name, "neither an emotion nor a reason")
            continue
        clip = ClipRecord(name=name, transcript=subtitle, transcript_source="manifest" if subtitle else None,
                          emotion=emotion or None, language=detect_language(subtitle or reason))
        if not builder.add_clip(clip, row=number):
            continue
        # Some releases carry both languages (chi_reasons, eng_reasons): English leads, Chinese is kept.
        english, chinese = row.get("eng_reasons", ""), row.get("chi_reasons", "")
        if english and chinese:
            reference = _reference(name, source, english, emotion)
            reference.translations = {"zh": {"reasoning": chinese, "clues": split_paragraph(chinese).clues}}
        else:
            reference = _reference(name, source, reason, emotion)
        builder.parsed.references.append(reference)
    return builder.parsed


def read_v2(path: Path, media_dir: str | Path | None = None, *, source: str = DEFAULT_SOURCE) -> ParsedImport:
    builder = ParsedBuilder(media_dir)
    for number, row in iter_csv(path):
        name, chinese, english = row.get("name", ""), row.get("chinese", ""), row.get("english", "")
        if not name:
            builder.error(number, None, "no name in the name column")
            continue
        if not chinese and not english:
            builder.error(number, name, "both the chinese and the english paragraph are empty")
            continue
        if not builder.add_clip(ClipRecord(name=name, language="zh" if chinese else "en"), row=number):
            continue
        primary, other, other_lang = (english, chinese, "zh") if english else (chinese, "", "en")
        reference = _reference(name, source, primary, None)
        if other:
            other_split = split_paragraph(other)
            reference.translations = {other_lang: {"reasoning": other, "clues": other_split.clues}}
        builder.parsed.references.append(reference)
    return builder.parsed


def _paragraph(row: ExportRow, language: str | None = None) -> str:
    """The row's reasoning in `language` (primary when None), merged from clues when absent."""
    from annotation.evaluation.aspects import merge_aspects

    if language and row.language != language:
        other = row.translations.get(language) or {}
        if other.get("reasoning"):
            return other["reasoning"]
        if other.get("clues"):
            return merge_aspects(other["clues"], emotion=row.emotion, language=language)
        return ""
    if row.reasoning:
        return row.reasoning
    if any(row.clues.values()):
        return merge_aspects(row.clues, emotion=row.emotion, language=language or row.language)
    return ""


def write_v1(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    write_csv(path, ["names", "emotions", "subtitles", "reasons"],
              ([r.name, r.emotion or "", r.transcript, _paragraph(r)] for r in rows))
    return [path]


def write_v2(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    def both(row: ExportRow) -> tuple[str, str]:
        primary_zh = (row.language or detect_language(row.reasoning)).startswith("zh")
        primary = _paragraph(row)
        other = _paragraph(row, "en" if primary_zh else "zh")
        return (primary, other) if primary_zh else (other, primary)

    write_csv(path, ["name", "chinese", "english"], ([r.name, *both(r)] for r in rows))
    return [path]

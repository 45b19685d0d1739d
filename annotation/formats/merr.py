"""MERR / Emotion-LLaMA annotation files.

Coarse JSON: {clip: {AU_list, visual_prior_list, audio_prior_list, peak_index,
peak_AU_list, pseu_emotion, caption}}. Fine JSON adds `smp_reason_caption` and
`text` (the subtitle). TXT: one line per clip, `name frame_count emotion`, the
list Emotion-LLaMA's FeatureFaceDataset splits on spaces; beside it a
`name,sentence` transcription CSV like the one it reads the subtitle from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotation.evaluation.aspects import merge_aspects, split_paragraph
from annotation.formats.common import (
    ExportRow,
    ParsedBuilder,
    read_text,
    sniff_json,
    write_csv,
)
from annotation.ingest.records import ClipRecord, ParsedImport, ReferenceRecord
from annotation.text import detect_language, split_sentences

DEFAULT_SOURCE = "merr"
COARSE_KEYS = ("AU_list", "visual_prior_list", "audio_prior_list", "peak_index", "peak_AU_list", "pseu_emotion",
               "caption")
_TXT_LINE = re.compile(r"^(\S+)\s+(\d+)\s+(\S+)\s*$")


def _kind(path: Path) -> str | None:
    """'fine', 'coarse' or None, from the first entry of a JSON object keyed by clip."""
    if path.suffix.lower() != ".json":
        return None
    head = sniff_json(path)
    if not head.lstrip().startswith("{"):
        return None
    if '"smp_reason_caption"' in head:
        return "fine"
    if '"pseu_emotion"' in head or '"AU_list"' in head or '"visual_prior_list"' in head:
        return "coarse"
    return None


def detect_coarse(path: Path) -> bool:
    return _kind(path) == "coarse"


def detect_fine(path: Path) -> bool:
    return _kind(path) == "fine"


def detect_txt(path: Path) -> bool:
    if path.suffix.lower() != ".txt":
        return False
    try:
        lines = [line for line in read_text(path).splitlines()[:20] if line.strip()]
    except (OSError, ValueError):
        return False
    return bool(lines) and sum(bool(_TXT_LINE.match(line)) for line in lines) >= max(1, len(lines) // 2)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    return [str(value)]


def _prior_text(value: Any) -> str:
    return "; ".join(_as_list(value))


def read_json(path: Path, media_dir: str | Path | None = None, *, source: str = DEFAULT_SOURCE) -> ParsedImport:
    """A coarse or fine MERR JSON (the entries say which)."""
    builder = ParsedBuilder(media_dir)
    try:
        data = json.loads(read_text(path))
    except (ValueError, OSError) as error:
        builder.error(None, None, f"{Path(path).name} is not valid JSON: {error}")
        return builder.parsed
    if not isinstance(data, dict):
        builder.error(None, None, "expected a JSON object keyed by clip name")
        return builder.parsed
    for number, (name, entry) in enumerate(data.items(), start=1):
        if not isinstance(entry, dict):
            builder.error(number, name, "entry is not an object")
            continue
        if not str(name).strip():
            builder.error(number, None, "empty clip name")
            continue
        emotion = str(entry.get("pseu_emotion") or "").strip() or None
        transcript = str(entry.get("text") or "").strip()
        fine = "smp_reason_caption" in entry
        reasoning = str(entry.get("smp_reason_caption" if fine else "caption") or "").strip()
        if not emotion and not reasoning:
            builder.error(number, name, "neither pseu_emotion nor a caption")
            continue
        language = detect_language(transcript or reasoning)
        clip = ClipRecord(name=str(name), transcript=transcript, transcript_source="manifest" if transcript else None,
                          emotion=emotion, language=language)
        if not builder.add_clip(clip, row=number):
            continue
        clues = {"facial": _prior_text(entry.get("visual_prior_list")),
                 "vocal": _prior_text(entry.get("audio_prior_list")), "verbal": "", "scene": ""}
        split_method = "priors"
        if fine and reasoning:
            split = split_paragraph(reasoning)
            clues = {k: v or clues.get(k, "") for k, v in split.clues.items()}
            split_method = split.method
        spans = []
        if entry.get("peak_index") is not None:
            peak_aus = _as_list(entry.get("peak_AU_list"))
            spans.append({"aspect": "facial", "frame": entry.get("peak_index"), "label": ", ".join(peak_aus),
                          "aus": peak_aus})
        kept = {k: entry[k] for k in entry if k not in ("text", "caption", "smp_reason_caption")}
        builder.parsed.references.append(ReferenceRecord(
            clip_name=str(name), source=source, emotion=emotion, clues=clues, reasoning=reasoning,
            language=detect_language(reasoning) if transcript else language, spans=spans,
            meta={"merr": kept, "merr_kind": "fine" if fine else "coarse", "split_method": split_method}))
    return builder.parsed


def read_txt(path: Path, media_dir: str | Path | None = None, *, source: str = "merr-label") -> ParsedImport:
    builder = ParsedBuilder(media_dir)
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        match = _TXT_LINE.match(line.strip())
        if not match:
            builder.error(number, line.split()[0] if line.split() else None,
                          "expected 'name frame_count emotion' separated by spaces")
            continue
        name, frames, emotion = match.group(1), int(match.group(2)), match.group(3)
        if builder.add_clip(ClipRecord(name=name, emotion=emotion, meta={"frame_count": frames}), row=number):
            builder.parsed.references.append(ReferenceRecord(clip_name=name, source=source, emotion=emotion,
                                                             meta={"frame_count": frames}))
    return builder.parsed


def _merr_entry(row: ExportRow) -> dict[str, Any]:
    """The stored MERR fields when the row came from MERR, else ones derived from the clues."""
    kept = dict(row.meta.get("merr") or {})
    entry: dict[str, Any] = {
        "AU_list": kept.get("AU_list", []),
        "visual_prior_list": kept.get("visual_prior_list", split_sentences(row.clues.get("facial", ""))),
        "audio_prior_list": kept.get("audio_prior_list", split_sentences(row.clues.get("vocal", ""))),
        "peak_index": kept.get("peak_index", next((s.get("frame") for s in row.spans if "frame" in s), None)),
        "peak_AU_list": kept.get("peak_AU_list", next((s.get("aus") for s in row.spans if "aus" in s), [])),
        "pseu_emotion": row.emotion or kept.get("pseu_emotion", ""),
    }
    return entry


def _reasoning(row: ExportRow) -> str:
    if row.reasoning:
        return row.reasoning
    return merge_aspects(row.clues, language=row.language) if any(row.clues.values()) else ""


def write_coarse(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    data = {r.name: {**_merr_entry(r), "caption": _reasoning(r)} for r in rows}
    _dump(data, path)
    return [path]


def write_fine(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    data = {r.name: {**_merr_entry(r), "smp_reason_caption": _reasoning(r), "text": r.transcript} for r in rows}
    _dump(data, path)
    return [path]


def _dump(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)


def write_txt(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    """The label list plus `<stem>.transcription.csv` (name,sentence).

    Rows without an emotion are left out (the loader needs one per line); a
    name with whitespace would break its space split, so it is refused.
    """
    bad = [r.name for r in rows if re.search(r"\s", r.name)]
    if bad:
        raise ValueError(f"clip names with spaces cannot go in a MERR list: {', '.join(bad[:5])}")
    labelled = [r for r in rows if r.emotion]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in labelled:
            frames = int(row.meta.get("frame_count") or 0)
            handle.write(f"{row.name} {frames} {row.emotion.replace(' ', '_')}\n")  # type: ignore[union-attr]
    transcription = path.with_name(path.stem + ".transcription.csv")
    write_csv(transcription, ["name", "sentence"], ([r.name, r.transcript] for r in labelled))
    return [path, transcription]

"""MER-Factory output: one `<clip>_merr_data.json` per clip, usually a whole folder.

Fields: `video_id`, `source_video` (older outputs: `source_path`),
`chronological_emotion_peaks` ("Peak at 1.23s: happy (strong)"),
`overall_peak_frame_info` (`frame_number`/`frame`, `timestamp`/`time`,
`top_aus_intensities` such as {"AU12_r": 2.1}), `coarse_descriptions_at_peak`
(`visual_expression`, `visual_objective`, `audio_tone` or `audio_analysis`,
`subtitles`, `video_content`) and `final_summary`. The descriptions map to the
aspects, the subtitles to the transcript; the overall peak with its action
units and each chronological peak become grounded spans.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotation.evaluation.aspects import split_paragraph
from annotation.formats.common import ExportRow, ParsedBuilder, read_text, sniff_json
from annotation.ingest.records import ClipRecord, ParsedImport, ReferenceRecord
from annotation.text import detect_language

DEFAULT_SOURCE = "mer-factory"
SUFFIX = "_merr_data.json"


def _is_factory_json(path: Path) -> bool:
    return path.suffix.lower() == ".json" and (
        path.name.endswith(SUFFIX) or '"coarse_descriptions_at_peak"' in sniff_json(path))


def detect(path: Path) -> bool:
    path = Path(path)
    if path.is_dir():
        return any(path.rglob("*" + SUFFIX))
    return _is_factory_json(path)


def _files(path: Path) -> list[Path]:
    path = Path(path)
    return sorted(path.rglob("*" + SUFFIX)) if path.is_dir() else [path]


def _clip_name(path: Path, data: dict[str, Any]) -> str:
    if str(data.get("video_id") or "").strip():
        return str(data["video_id"]).strip()
    source = str(data.get("source_video") or data.get("source_path") or "").strip()
    if source:
        return Path(source.replace("\\", "/")).stem
    return path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem


def _first(mapping: dict[str, Any], *keys: str) -> Any:
    return next((mapping[k] for k in keys if mapping.get(k) is not None), None)


def _peak_span(info: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(info, dict):
        return None
    time, frame = _first(info, "timestamp", "time"), _first(info, "frame_number", "frame")
    if time is None and frame is None:
        return None
    aus = info.get("top_aus_intensities") or {}
    aus = {str(k): float(v) for k, v in aus.items()} if isinstance(aus, dict) else {}
    label = ", ".join(f"{au.removesuffix('_r')} ({v:.2f})" for au, v in aus.items())
    return {"aspect": "facial", "start": time, "end": time, "frame": frame, "label": label, "aus": aus}


_PEAK = re.compile(r"Peak at\s+([0-9.]+)\s*s\s*:\s*(.+)", re.IGNORECASE)


def _chronological_spans(peaks: Any) -> list[dict[str, Any]]:
    """'Peak at 1.23s: happy (strong)' -> a facial span at 1.23 s labelled 'happy (strong)'."""
    spans = []
    for peak in peaks if isinstance(peaks, list) else []:
        match = _PEAK.match(str(peak).strip())
        if match:
            at = float(match.group(1))
            spans.append({"aspect": "facial", "start": at, "end": at, "label": match.group(2).strip(),
                          "kind": "emotion_peak"})
    return spans


def read(path: Path, media_dir: str | Path | None = None, *, source: str = DEFAULT_SOURCE) -> ParsedImport:
    """One per-clip JSON, or every `*_merr_data.json` under a folder."""
    builder = ParsedBuilder(media_dir)
    for number, file in enumerate(_files(path), start=1):
        try:
            data = json.loads(read_text(file))
        except (ValueError, OSError) as error:
            builder.error(number, file.name, f"not valid JSON: {error}")
            continue
        if not isinstance(data, dict):
            builder.error(number, file.name, "expected a JSON object")
            continue
        name = _clip_name(file, data)
        descriptions = data.get("coarse_descriptions_at_peak") or {}
        summary = str(data.get("final_summary") or "").strip()
        if not descriptions and not summary:
            builder.error(number, name, "no coarse_descriptions_at_peak and no final_summary")
            continue
        clues = {
            "facial": str(descriptions.get("visual_expression") or "").strip(),
            "vocal": str(_first(descriptions, "audio_tone", "audio_analysis") or "").strip(),
            "verbal": "",
            "scene": str(descriptions.get("video_content") or "").strip(),
        }
        subtitles = str(descriptions.get("subtitles") or "").strip()
        subtitles = "" if subtitles.upper() == "N/A" else subtitles
        if summary:
            from_summary = split_paragraph(summary, use_classifier=False)
            if from_summary.method == "markers":
                clues = {k: v or from_summary.clues[k] for k, v in clues.items()}
        span = _peak_span(data.get("overall_peak_frame_info") or {})
        spans = ([span] if span else []) + _chronological_spans(data.get("chronological_emotion_peaks"))
        language = detect_language(summary or subtitles or " ".join(clues.values()))
        source_video = data.get("source_video") or data.get("source_path")
        clip = ClipRecord(name=name, language=language, transcript=subtitles,
                          transcript_source="subtitle" if subtitles else None, meta={"source_path": source_video})
        if not builder.add_clip(clip, row=number):
            continue
        builder.parsed.references.append(ReferenceRecord(
            clip_name=name, source=source, clues=clues, reasoning=summary, language=language, spans=spans,
            meta={"mer_factory": {k: data[k] for k in (
                "video_id", "source_video", "source_path", "chronological_emotion_peaks", "overall_peak_frame_info",
                "coarse_descriptions_at_peak") if k in data}, "file": file.name}))
    return builder.parsed


def write(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    """`<folder>/<clip>/<clip>_merr_data.json` per row, in the current MER-Factory shape."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for row in rows:
        kept = dict(row.meta.get("mer_factory") or {})
        descriptions = dict(kept.get("coarse_descriptions_at_peak") or {})
        vocal_key = "audio_analysis" if "audio_analysis" in descriptions else "audio_tone"
        descriptions.update({"visual_expression": row.clues.get("facial", ""), vocal_key: row.clues.get("vocal", ""),
                             "video_content": row.clues.get("scene", ""), "subtitles": row.transcript})
        descriptions.setdefault("visual_objective", "")
        peak = kept.get("overall_peak_frame_info")
        if peak is None:
            span = next((s for s in row.spans if s.get("aus") is not None), None)
            peak = {"frame_number": span.get("frame"), "timestamp": span.get("start"),
                    "top_aus_intensities": span.get("aus") or {}} if span else {}
        peaks = kept.get("chronological_emotion_peaks")
        if peaks is None:
            peaks = [f"Peak at {s['start']:.2f}s: {s['label']}" for s in row.spans
                     if s.get("kind") == "emotion_peak" and s.get("start") is not None]
        source_video = kept.get("source_video") or kept.get("source_path") or row.meta.get("source_path") \
            or f"{row.name}.mp4"
        body = {"video_id": row.name, "source_video": source_video, "chronological_emotion_peaks": peaks,
                "overall_peak_frame_info": peak, "coarse_descriptions_at_peak": descriptions,
                "final_summary": row.reasoning}
        if "source_path" in kept:
            body["source_path"] = kept["source_path"]
        (folder / row.name).mkdir(exist_ok=True)  # MER-Factory keeps one folder per clip
        file = folder / row.name / f"{row.name}{SUFFIX}"
        file.write_text(json.dumps(body, ensure_ascii=False, indent=4), encoding="utf-8")
        written.append(file)
    return written

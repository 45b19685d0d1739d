"""MER-Factory output: one `<clip>_merr_data.json` per clip, usually a whole folder.

Fields: `source_path`, `chronological_emotion_peaks`, `overall_peak_frame_info`
(frame, time, `top_aus_intensities` such as {"AU12_r": 2.1}),
`coarse_descriptions_at_peak` (`visual_expression`, `visual_objective`,
`audio_analysis`, `video_content`) and `final_summary`. The descriptions map to
the aspects; the peak time and its action units become a grounded span.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotation.aspects import split_paragraph
from annotation.formats.common import ExportRow, ParsedBuilder, read_text, sniff_json
from annotation.records import ClipRecord, ParsedImport, ReferenceRecord
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
    source = str(data.get("source_path") or "").strip()
    if source:
        return Path(source.replace("\\", "/")).stem
    return path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem


def _peak_span(info: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(info, dict) or info.get("time") is None and info.get("frame") is None:
        return None
    aus = info.get("top_aus_intensities") or {}
    label = ", ".join(f"{au.removesuffix('_r')} ({float(v):.2f})" for au, v in aus.items()) if isinstance(aus, dict) else ""
    time = info.get("time") if info.get("time") is not None else None
    return {"aspect": "facial", "start": time, "end": time, "frame": info.get("frame"), "label": label,
            "aus": dict(aus) if isinstance(aus, dict) else {}}


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
            "vocal": str(descriptions.get("audio_analysis") or "").strip(),
            "verbal": "",
            "scene": str(descriptions.get("video_content") or "").strip(),
        }
        if summary:
            from_summary = split_paragraph(summary, use_classifier=False)
            if from_summary.method == "markers":
                clues = {k: v or from_summary.clues[k] for k, v in clues.items()}
        span = _peak_span(data.get("overall_peak_frame_info") or {})
        language = detect_language(summary or " ".join(clues.values()))
        if not builder.add_clip(ClipRecord(name=name, language=language,
                                           meta={"source_path": data.get("source_path")}), row=number):
            continue
        builder.parsed.references.append(ReferenceRecord(
            clip_name=name, source=source, clues=clues, reasoning=summary, language=language,
            spans=[span] if span else [],
            meta={"mer_factory": {k: data.get(k) for k in (
                "source_path", "chronological_emotion_peaks", "overall_peak_frame_info",
                "coarse_descriptions_at_peak") if k in data}, "file": file.name}))
    return builder.parsed


def write(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    """A folder with one `<clip>_merr_data.json` per row."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for row in rows:
        kept = dict(row.meta.get("mer_factory") or {})
        descriptions = dict(kept.get("coarse_descriptions_at_peak") or {})
        descriptions.update({
            "visual_expression": row.clues.get("facial", ""),
            "audio_analysis": row.clues.get("vocal", ""),
            "video_content": row.clues.get("scene", ""),
        })
        descriptions.setdefault("visual_objective", "")
        peak = kept.get("overall_peak_frame_info")
        if peak is None:
            span = next((s for s in row.spans if s.get("aus") is not None or s.get("frame") is not None), None)
            peak = {"frame": span.get("frame"), "time": span.get("start"),
                    "top_aus_intensities": span.get("aus") or {}} if span else {}
        body = {
            "source_path": kept.get("source_path") or row.meta.get("source_path") or f"{row.name}.mp4",
            "chronological_emotion_peaks": kept.get("chronological_emotion_peaks") or ([row.emotion] if row.emotion else []),
            "overall_peak_frame_info": peak,
            "coarse_descriptions_at_peak": descriptions,
            "final_summary": row.reasoning,
        }
        file = folder / f"{row.name}{SUFFIX}"
        file.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
        written.append(file)
    return written

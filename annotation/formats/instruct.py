"""Instruction-tuning files: AffectGPT/LLaVA JSONL and ShareGPT JSON for LLaMA-Factory.

One conversation per clip: the EMER prompt with the clip's subtitle goes in,
the reasoning paragraph comes out. Reading them back recovers name, subtitle
and reasoning, so a file ClueLab wrote (or one in the same shape) imports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotation.evaluation.aspects import merge_aspects, split_paragraph
from annotation.formats.common import ExportRow, ParsedBuilder, read_text, sniff_json
from annotation.ingest.records import ClipRecord, ParsedImport, ReferenceRecord
from annotation.text import detect_language

DEFAULT_SOURCE = "instruct"
PROMPTS = {
    "en": ("Subtitle content of the video: {subtitle}. As an expert in the field of emotions, please focus on the "
           "facial expressions, body movements, environment, acoustic information, subtitle content, etc., in the "
           "video to discern clues related to the emotions of the individual. Please provide a detailed description "
           "and ultimately predict the emotional state of the individual in the video."),
    "zh": ("视频的字幕内容：{subtitle}。作为情感领域的专家，请关注视频中人物的面部表情、肢体动作、环境、声音信息和字幕内容等，"
           "找出与人物情绪相关的线索，给出详细描述，并最终推断视频中人物的情绪状态。"),
}
_SUBTITLE = {
    "en": re.compile(r"Subtitle content of the video: (.*?)\. As an expert in the field of emotions", re.S),
    "zh": re.compile(r"视频的字幕内容：(.*?)。作为情感领域的专家", re.S),
}
VIDEO_TOKEN = "<video>"


def prompt_for(subtitle: str, language: str | None) -> str:
    lang = "zh" if (language or detect_language(subtitle)).startswith("zh") else "en"
    return PROMPTS[lang].format(subtitle=subtitle)


def subtitle_from_prompt(prompt: str) -> str:
    for pattern in _SUBTITLE.values():
        match = pattern.search(prompt)
        if match:
            return match.group(1).strip()
    return ""


def _answer(row: ExportRow) -> str:
    if row.reasoning:
        return row.reasoning
    return merge_aspects(row.clues, emotion=row.emotion, language=row.language) if any(row.clues.values()) else ""


def _video(row: ExportRow) -> str:
    return str(row.meta.get("video") or f"{row.name}.mp4")


def write_llava_jsonl(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    """LLaVA-style records, one per line: id, video, conversations (human -> gpt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            record = {
                "id": row.name,
                "video": _video(row),
                "conversations": [
                    {"from": "human", "value": f"{VIDEO_TOKEN}\n{prompt_for(row.transcript, row.language)}"},
                    {"from": "gpt", "value": _answer(row)},
                ],
                "emotion": row.emotion,
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return [path]


def write_sharegpt(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    """LLaMA-Factory sharegpt records (conversations + videos) in one JSON list."""
    records = [{
        "id": row.name,
        "conversations": [
            {"from": "human", "value": f"{VIDEO_TOKEN}{prompt_for(row.transcript, row.language)}"},
            {"from": "gpt", "value": _answer(row)},
        ],
        "videos": [_video(row)],
    } for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return [path]


def dataset_info(path: Path, name: str = "cluelab_emer") -> dict[str, Any]:
    """The `dataset_info.json` entry LLaMA-Factory needs for a written ShareGPT file."""
    return {name: {"file_name": path.name, "formatting": "sharegpt",
                   "columns": {"messages": "conversations", "videos": "videos"}}}


def detect_llava_jsonl(path: Path) -> bool:
    return path.suffix.lower() == ".jsonl" and '"conversations"' in sniff_json(path, 8192)


def detect_sharegpt(path: Path) -> bool:
    head = sniff_json(path, 8192).lstrip()
    return path.suffix.lower() == ".json" and head.startswith("[") and '"conversations"' in head


def _from_record(builder: ParsedBuilder, number: int, record: Any, source: str) -> None:
    if not isinstance(record, dict) or not isinstance(record.get("conversations"), list):
        builder.error(number, None, "no conversations list")
        return
    turns = record["conversations"]
    human = next((t.get("value", "") for t in turns if t.get("from") in ("human", "user")), "")
    answer = next((t.get("value", "") for t in turns if t.get("from") in ("gpt", "assistant")), "")
    videos = record.get("videos") or ([record["video"]] if record.get("video") else [])
    name = str(record.get("id") or (Path(videos[0]).stem if videos else "")).strip()
    if not name:
        builder.error(number, None, "no id and no video to name the clip")
        return
    subtitle = subtitle_from_prompt(human.replace(VIDEO_TOKEN, "").strip())
    emotion = record.get("emotion") or None
    clip = ClipRecord(name=name, transcript=subtitle, transcript_source="manifest" if subtitle else None,
                      emotion=emotion, language=detect_language(subtitle or answer))
    if builder.add_clip(clip, row=number):
        split = split_paragraph(answer)
        builder.parsed.references.append(ReferenceRecord(
            clip_name=name, source=source, emotion=emotion, clues=split.clues, reasoning=answer,
            language=detect_language(answer), meta={"split_method": split.method}))


def read_llava_jsonl(path: Path, media_dir: str | Path | None = None, *, source: str = DEFAULT_SOURCE) -> ParsedImport:
    builder = ParsedBuilder(media_dir)
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            builder.error(number, None, f"not valid JSON: {error}")
            continue
        _from_record(builder, number, record, source)
    return builder.parsed


def read_sharegpt(path: Path, media_dir: str | Path | None = None, *, source: str = DEFAULT_SOURCE) -> ParsedImport:
    builder = ParsedBuilder(media_dir)
    try:
        records = json.loads(read_text(path))
    except ValueError as error:
        builder.error(None, None, f"not valid JSON: {error}")
        return builder.parsed
    for number, record in enumerate(records if isinstance(records, list) else [], start=1):
        _from_record(builder, number, record, source)
    return builder.parsed

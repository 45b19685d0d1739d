"""Plain label files.

- MER2023: `name,label` (also the released `name,discrete,valence`).
The split (train/val/test) comes from the file name where it says so.

- DFEW: per-fold `video_name,label` with labels 1-7
  (1 happy, 2 sad, 3 neutral, 4 angry, 5 surprise, 6 disgust, 7 fear).
- Raw per-annotator labels: `name,annotator,label` (optional aspect columns
  and rating), one row per annotator and clip; each annotator becomes a source
  `raw-labels:<annotator>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from annotation.formats.common import (
    ExportRow,
    ParsedBuilder,
    csv_header,
    iter_csv,
    split_from_path,
    write_csv,
)
from annotation.ingest.records import ClipRecord, ParsedImport, ReferenceRecord
from core.vocabulary import LABEL_SETS, Aspect

DFEW_LABELS: tuple[str, ...] = LABEL_SETS["dfew"]  # index + 1 is DFEW's number
_ASPECT_COLUMNS = tuple(a.value for a in Aspect)


def detect_mer2023(path: Path) -> bool:
    header = set(csv_header(path))
    return path.suffix.lower() == ".csv" and "name" in header and bool(header & {"label", "discrete"}) \
        and "annotator" not in header and not header & {"reasons", "chinese", "method"}


def detect_dfew(path: Path) -> bool:
    header = set(csv_header(path))
    return path.suffix.lower() == ".csv" and {"video_name", "label"} <= header


def detect_raw(path: Path) -> bool:
    header = set(csv_header(path))
    return path.suffix.lower() == ".csv" and {"name", "annotator", "label"} <= header


def read_mer2023(path: Path, media_dir: str | Path | None = None, *, source: str = "mer2023-gt") -> ParsedImport:
    builder = ParsedBuilder(media_dir)
    split = split_from_path(path)
    for number, row in iter_csv(path):
        name, label = row.get("name", ""), (row.get("label") or row.get("discrete") or "").lower()
        if not name or not label:
            builder.error(number, name or None, "a name and a label are both needed")
            continue
        meta = {"valence": float(row["valence"])} if row.get("valence") else {}
        clip_meta = {**meta, **({"split": split} if split else {})}
        if builder.add_clip(ClipRecord(name=name, emotion=label, meta=clip_meta), row=number):
            builder.parsed.references.append(ReferenceRecord(clip_name=name, source=source, emotion=label, meta=meta))
    return builder.parsed


def _dfew_name(value: str) -> str:
    """DFEW numbers clips 1..16372 in label files and 00001.. on disk."""
    return value.zfill(5) if value.isdigit() else value


def read_dfew(path: Path, media_dir: str | Path | None = None, *, source: str = "dfew-gt") -> ParsedImport:
    builder = ParsedBuilder(media_dir)
    split = split_from_path(path)
    for number, row in iter_csv(path):
        name, raw = _dfew_name(row.get("video_name", "")), row.get("label", "")
        if not name:
            builder.error(number, None, "no video_name")
            continue
        if raw.isdigit() and 1 <= int(raw) <= len(DFEW_LABELS):
            label = DFEW_LABELS[int(raw) - 1]
        elif raw.lower() in DFEW_LABELS:
            label = raw.lower()
        else:
            builder.error(number, name, f"label {raw!r} is not 1-7 or a DFEW label name")
            continue
        meta = {"split": split} if split else {}
        if builder.add_clip(ClipRecord(name=name, emotion=label, meta=meta), row=number):
            builder.parsed.references.append(ReferenceRecord(clip_name=name, source=source, emotion=label))
    return builder.parsed


def read_raw(path: Path, media_dir: str | Path | None = None, *, source: str = "raw-labels") -> ParsedImport:
    builder = ParsedBuilder(media_dir)
    seen: set[tuple[str, str]] = set()
    clips: set[str] = set()
    for number, row in iter_csv(path):
        name, annotator, label = row.get("name", ""), row.get("annotator", ""), row.get("label", "").lower()
        if not name or not annotator or not label:
            builder.error(number, name or None, "name, annotator and label are all needed")
            continue
        if (name, annotator) in seen:
            builder.error(number, name, f"duplicate label from {annotator!r}: kept the first row")
            continue
        seen.add((name, annotator))
        if name not in clips:
            clips.add(name)
            builder.add_clip(ClipRecord(name=name), row=number)
        meta = {"annotator": annotator}
        if row.get("rating"):
            meta["rating"] = int(row["rating"]) if row["rating"].isdigit() else row["rating"]
        builder.parsed.references.append(ReferenceRecord(
            clip_name=name, source=f"{source}:{annotator}"[:64], emotion=label,
            clues={a: row.get(a, "") for a in _ASPECT_COLUMNS if row.get(a)}, meta=meta))
    return builder.parsed


def write_mer2023(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    write_csv(path, ["name", "label"], ([r.name, r.emotion or ""] for r in rows if r.emotion))
    return [path]


def write_dfew(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    unknown = sorted({r.emotion for r in rows if r.emotion and r.emotion not in DFEW_LABELS})
    if unknown:
        raise ValueError(f"labels outside DFEW's seven cannot be numbered: {', '.join(unknown)}")
    write_csv(path, ["video_name", "label"],
              ([r.name, DFEW_LABELS.index(r.emotion) + 1] for r in rows if r.emotion))  # type: ignore[arg-type]
    return [path]


def write_raw(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    header = ["name", "annotator", "label", *_ASPECT_COLUMNS, "rating"]
    write_csv(path, header, ([r.name, r.annotator or "", r.emotion or "",
                              *(r.clues.get(a, "") for a in _ASPECT_COLUMNS), r.meta.get("rating", "")]
                             for r in rows))
    return [path]

"""Import: folders of media and CSV/JSON manifests become Clip rows.

Readers turn input into `ParsedImport` records; `import_parsed` stores them,
de-duplicating by clip name and by file content, so importing the same thing
twice creates nothing and says so. Media processing happens later, in ingest.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlmodel import Session

from annotation.ingest.media import MEDIA_SUFFIXES, file_hash
from annotation.ingest.records import ClipRecord, ImportReport, ParsedImport, RowError
from annotation.ingest.subtitles import SUBTITLE_SUFFIXES, find_subtitle, read_subtitle_file
from annotation.permissions import require
from annotation.text import detect_language
from core.settings import get_settings
from core.vocabulary import ClipStatus, Role
from db.models import Clip, Dataset, User
from db.queries import audit
from db.queries import clips as clip_queries

PATH_COLUMNS = ("path", "video", "file", "media", "filename", "video_path")
NAME_COLUMNS = ("name", "names", "clip", "clip_id", "id")
TRANSCRIPT_COLUMNS = ("transcript", "subtitle", "subtitles", "text", "sentence")
EMOTION_COLUMNS = ("emotion", "emotions", "label")
SPEAKER_COLUMNS = ("speaker", "source_id", "speaker_id")


class ImportFailed(ValueError):
    """A whole import cannot proceed (unreadable manifest, missing folder)."""


def inside(root: Path, candidate: Path) -> bool:
    """True when `candidate` resolves to a path within `root` (no `..` or symlink escapes)."""
    try:
        candidate.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def check_import_root(path: Path) -> None:
    """Refuse a server path outside the import roots (setting `import_roots`, and the app's uploads).

    For imports the app starts: it often runs as root, and a lead must not read any folder of the server.
    The command line is trusted and reads anywhere.
    """
    roots = get_settings().allowed_import_roots
    if not any(inside(root, Path(path)) for root in roots):
        raise ImportFailed(f"{path} is outside the import roots ({', '.join(str(r) for r in roots)}): put the "
                           "files under one of them, or ask an admin to add a root (setting import_roots)")


def scan_folder(root: Path) -> ParsedImport:
    """Every media file below `root`; a subtitle beside a file becomes its transcript."""
    root = Path(root)
    if not root.is_dir():
        raise ImportFailed(f"not a folder: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
    stems = [p.stem for p in files]
    parsed = ParsedImport()
    for path in files:
        # Stems name clips in this field's datasets; fall back to the relative path when two collide.
        name = path.stem if stems.count(path.stem) == 1 else str(path.relative_to(root).with_suffix(""))
        record = ClipRecord(name=name, media_path=str(path))
        subtitle = find_subtitle(path)
        if subtitle:
            record.transcript, record.transcript_words = read_subtitle_file(subtitle)
            record.transcript_source = "subtitle"
        parsed.clips.append(record)
    return parsed


def _pick(row: dict[str, str], names: tuple[str, ...]) -> str:
    lowered = {k.strip().lower(): v for k, v in row.items() if k}
    for name in names:
        value = lowered.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _manifest_rows(path: Path) -> list[dict[str, str]]:
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            if isinstance(data, dict):
                data = data.get("clips", data.get("items"))
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise ImportFailed("a JSON manifest must be a list of objects (or {\"clips\": [...]})")
            return [{str(k): "" if v is None else str(v) for k, v in r.items()} for r in data]
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as error:
        raise ImportFailed(f"cannot read manifest {path.name}: {error}") from None


def read_manifest(path: Path, root: Path | None = None) -> ParsedImport:
    """A CSV or JSON manifest: path, name, transcript (text or a subtitle file), emotion, speaker."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"manifest not found: {path}")
    root = Path(root) if root else path.parent
    parsed = ParsedImport()
    for number, row in enumerate(_manifest_rows(path), start=2):
        media = _pick(row, PATH_COLUMNS)
        name = _pick(row, NAME_COLUMNS) or (Path(media).stem if media else "")
        transcript = _pick(row, TRANSCRIPT_COLUMNS)
        if not name:
            parsed.errors.append(RowError(row=number, reason="row has no name and no media path"))
            continue
        record = ClipRecord(name=name, emotion=_pick(row, EMOTION_COLUMNS) or None,
                            speaker=_pick(row, SPEAKER_COLUMNS) or None,
                            language=_pick(row, ("language", "lang")) or None)
        if media:
            media_path = (root / media) if not Path(media).is_absolute() else Path(media)
            if not inside(root, media_path):
                parsed.errors.append(RowError(row=number, name=name, reason=f"path {media!r} is outside the import folder"))
                continue
            if not media_path.exists():
                parsed.errors.append(RowError(row=number, name=name, reason=f"media file not found: {media}"))
                continue
            record.media_path = str(media_path)
        if transcript.lower().endswith(SUBTITLE_SUFFIXES):
            subtitle = root / transcript
            if not inside(root, subtitle) or not subtitle.exists():
                parsed.errors.append(RowError(row=number, name=name, reason=f"subtitle file not found: {transcript}"))
                continue
            record.transcript, record.transcript_words = read_subtitle_file(subtitle)
            record.transcript_source = "subtitle"
        elif transcript:
            record.transcript, record.transcript_source = transcript, "manifest"
        elif record.media_path:
            subtitle = find_subtitle(Path(record.media_path))
            if subtitle:
                record.transcript, record.transcript_words = read_subtitle_file(subtitle)
                record.transcript_source = "subtitle"
        if not record.media_path and not record.transcript:
            parsed.errors.append(RowError(row=number, name=name, reason="row has neither media nor a transcript"))
            continue
        parsed.clips.append(record)
    return parsed


class _Twins:
    """Files by size, to find duplicates by content cheaply: only files of equal size can be equal, so only
    those are hashed (a new file's size is one stat; hashing a 3 GB file takes seconds)."""

    def __init__(self, session: Session, dataset_id: int):
        self.session = session
        self.by_size: dict[int, list[list]] = {}  # size -> [[digest or None, path or None, clip id or Clip]]
        for clip_id, size, digest, source in clip_queries.media_fingerprints(session, dataset_id=dataset_id):
            self.by_size.setdefault(size, []).append([digest, source, clip_id])

    def duplicate(self, path: Path, size: int) -> tuple[bool, str | None]:
        """Whether a known file has the same content; and this file's hash when it had to be computed."""
        same_size = self.by_size.get(size)
        if not same_size:
            return False, None
        digest = file_hash(path)
        for known in same_size:
            if known[0] is None and known[1] and Path(known[1]).is_file():
                known[0] = file_hash(Path(known[1]))
                self._remember(known)
            if known[0] == digest:
                return True, digest
        return False, digest

    def _remember(self, known: list) -> None:
        owner = known[2]
        if isinstance(owner, Clip):
            owner.content_hash = known[0]
        elif owner is not None:
            clip_queries.set_content_hash(self.session, clip_id=owner, content_hash=known[0])

    def add(self, clip: Clip) -> None:
        if clip.size_bytes:
            self.by_size.setdefault(clip.size_bytes, []).append([clip.content_hash, clip.source_path, clip])


def import_parsed(session: Session, *, dataset: Dataset, parsed: ParsedImport, user: User | None,
                  media_root: Path | None = None) -> ImportReport:
    """Store clip records; duplicates (same name, or same file content) are counted, not created.

    A file over the size limit is refused here, by its size alone. Content is hashed only to tell apart
    files of equal size; ingest hashes the rest, in the background.
    """
    require(user, Role.lead, action="importing clips")
    max_bytes = get_settings().max_media_bytes
    report = ImportReport(errors=list(parsed.errors))
    known_names = clip_queries.clip_names(session, dataset_id=dataset.id)
    twins = _Twins(session, dataset.id)
    new_clips: list[Clip] = []
    for record in parsed.clips:
        if record.name in known_names:
            report.duplicates += 1
            continue
        digest = None
        size = None
        if record.media_path:
            media = Path(record.media_path)
            if media_root is not None and not inside(media_root, media):
                report.errors.append(RowError(name=record.name, reason="media path is outside the import folder"))
                continue
            size = media.stat().st_size if media.exists() else None
            if size and size > max_bytes:
                report.errors.append(RowError(name=record.name, reason=f"the file is {size / 1e6:.0f} MB, over the "
                                              f"{max_bytes / 1e6:.0f} MB limit (setting max_media_bytes)"))
                continue
            if size:
                duplicate, digest = twins.duplicate(media, size)
                if duplicate:
                    report.duplicates += 1
                    continue
        language = record.language or (detect_language(record.transcript) if record.transcript else None)
        clip = Clip(
            dataset_id=dataset.id,
            name=record.name,
            source_path=str(Path(record.media_path).resolve()) if record.media_path else None,
            content_hash=digest,
            size_bytes=size,
            status=(ClipStatus.pending if record.media_path else ClipStatus.ready).value,
            transcript=record.transcript,
            transcript_words=[w.model_dump(exclude_none=True) for w in record.transcript_words],
            transcript_source=record.transcript_source,
            language=language,
            speaker=record.speaker,
            source_emotion=record.emotion,
            meta=record.meta,
        )
        new_clips.append(clip)
        known_names.add(record.name)
        twins.add(clip)
    # One flush for the whole batch: per-row flushes dominate large imports.
    report.clip_ids = clip_queries.add_clips(session, clips=new_clips)
    report.created = len(new_clips)
    audit.record(session, user=user, action="import", entity="dataset", entity_id=dataset.id,
                 detail={"created": report.created, "duplicates": report.duplicates, "errors": len(report.errors)})
    return report


def read_source(path: Path) -> ParsedImport:
    """A folder, or a manifest file (.csv/.json)."""
    path = Path(path)
    if path.is_dir():
        return scan_folder(path)
    if path.suffix.lower() in (".csv", ".json"):
        return read_manifest(path)
    raise ImportFailed(f"expected a folder or a .csv/.json manifest, got {path.name}")

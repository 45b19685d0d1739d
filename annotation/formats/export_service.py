"""Gather export rows from the database for one source and split, and write a format.

A source is named as text: `consensus` (current consensus rows), `model:<id>`
(a model version's predictions), `reference:<source>` (an imported system such
as `reference:emer-gt`; `reference:raw-labels:*` takes every annotator) or
`annotations` (each annotator's submitted work).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from annotation.datasets import HELD_OUT_SPLIT, is_held_out
from annotation.formats.common import ExportRow
from annotation.formats.registry import export_rows
from annotation.permissions import require
from core.vocabulary import Role
from db.engine import with_session, write_transaction
from db.models import (
    Clip,
    Dataset,
    User,
)
from db.queries import audit, model_versions
from db.queries import exports as export_queries
from db.queries.references import references_for_source


@dataclass(frozen=True)
class SourceRef:
    kind: str  # consensus | model | reference | annotations
    key: str | None = None

    @classmethod
    def parse(cls, text: str) -> SourceRef:
        kind, _, key = text.partition(":")
        if kind in ("consensus", "annotations") and not key:
            return cls(kind)
        if kind == "model" and key.isdigit():
            return cls(kind, key)
        if kind == "reference" and key:
            return cls(kind, key)
        raise ValueError(f"unknown source {text!r}: use consensus, annotations, model:<id> or reference:<name>")

    def __str__(self) -> str:
        return self.kind if self.key is None else f"{self.kind}:{self.key}"


def _base(clip: Clip) -> dict:
    meta = {k: v for k, v in (clip.meta or {}).items() if k in ("frame_count", "split", "source_path")}
    if clip.source_path:
        meta["video"] = Path(clip.source_path).name
    return {"name": clip.name, "transcript": clip.transcript or "", "language": clip.language, "meta": meta}


def _consensus_rows(session: Session, dataset_id: int) -> list[ExportRow]:
    users = export_queries.usernames(session)
    annotators = {annotation_id: users.get(user_id, "")
                  for annotation_id, user_id in export_queries.annotation_authors(session, dataset_id=dataset_id).items()}
    rows = []
    for clip, consensus in export_queries.clips_with_consensus(session, dataset_id=dataset_id):
        ids = list(consensus.source_annotation_ids)
        provenance = {
            "method": consensus.method, "revision": consensus.revision, "source_annotation_ids": ids,
            "annotators": [annotators.get(i, "") for i in ids],
            "accepted_by": users.get(consensus.accepted_by_id, "") if consensus.accepted_by_id else "",
            "accepted_at": consensus.accepted_at.isoformat() if consensus.accepted_at else "",
        }
        rows.append(ExportRow(**_base(clip), emotion=consensus.emotion, clues=dict(consensus.clues),
                              emotion_words=list(consensus.emotion_words or []),
                              provenance=provenance))
    return rows


def _model_rows(session: Session, dataset_id: int, version_id: int) -> list[ExportRow]:
    version = model_versions.get_version(session, version_id=version_id)
    if version is None:
        raise ValueError(f"no model version {version_id}")
    return [ExportRow(**_base(clip), emotion=prediction.emotion, clues=dict(prediction.clues),
                      emotion_words=list(prediction.emotion_words or []),
                      spans=list(prediction.spans),
                      provenance={"model_version": version.name, "model_version_id": version.id})
            for clip, prediction in export_queries.clips_with_predictions(session, dataset_id=dataset_id,
                                                                          version_id=version.id)]


def _reference_rows(session: Session, dataset_id: int, source: str) -> list[ExportRow]:
    rows = []
    for clip, reference in references_for_source(session, dataset_id=dataset_id, source=source):
        base = _base(clip)
        base["meta"] = {**base["meta"], **(reference.meta or {})}
        base["language"] = reference.language or base["language"]
        rows.append(ExportRow(**base, emotion=reference.emotion, clues=dict(reference.clues),
                              emotion_words=list(reference.emotion_words or []),
                              reasoning=reference.reasoning, translations=dict(reference.translations),
                              spans=list(reference.spans), annotator=(reference.meta or {}).get("annotator"),
                              provenance={"source": reference.source}))
    return rows


def _annotation_rows(session: Session, dataset_id: int) -> list[ExportRow]:
    rows = []
    for clip, annotation, user in export_queries.clips_with_submissions(session, dataset_id=dataset_id):
        base = _base(clip)
        base["meta"]["rating"] = annotation.rating
        rows.append(ExportRow(**base, emotion=annotation.emotion or annotation.emotion_other,
                              emotion_words=list(annotation.emotion_words or []),
                              clues=dict(annotation.clues), annotator=user.username))
    return rows


def gather_rows(session: Session, *, dataset_id: int, source: str | SourceRef,
                split: str | None = None) -> list[ExportRow]:
    """Rows for every clip of the dataset that the source covers, by clip name.

    The split is the clip's `meta["split"]` (train/val/test), or "held-out" for the clips no model version
    trains on; None or "all" takes every clip.
    """
    ref = source if isinstance(source, SourceRef) else SourceRef.parse(source)
    if ref.kind == "consensus":
        rows = _consensus_rows(session, dataset_id)
    elif ref.kind == "model":
        rows = _model_rows(session, dataset_id, int(ref.key or 0))
    elif ref.kind == "reference":
        rows = _reference_rows(session, dataset_id, ref.key or "")
    else:
        rows = _annotation_rows(session, dataset_id)
    if split in (None, "", "all"):
        return rows
    if split == HELD_OUT_SPLIT:  # the model's held-out clips, whatever split the clip came with
        return [row for row in rows if is_held_out(row.name)]
    return [row for row in rows if row.meta.get("split") == split]


def export_dataset(session: Session, *, dataset: Dataset, source: str, format: str, path: str | Path,
                   user: User, split: str | None = None) -> list[Path]:
    """Write one source of a dataset in a format; returns the files (the sidecar last)."""
    require(user, Role.lead, Role.researcher, action="export data")
    rows = gather_rows(session, dataset_id=dataset.id, source=source, split=split)  # type: ignore[arg-type]
    files = export_rows(format, rows, path, source=str(source), split=split,
                        extra={"dataset": dataset.name, "label_set": list(dataset.label_set)})
    # The files are written; the log says who took which data out (an export that failed leaves no row).
    with write_transaction(session):
        audit.record(session, user=user, action="export", entity="dataset", entity_id=dataset.id,
                     detail={"source": str(source), "format": format, "split": split or "all", "rows": len(rows)})
    return files


@dataclass(frozen=True)
class ExportFile:
    """A finished export on disk: the zip, the name to offer it under, and how many rows it holds."""

    path: Path
    name: str
    rows: int


class _Quiet:
    def set_total(self, total: int) -> None:
        pass

    def advance(self, n: int = 1, message: str | None = None) -> None:
        pass


def write_export_zip(session: Session, *, dataset: Dataset, source: str, format: str, user: User, exports_dir: Path,
                     split: str | None = None, progress: Any = None) -> ExportFile:
    """Write the export (the file or folder plus its `.meta.json`) as one zip on disk, never whole in memory.

    The format writes its files to a fresh folder under `exports_dir`; each is then streamed into the zip and
    removed, so only the zip stays. `progress` (a job context) hears one step for the rows and one per file.
    """
    import shutil
    import uuid
    import zipfile

    from annotation.formats.registry import get_format

    require(user, Role.lead, Role.researcher, action="export data")
    progress = progress or _Quiet()
    spec = get_format(format)
    folder = Path(exports_dir) / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    stem = f"{dataset.name}-{str(source).replace(':', '-')}-{split or 'all'}-{format}"
    target = folder / (stem if spec.suffix == "/" else stem + spec.suffix)
    rows = gather_rows(session, dataset_id=dataset.id, source=source, split=split)  # type: ignore[arg-type]
    files = export_rows(format, rows, target, source=str(source), split=split,
                        extra={"dataset": dataset.name, "label_set": list(dataset.label_set)})
    written = sorted({p for f in files for p in ([f] if f.is_file() else f.rglob("*")) if p.is_file()})
    progress.set_total(len(written) + 1)
    progress.advance(message=f"{len(rows)} row(s) written as {format}")
    zipped = folder / f"{stem}.zip"
    partial = folder / f".{stem}.zip.partial"
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in written:
            archive.write(file, file.relative_to(folder))  # read from disk in blocks
            progress.advance(message=f"zipped {file.relative_to(folder)}")
    partial.replace(zipped)
    for entry in folder.iterdir():
        if entry != zipped:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    return ExportFile(path=zipped, name=zipped.name, rows=len(rows))


@with_session
def export_archive(session: Session, *, dataset: Dataset, source: str, format: str, user: User,
                   exports_dir: Path, split: str | None = None) -> tuple[str, bytes]:
    """The export as one zip (the file or folder plus its `.meta.json`), for a download.

    Large exports belong in the export job (annotation.formats.jobs), which leaves the zip on disk.
    """
    export = write_export_zip(session, dataset=dataset, source=source, format=format, user=user,
                              exports_dir=exports_dir, split=split)
    return export.name, export.path.read_bytes()


def export_of_job(result: dict[str, Any] | None, *, data_dir: Path) -> ExportFile | None:
    """The zip a finished export job left (see annotation.formats.jobs), while it is still on disk; None for a
    result that names no file, a file that is gone, or a path outside the data directory's `exports/`."""
    if not result or not result.get("file"):
        return None
    exports = (Path(data_dir) / "exports").resolve()
    path = (Path(data_dir) / str(result["file"])).resolve()
    if not path.is_relative_to(exports) or not path.is_file():
        return None
    return ExportFile(path=path, name=str(result.get("name") or path.name), rows=int(result.get("rows") or 0))

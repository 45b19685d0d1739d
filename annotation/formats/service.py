"""Import a research data file into a dataset: detect, read, store clips, store references."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from annotation.formats.registry import read
from annotation.permissions import require
from annotation.records import ImportReport, RowError
from annotation.vocabulary import Role
from db.models import Dataset, User
from db.queries.references import missing_clips, store_references


def import_file(session: Session, *, dataset: Dataset, path: str | Path, media_dir: str | Path | None,
                user: User, format: str | None = None, source: str | None = None) -> ImportReport:
    """Read `path` (format detected unless named) and store it; a second run changes nothing.

    Clips go through `annotation.importer.import_parsed` (de-duplicated by name
    and content hash); the file's reasoning and labels are stored as
    references of `source` (the format's default name unless given).
    """
    from annotation.importer import import_parsed

    require(user, Role.lead, action="importing research data")
    spec, parsed = read(path, media_dir=media_dir, format=format, source=source)
    report = import_parsed(session, dataset=dataset, parsed=parsed, user=user,
                           media_root=Path(media_dir) if media_dir else None)
    report.errors.extend(e for e in parsed.errors if e not in report.errors)
    missing = set(missing_clips(session, dataset_id=dataset.id, references=parsed.references))
    for name in sorted(missing):
        report.errors.append(RowError(name=name, reason="reference for a clip that was not imported"))
    kept = [r for r in parsed.references if r.clip_name not in missing]
    report.references_created, report.references_unchanged = store_references(
        session, dataset_id=dataset.id, references=kept)
    return report


__all__ = ["import_file"]

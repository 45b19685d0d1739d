"""Import a research data file into a dataset: detect, read, store clips, store references."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from annotation.formats.registry import UnknownFormat, read
from annotation.ingest.importer import ImportFailed, check_import_root, import_parsed
from annotation.ingest.records import ImportReport, RowError
from annotation.permissions import require
from core.vocabulary import Role
from db.engine import unit_of_work
from db.models import Dataset, User
from db.queries.references import missing_clips, store_references


def import_file(session: Session, *, dataset: Dataset, path: str | Path, media_dir: str | Path | None,
                user: User, format: str | None = None, source: str | None = None) -> ImportReport:
    """Read `path` (format detected unless named) and store it; a second run changes nothing.

    Clips go through `annotation.ingest.importer.import_parsed` (de-duplicated by name
    and content hash); the file's reasoning and labels are stored as
    references of `source` (the format's default name unless given).
    """
    require(user, Role.lead, action="importing research data")
    _, parsed = read(path, media_dir=media_dir, format=format, source=source)
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


DATA_SUFFIXES = frozenset({".csv", ".json", ".jsonl", ".txt", ".npz"})


def save_data_uploads(*, user: User, files: list[tuple[str, bytes]], uploads_dir: Path,
                      max_bytes: int) -> tuple[list[Path], list[str]]:
    """Write uploaded data files to a new folder; returns what to import and the refusals.

    Several MER-Factory `*_merr_data.json` files import together as one folder.
    """
    from annotation.ingest.uploads import new_upload_folder, write_uploads

    require(user, Role.lead, action="uploading research data")
    folder = new_upload_folder(Path(uploads_dir) / "formats")
    saved, refused = write_uploads(folder, files, allowed_suffixes=DATA_SUFFIXES, max_bytes=max_bytes)
    factory = [p for p in saved if p.name.endswith("_merr_data.json")]
    targets = [p for p in saved if p not in factory] + ([folder] if factory else [])
    return targets, refused


@unit_of_work
def import_files(session: Session, *, dataset: Dataset, paths: list[Path], media_dir: str | Path | None,
                 user: User, format: str | None = None, source: str | None = None) -> ImportReport:
    """`import_file` for each path (the app's imports: only from under the import roots), one report for all;
    a file no format knows, or a path outside the roots, becomes an error."""
    require(user, Role.lead, action="importing research data")  # first: a refused caller learns nothing of paths
    total = ImportReport()
    if media_dir:
        try:
            check_import_root(Path(media_dir))
        except ImportFailed as error:
            total.errors.append(RowError(name=str(media_dir), reason=str(error)))
            return total
    for path in paths:
        try:
            check_import_root(Path(path))
            report = import_file(session, dataset=dataset, path=path, media_dir=media_dir, user=user,
                                 format=format, source=source)
        except (UnknownFormat, FileNotFoundError, ValueError) as error:
            total.errors.append(RowError(name=Path(path).name, reason=str(error)))
            continue
        total.absorb(report)
    return total

"""Ingest: process the media of imported clips in parallel, resumably.

Work runs in a process pool (ffmpeg does the heavy lifting; Python only
orchestrates); the parent writes each result to the database as it arrives, so
an interrupted ingest resumes with the clips still pending. Derived files live
under `<data_dir>/media/<content hash prefix>/`, shared by identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session

from annotation.ingest.media import MediaError, MediaResult, file_hash, process_file
from core.settings import get_settings
from db.engine import get_engine
from db.queries import clips as clip_queries

# (clip name, error or None) after each clip.
ProgressCallback = Callable[[str, str | None], None]


@dataclass
class IngestReport:
    ready: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def _media_folder(data_dir: Path, source: Path, known_hash: str | None) -> tuple[Path, str]:
    digest = known_hash or file_hash(source)
    return data_dir / "media" / digest[:16], digest


def _process_one(source: str, data_dir: str, known_hash: str | None, max_bytes: int) -> MediaResult:
    source_path = Path(source)
    if not source_path.exists():
        raise MediaError(f"file not found: {source_path.name}")
    if source_path.stat().st_size == 0:
        raise MediaError("the file is empty (0 bytes)")
    out, digest = _media_folder(Path(data_dir), source_path, known_hash)
    return process_file(source_path, out, max_bytes=max_bytes, content_hash=digest)


def ingest_clips(*, dataset_id: int | None = None, clip_ids: list[int] | None = None, workers: int | None = None,
                 on_total: Callable[[int], None] | None = None, on_progress: ProgressCallback | None = None,
                 should_stop: Callable[[], bool] | None = None) -> IngestReport:
    """Process every clip still pending (in a dataset, or the given ids). Done clips are skipped."""
    settings = get_settings()
    engine = get_engine()
    with Session(engine) as session:
        todo = [(c.id, c.name, c.source_path, c.content_hash)
                for c in clip_queries.clips_to_ingest(session, dataset_id=dataset_id, clip_ids=clip_ids)]
    if on_total:
        on_total(len(todo))
    report = IngestReport()
    if not todo:
        return report
    workers = workers or settings.ingest_workers
    with ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
        futures = {
            pool.submit(_process_one, source, str(settings.data_dir), digest, settings.max_media_bytes): (clip_id, name)
            for clip_id, name, source, digest in todo
        }
        for future in as_completed(futures):
            clip_id, name = futures[future]
            error: str | None = None
            try:
                result = future.result()
            except MediaError as failure:
                error = str(failure)
            except Exception as failure:  # noqa: BLE001 — one bad file never stops the batch
                error = f"unexpected error: {type(failure).__name__}: {failure}"
            with Session(engine) as session:
                clip = clip_queries.get_clip(session, clip_id=clip_id)
                if clip is None:
                    continue
                if error is None:
                    clip_queries.mark_ingested(session, clip=clip, media=result)
                    report.ready += 1
                else:
                    clip_queries.mark_failed(session, clip=clip, reason=error)
                    report.failed += 1
                    report.errors[name] = error
                session.commit()
            if on_progress:
                on_progress(name, error)
            if should_stop and should_stop():
                for other in futures:
                    other.cancel()
                break
    return report

"""Ingest as a background job: progress and per-clip errors go on the Job row."""

from __future__ import annotations

from annotation.ingest.pipeline import ingest_clips
from core.jobs import JobCancelled, JobContext, job


@job("ingest")
def ingest_job(ctx: JobContext, *, dataset_id: int | None = None, clip_ids: list[int] | None = None) -> dict:
    cancelled = False

    def progress(name: str, error: str | None) -> None:
        nonlocal cancelled
        try:
            if error:
                ctx.fail_item(name, error)
            else:
                ctx.advance(message=f"processed {name}")
        except JobCancelled:
            cancelled = True

    report = ingest_clips(dataset_id=dataset_id, clip_ids=clip_ids, on_total=ctx.set_total,
                          on_progress=progress, should_stop=lambda: cancelled)
    if cancelled:
        raise JobCancelled("cancelled by request")
    ctx.log(f"ingest finished: {report.ready} ready, {report.failed} failed")
    return {"ready": report.ready, "failed": report.failed}

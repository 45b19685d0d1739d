"""Ingest as a background job: progress and per-clip errors go on the Job row."""

from __future__ import annotations

from annotation.ingest.pipeline import ingest_clips
from core.jobs import JobCancelled, JobContext, job
from core.vocabulary import Role


@job("ingest", roles=(Role.lead,))
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

    def skipped(name: str) -> None:
        progress_message = f"{name}: processed by another ingest run"
        try:
            ctx.advance(message=progress_message)
        except JobCancelled:
            nonlocal cancelled
            cancelled = True

    # The job's id names its claims: a retried or recovered run takes its own unfinished clips back at once.
    report = ingest_clips(actor=ctx.acting_user(), dataset_id=dataset_id, clip_ids=clip_ids, on_total=ctx.set_total,
                          on_progress=progress, on_skip=skipped, should_stop=lambda: cancelled,
                          claim_owner=f"job-{ctx.job_id}")
    if cancelled:
        raise JobCancelled("cancelled by request")
    ctx.log(f"ingest finished: {report.ready} ready, {report.failed} failed")
    return {"ready": report.ready, "failed": report.failed, "skipped": report.skipped}

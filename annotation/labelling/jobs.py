"""Auto-acceptance as a background job: proposing consensus embeds every clue, too slow for a page."""

from __future__ import annotations

from sqlmodel import Session

from annotation.labelling.adjudication import auto_accept
from core.jobs import JobContext, job
from core.vocabulary import Role
from db.engine import get_engine


@job("auto-accept", roles=(Role.lead,))
def auto_accept_job(ctx: JobContext, *, dataset_id: int) -> dict:
    with Session(get_engine(), expire_on_commit=False) as session:

        def clip_done() -> None:
            # Commit each decision before reporting progress: SQLite allows one writer at a time,
            # and a retried job then only revisits the clips still waiting.
            session.commit()
            ctx.advance()

        report = auto_accept(session, user=ctx.acting_user(), dataset_id=dataset_id, on_total=ctx.set_total,
                             on_clip=clip_done)
        session.commit()
    ctx.log(f"accepted {len(report.accepted)} clip(s); {report.left_for_review} left for review")
    return {"accepted": report.accepted, "left_for_review": report.left_for_review}

"""Creating a study as a background job: it reads every system's output over the whole dataset."""

from __future__ import annotations

from annotation.studies import DEFAULT_REPEAT_SHARE, StudyError, create_study, system_outputs
from core.jobs import JobContext, JobError, job
from core.vocabulary import Role, StudyKind

CREATE_STUDY_KIND = "create-study"


@job(CREATE_STUDY_KIND, roles=(Role.researcher, Role.lead))
def create_study_job(ctx: JobContext, *, dataset_id: int, name: str, systems: list[str], clip_count: int, seed: int,
                     description: str = "", raters: list[int] | None = None, kind: str = StudyKind.rating.value,
                     repeat_share: float = DEFAULT_REPEAT_SHARE) -> dict:
    """Progress is one step per system read; a refusal (too few covered clips, a bad name) is the job's error."""
    ctx.set_total(len(systems))
    try:
        # Read first (with progress, no write transaction held), then write the study in one unit of work.
        outputs = system_outputs(dataset_id=dataset_id, systems=systems,
                                 on_system=lambda system: ctx.advance(message=f"read {system}"))
        study = create_study(user=ctx.acting_user(), dataset_id=dataset_id, name=name, systems=systems,
                             clip_count=clip_count, seed=seed, description=description, raters=raters, kind=kind,
                             repeat_share=repeat_share, outputs=outputs)
    except StudyError as error:
        raise JobError(str(error)) from error
    ctx.log(f"created study #{study.id} {study.name!r} (draft)")
    return {"study_id": study.id, "name": study.name}

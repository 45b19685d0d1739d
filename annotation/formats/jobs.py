"""Scoring systems as a background job: embeddings and an LLM judge take too long for a page."""

from __future__ import annotations

import math

from sqlmodel import Session

from annotation.formats.evaluate import evaluate_sources
from annotation.formats.export_service import gather_rows
from core.jobs import JobContext, job
from core.vocabulary import Role
from db.engine import get_engine
from db.queries import references as reference_queries

EVALUATE_KIND = "evaluate-sources"


def _plain(value: object) -> object:
    """JSON-safe cell: NaN (a metric a system has no data for) becomes None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


@job(EVALUATE_KIND, roles=(Role.lead, Role.researcher))
def evaluate_job(ctx: JobContext, *, dataset_id: int, reference: str, systems: list[str], split: str | None = None,
                 use_judge: bool = False) -> dict:
    """One table row per system; the result holds the table as records."""
    return score_systems(ctx, dataset_id=dataset_id, reference=reference, systems=systems, split=split,
                         use_judge=use_judge)


def reference_clip_ids(*, dataset_id: int, reference: str, split: str | None) -> list[int]:
    """The ids of the clips `reference` has rows for in `split`: the clips a scoring run compares on."""
    with Session(get_engine(), expire_on_commit=False) as session:
        names = {row.name for row in gather_rows(session, dataset_id=dataset_id, source=reference, split=split)}
        return sorted(reference_queries.clip_ids_by_name(session, dataset_id=dataset_id, names=names).values())


def score_systems(ctx: JobContext, *, dataset_id: int, reference: str, systems: list[str], split: str | None = None,
                  use_judge: bool = False) -> dict:
    """The scoring itself (the evaluate-sources job, and model.jobs' evaluate-models after its predictions)."""
    judge = None
    if use_judge:
        from annotation.evaluation.judge import EmerJudge

        judge = EmerJudge.from_settings()
        if judge is None:
            raise ValueError("no LLM judge is configured (OPENAI_BASE_URL)")
    ctx.set_total(len(systems))
    records: list[dict] = []
    for system in systems:
        ctx.check_cancelled()
        with Session(get_engine(), expire_on_commit=False) as session:
            table = evaluate_sources(session, dataset_id=dataset_id, reference=reference, systems=[system],
                                     split=split, judge=judge)
        records += [{k: _plain(v) for k, v in row.items()} for row in table.to_dict(orient="records")]
        ctx.advance(message=f"scored {system}")
    ctx.log(f"scored {len(systems)} system(s) on {reference}")
    return {"reference": reference, "split": split, "table": records}

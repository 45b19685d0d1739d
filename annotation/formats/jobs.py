"""Background jobs of the formats wing: scoring systems (embeddings and an LLM judge take too long for a page)
and exports (written to a zip on disk with progress, for datasets too large to zip in a page's memory)."""

from __future__ import annotations

import math
from pathlib import Path

from sqlmodel import Session

from annotation.formats.evaluate import evaluate_sources
from annotation.formats.export_service import gather_rows
from annotation.formats.service import import_files
from annotation.ingest.records import ImportReport
from core.jobs import JobContext, job
from core.vocabulary import Role
from db.engine import get_engine
from db.queries import references as reference_queries
from db.queries.clips import get_dataset

EVALUATE_KIND = "evaluate-sources"
IMPORT_KIND = "import-research"
MAX_REPORTED_ERRORS = 1000
EXPORT_KIND = "export-dataset"


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


@job(IMPORT_KIND, roles=(Role.lead,))
def import_job(ctx: JobContext, *, dataset_id: int, paths: list[str], media_dir: str | None = None,
               format: str | None = None, source: str | None = None) -> dict:
    """Research files imported one by one, each in its own transaction: a cancelled or killed job keeps the
    files it finished, and running it again changes nothing for them (imports are idempotent)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise ValueError(f"no dataset {dataset_id}")
    ctx.set_total(len(paths))
    total = ImportReport()
    for path in paths:
        ctx.check_cancelled()
        report = import_files(dataset=dataset, paths=[Path(path)], media_dir=media_dir, user=ctx.acting_user(),
                              format=format, source=source)
        total.absorb(report)
        ctx.advance(message=f"{Path(path).name}: {report.summary()}")
    ctx.log(total.summary())
    return {"summary": total.summary(), "created": total.created, "duplicates": total.duplicates,
            "references_created": total.references_created, "references_unchanged": total.references_unchanged,
            "error_count": len(total.errors),
            "errors": [e.model_dump() for e in total.errors[:MAX_REPORTED_ERRORS]]}


@job(EXPORT_KIND, roles=(Role.lead, Role.researcher))
def export_job(ctx: JobContext, *, dataset_id: int, source: str, format: str, split: str | None = None) -> dict:
    """Write one source of a dataset in a format as a zip under the data directory's `exports/`.

    The result names the zip relative to the data directory (`file`), the name to offer it under, its size
    and row count.
    """
    from annotation.formats.export_service import write_export_zip
    from core.settings import get_settings
    from db.queries import clips as clip_queries

    data_dir = get_settings().data_dir
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
        if dataset is None:
            raise ValueError(f"no dataset {dataset_id}")
        export = write_export_zip(session, dataset=dataset, source=source, format=format, user=ctx.acting_user(),
                                  exports_dir=data_dir / "exports", split=split, progress=ctx)
    ctx.log(f"exported {export.rows} row(s) to {export.name}")
    return {"file": str(export.path.relative_to(data_dir)), "name": export.name, "rows": export.rows,
            "bytes": export.path.stat().st_size}

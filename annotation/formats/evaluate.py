"""Score systems (model versions, imported systems, consensus) against a chosen reference source."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlmodel import Session

from annotation.evaluation.metrics import evaluate_rows
from annotation.formats.export_service import gather_rows
from db.engine import with_session
from db.queries import model_versions
from db.queries.references import list_sources


@with_session
def available_sources(session: Session, *, dataset_id: int) -> list[str]:
    """Every source a dataset can be scored on or exported from, as source names."""
    versions = [v.id for v in model_versions.list_versions(session, dataset_id=dataset_id)]
    names = ["consensus", "annotations"]
    names += [f"model:{v}" for v in versions]
    sources = [source for source, _ in list_sources(session, dataset_id=dataset_id)]
    names += [f"reference:{source}" for source in sources]
    # Per-annotator sources (raw-labels:alice, raw-labels:bob) also come as one group.
    names += sorted({f"reference:{s.rsplit(':', 1)[0]}:*" for s in sources if ":" in s})
    return names


def evaluate_sources(session: Session, *, dataset_id: int, reference: str, systems: Sequence[str],
                     split: str | None = None, judge=None) -> pd.DataFrame:  # noqa: ANN001
    """The metrics table: one row per system scored on `reference` (a source name)."""
    truth = gather_rows(session, dataset_id=dataset_id, source=reference, split=split)
    if not truth:
        raise ValueError(f"the reference {reference!r} has no rows in this dataset")
    rows = {system: gather_rows(session, dataset_id=dataset_id, source=system, split=split) for system in systems}
    return evaluate_rows(truth, rows, judge=judge)


@with_session
def source_labels(session: Session, *, dataset_id: int) -> dict[str, str]:
    """Readable names for `available_sources`, e.g. 'model:3' -> 'Model baseline-v2 (#3)'."""
    labels = {"consensus": "Consensus (current)", "annotations": "Annotators' submitted work"}
    for source in available_sources(session, dataset_id=dataset_id):
        if source.startswith("model:"):
            version = model_versions.get_version(session, version_id=int(source.split(":")[1]))
            labels[source] = f"Model {version.name} (#{version.id})" if version else source
        elif source.startswith("reference:"):
            name = source.split(":", 1)[1]
            labels[source] = f"Imported: {name[:-2]} (every annotator)" if name.endswith(":*") else f"Imported: {name}"
    return labels

"""Score systems (model versions, imported systems, consensus) against a chosen reference source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
from sqlmodel import Session

from annotation.evaluation.metrics import evaluate_rows
from annotation.evaluation.wheel import score_openset, unmapped_words
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


OPENSET_COLUMNS = ["system", "clips", "missing", "level1_f", "level1_precision", "level1_recall", "level2_f",
                   "level2_precision", "level2_recall", "mean_f", "hit_rate", "unmapped"]


@dataclass
class OpensetTable:
    """EW scores of several systems against one reference's word sets."""

    reference: str
    table: pd.DataFrame  # OPENSET_COLUMNS; `unmapped` lists the system's words the wheel does not know
    gold_clips: int
    gold_unmapped: list[str] = field(default_factory=list)


def _word_sets(rows: Sequence) -> dict[str, list[str]]:
    return {row.name: list(row.emotion_words) for row in rows if row.emotion_words}


@with_session
def openset_scores(session: Session, *, dataset_id: int, reference: str = "consensus", systems: Sequence[str],
                   split: str | None = None) -> OpensetTable:
    """The MER2025/2026 emotion-wheel scores of each system's word sets against the reference's.

    `annotations` expands to one row per annotator (`annotator:<name>`). A reference clip a system has
    no words for counts as an empty prediction (a miss), as `score_openset` documents.
    """
    gold = _word_sets(gather_rows(session, dataset_id=dataset_id, source=reference, split=split))
    if not gold:
        raise ValueError(f"{reference!r} has no open-vocabulary word sets in this dataset")
    candidates: dict[str, dict[str, list[str]]] = {}
    for system in systems:
        rows = gather_rows(session, dataset_id=dataset_id, source=system, split=split)
        if system == "annotations":
            for row in rows:
                if row.emotion_words:
                    candidates.setdefault(f"annotator:{row.annotator}", {})[row.name] = list(row.emotion_words)
        else:
            candidates[system] = _word_sets(rows)
    records = []
    for system, predicted in candidates.items():
        if system.startswith("annotator:"):
            # An annotator is scored on the clips they labelled, not on everyone's.
            scored_gold = {name: words for name, words in gold.items() if name in predicted}
        else:
            scored_gold = gold
        if not scored_gold:
            continue
        score = score_openset(scored_gold, predicted)
        records.append({
            "system": system, "clips": score.n_samples - score.n_skipped, "missing": score.n_missing,
            "level1_f": score.level1.f, "level1_precision": score.level1.precision,
            "level1_recall": score.level1.recall, "level2_f": score.level2.f,
            "level2_precision": score.level2.precision, "level2_recall": score.level2.recall,
            "mean_f": score.mean_f, "hit_rate": score.hit_rate,
            "unmapped": ", ".join(unmapped_words(w for name in scored_gold for w in predicted.get(name, []))),
        })
    return OpensetTable(reference=reference, table=pd.DataFrame(records, columns=OPENSET_COLUMNS),
                        gold_clips=len(gold), gold_unmapped=unmapped_words(w for ws in gold.values() for w in ws))

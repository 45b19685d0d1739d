"""`cluelab evaluate-openset GT PRED [--json]`: the emotion-wheel scores of a prediction file.

Kept apart from the main CLI module so it needs no database and the lead can register it with one line,
e.g. `app.command("evaluate-openset")(openset_cli.evaluate_openset)`. Files with bad rows are refused
(every bad row is listed): a leaderboard-style number computed on a silently shrunken file would mislead.
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from rich.table import Table

from annotation.evaluation.openset_csv import read_openset_file
from annotation.evaluation.wheel import OpenSetScore, score_openset

MAX_LISTED_ERRORS = 20


class OpensetFileError(ValueError):
    """A gold or prediction file with unusable rows; `errors` lists them as 'file: line N: why'."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        shown = errors[:MAX_LISTED_ERRORS]
        more = f"\n... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        super().__init__(f"{len(errors)} bad row(s):\n" + "\n".join(shown) + more)


def _rows(path: Path) -> dict[str, list[str]]:
    table = read_openset_file(path)
    if table.errors:
        raise OpensetFileError([f"{path.name}: {error}" for error in table.errors])
    return table.rows


def evaluate_openset_files(gt_path: Path | str, pred_path: Path | str) -> OpenSetScore:
    """Score a prediction file (CSV or npz) against a gold `name,openset` CSV (or npz).

    Raises OpensetFileError when either file has bad rows (both files are read first, so all are listed).
    """
    errors: list[str] = []
    tables: list[dict[str, list[str]]] = []
    for path in (Path(gt_path), Path(pred_path)):
        try:
            tables.append(_rows(path))
        except OpensetFileError as exc:
            errors.extend(exc.errors)
            tables.append({})
    if errors:
        raise OpensetFileError(errors)
    return score_openset(tables[0], tables[1])


def format_table(score: OpenSetScore) -> str:
    """A plain-text table of the headline scores (what the CLI prints without --json)."""
    table = Table(title="Emotion-wheel (EW) scores, MER2025/2026 open vocabulary")
    for column in ("metric", "F", "precision", "recall"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    wheels = sum(1 for metric in score.per_metric if metric.endswith("/level1"))
    rows = [(f"EW level 1 (mean of {wheels} wheels)", score.level1),
            (f"EW level 2 (mean of {wheels} wheels)", score.level2),
            ("case1: word forms", score.case1), ("case2: forms + synonyms", score.case2)]
    for label, prf in rows:
        table.add_row(label, f"{prf.f:.4f}", f"{prf.precision:.4f}", f"{prf.recall:.4f}")
    table.add_row("mean F (level 1, level 2)", f"{score.mean_f:.4f}", "", "")
    table.add_row("hit rate (level 1)", f"{score.hit_rate:.4f}", "", "")
    buffer = io.StringIO()
    Console(file=buffer, width=100, color_system=None).print(table)
    notes = [f"{score.n_samples} gold sample(s), {score.n_skipped} skipped (no known word), "
             f"{score.n_missing} without a prediction (scored as empty)"]
    if score.unmapped:
        shown = ", ".join(score.unmapped[:10]) + (", ..." if len(score.unmapped) > 10 else "")
        notes.append(f"{len(score.unmapped)} unmapped word(s) dropped: {shown}")
    return buffer.getvalue() + "\n".join(notes)

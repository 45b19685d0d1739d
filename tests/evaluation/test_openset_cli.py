"""`evaluate-openset GT PRED [--json]` through typer's CliRunner, and the functions behind it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from annotation.evaluation.openset_csv import write_openset_csv, write_openset_npz
from annotation.evaluation.openset_report import OpensetFileError, evaluate_openset_files, format_table
from cluelab.cli import app as openset_app

runner = CliRunner()
# With the shipped tables: "worried" and "nervous" both reach "anxious" first (their sorted wheel words begin
# anxious, ...), which every wheel knows, so they agree in every wheel and at both levels; "zzz" maps nowhere.
GOLD = {"a": ["worried"], "b": ["zzz"]}
PRED = {"a": ["Nervous"], "b": ["worried"]}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    gt, pred = tmp_path / "gt.csv", tmp_path / "pred.npz"
    write_openset_csv(gt, GOLD)
    write_openset_npz(pred, PRED)
    return gt, pred


def test_json_output_has_exactly_the_documented_keys(files: tuple[Path, Path]):
    gt, pred = files
    result = runner.invoke(openset_app, ["evaluate-openset", str(gt), str(pred), "--json"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert list(payload) == ["level1", "level2", "mean_f", "hit_rate", "case1", "case2"]
    for key in ("level1", "level2", "case1", "case2"):
        assert list(payload[key]) == ["f", "precision", "recall"]
    # Only sample a is scored (b's gold is unknown) and it matches everywhere.
    assert payload["level1"]["f"] == payload["level2"]["f"] == payload["mean_f"] == payload["hit_rate"] == 1.0


def test_table_output(files: tuple[Path, Path]):
    gt, pred = files
    result = runner.invoke(openset_app, ["evaluate-openset", str(gt), str(pred)])
    assert result.exit_code == 0, result.output
    assert "EW level 1 (mean of 5 wheels)" in result.output
    assert "2 gold sample(s), 1 skipped" in result.output and "zzz" in result.output


def test_bad_rows_fail_and_are_all_listed(tmp_path: Path, files: tuple[Path, Path]):
    gt, _ = files
    pred = tmp_path / "bad.csv"
    pred.write_text("name,openset\na,\"['happy'\"\nb,\"[1, 'x']\"\n", encoding="utf-8")
    with pytest.raises(OpensetFileError) as caught:
        evaluate_openset_files(gt, pred)
    assert caught.value.errors[0].startswith("bad.csv: line 2: a: ")
    assert caught.value.errors[1].startswith("bad.csv: line 3: b: ")
    result = runner.invoke(openset_app, ["evaluate-openset", str(gt), str(pred), "--json"])
    assert result.exit_code == 1
    assert "2 bad row(s)" in result.output


def test_functions_behind_the_command(files: tuple[Path, Path]):
    gt, pred = files
    score = evaluate_openset_files(gt, pred)
    assert (score.n_samples, score.n_skipped, score.n_missing) == (2, 1, 0)
    assert "hit rate (level 1)" in format_table(score)

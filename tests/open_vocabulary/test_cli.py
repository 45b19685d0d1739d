"""`cluelab import` / `export` with the MER2025/2026 `name,openset` CSV and npz."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session
from typer.testing import CliRunner

from annotation.evaluation.openset_csv import read_openset_npz
from cluelab.cli import app
from db.engine import get_engine
from db.queries.clips import get_dataset_by_name

runner = CliRunner()


def test_openset_csv_imports_as_an_open_vocabulary_dataset_and_exports_as_npz(tmp_path: Path):
    gold = tmp_path / "gt.csv"
    gold.write_text("name,openset\nsample_1,\"['happy', 'relieved']\"\nsample_2,\"sad, lonely\"\n"
                    "sample_3,\"['broken\"\n", encoding="utf-8")
    imported = runner.invoke(app, ["import", str(gold), "--dataset", "OV", "--no-ingest", "--source", "ov-gt"])
    assert imported.exit_code == 0, imported.output
    assert "2 new clip(s)" in imported.output and "2 reference(s) stored" in imported.output
    assert "line 4" in imported.output  # the broken row is named, the good ones kept
    with Session(get_engine()) as session:
        assert get_dataset_by_name(session, name="OV").open_vocabulary

    out = tmp_path / "pred.npz"
    exported = runner.invoke(app, ["export", "-d", "OV", "--source", "reference:ov-gt", "-f", "openset-npz",
                                   "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    assert read_openset_npz(out).rows == {"sample_1": ["happy", "relieved"], "sample_2": ["sad", "lonely"]}
    clean = tmp_path / "clean.csv"
    clean.write_text("name,openset\nsample_1,\"['happy', 'relieved']\"\nsample_2,\"['sad', 'lonely']\"\n",
                     encoding="utf-8")
    scored = runner.invoke(app, ["evaluate-openset", str(clean), str(out), "--json"])
    assert scored.exit_code == 0, scored.output
    assert '"mean_f": 1.0' in scored.output

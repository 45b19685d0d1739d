"""The model commands drive the same domain code."""

from __future__ import annotations

from typer.testing import CliRunner

from cluelab.model_cli import console, model_app
from tests.model.conftest import add_labelled_clips


def test_train_models_and_promote_from_the_command_line(app_db, dataset, monkeypatch):
    monkeypatch.setattr(console, "width", 200)  # a wide table, not wrapped cells
    add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=24)
    runner = CliRunner()
    trained = runner.invoke(model_app, ["train", "synthetic"])
    assert trained.exit_code == 0, trained.output
    assert "baseline-v2" in trained.output and "weighted F1" in trained.output
    listed = runner.invoke(model_app, ["models", "--dataset", "synthetic"])
    assert listed.exit_code == 0 and "baseline-untrained" in listed.output and "baseline-v2" in listed.output
    promoted = runner.invoke(model_app, ["promote", "2"])
    assert promoted.exit_code == 0, promoted.output
    assert "0 re-predicted" in promoted.output  # every clip has consensus
    missing = runner.invoke(model_app, ["predict", "nonesuch"])
    assert missing.exit_code == 1 and "no dataset named" in missing.output

"""`cluelab predict | train | evaluate | models | promote`: the model commands, run in this process.

Register on the main app with one line each, e.g. `app.command("predict")(cluelab.model_cli.predict)`, or all at
once with `app.add_typer(cluelab.model_cli.model_app, name="model")` for `cluelab model predict ...`.
"""

from __future__ import annotations

import json
from datetime import UTC

import typer
from rich.table import Table
from sqlmodel import Session

from cluelab.console import BarProgress, cli_actor, console, dataset_or_fail, fail
from db.engine import get_engine

model_app = typer.Typer(help="Pre-annotation models: predict, train, evaluate, promote.", no_args_is_help=True)


def _dataset_id(name: str) -> int:
    with Session(get_engine()) as session:
        return int(dataset_or_fail(session, name).id)


@model_app.command("predict")
def predict(dataset: str = typer.Argument(..., help="Dataset name."),
            version: int | None = typer.Option(None, help="Model version id (default: the active one)."),
            unlabelled_only: bool = typer.Option(False, help="Skip clips that have consensus."),
            resume: bool = typer.Option(False, help="Skip clips this version has predicted already "
                                                    "(continue a run that was stopped)."),
            shards: int = typer.Option(1, min=1, help="Split into this many shards for several workers (GPUs).")
            ) -> None:
    """Pre-annotate a dataset's clips and store the predictions."""
    from datetime import datetime

    from model.inference import predict_dataset

    if shards > 1:
        _predict_sharded(dataset, version=version, unlabelled_only=unlabelled_only, shards=shards)
        return

    with BarProgress("Predicting") as bar:
        result = predict_dataset(dataset_id=_dataset_id(dataset), version_id=version,
                                 unlabelled_only=unlabelled_only, progress=bar,
                                 resume_since=datetime(1970, 1, 1, tzinfo=UTC) if resume else None)
    console.print(f"{result['model_version']}: {result['predicted']} predicted, {result['failed']} failed")


def _predict_sharded(dataset: str, *, version: int | None, unlabelled_only: bool, shards: int) -> None:
    """Queue a sharded predict job; workers (one per GPU) take the shards."""
    from annotation.jobs import enqueue

    job_id = enqueue("predict-sharded", params={"dataset_id": _dataset_id(dataset), "model_version_id": version,
                                                "unlabelled_only": unlabelled_only, "shards": shards},
                     user=cli_actor())
    console.print(f"queued job {job_id}: {shards} shards. Run one worker per GPU (with REDIS_URL set, on any "
                  "machine sharing the database and data directory):")
    for gpu in range(shards):
        console.print(f"  CUDA_VISIBLE_DEVICES={gpu} cluelab worker --workers 1 &", markup=False)


@model_app.command("train")
def train(dataset: str = typer.Argument(..., help="Dataset name."),
          backend: str | None = typer.Option(None, help="Backend name (default: settings)."),
          promote_after: bool = typer.Option(False, "--promote", help="Promote the new version and re-predict."),
          force: bool = typer.Option(False, help="With --promote: promote even when not better than the active one."),
          launcher: str | None = typer.Option(None, help="emotion_llm: inline, accelerate or torchrun."),
          processes: int | None = typer.Option(None, min=1, help="emotion_llm: processes (GPUs) to train on."),
          print_command: bool = typer.Option(False, help="Print the launcher command instead of running it.")
          ) -> None:
    """Train a new version on the dataset's current consensus and report held-out metrics."""
    from model.training import NotEnoughLabels, PromotionNotBetter, promote, train_version

    if launcher not in (None, "inline"):
        _train_launched(dataset, launcher=launcher, processes=processes, print_command=print_command,
                        promote_after=promote_after, force=force)
        return

    try:
        with BarProgress("Training") as bar:
            version = train_version(dataset_id=_dataset_id(dataset), user=cli_actor(), backend_name=backend,
                                    progress=bar)
    except NotEnoughLabels as error:
        fail(f"not trained: {error}")
    held, before = version.metrics.get("held_out", {}), version.metrics.get("parent_held_out", {})
    console.print(f"{version.name} (id {version.id}): weighted F1 {held.get('weighted_f1')} "
                  f"(parent {before.get('weighted_f1')}), UAR {held.get('uar')}, n={held.get('n')}")
    if promote_after:
        try:
            promote(version_id=version.id, user=cli_actor(), repredict=False, confirm=force)
        except PromotionNotBetter as error:
            fail(f"not promoted: {error} (add --force to promote anyway)")
        predict(dataset, version=version.id, unlabelled_only=True, resume=False, shards=1)


def _train_launched(dataset: str, *, launcher: str, processes: int | None, print_command: bool,
                    promote_after: bool, force: bool = False) -> None:
    """`accelerate launch` / `torchrun` of the emotion_llm training entry point, one process per GPU."""
    import subprocess

    from core.settings import get_settings
    from model.emotion_llm.training import ROOT, dataset_command, launch_env

    settings = get_settings()
    count = processes or settings.emotion_llm_processes
    shown = dataset_command(settings, dataset=dataset, launcher=launcher, processes=count, runnable=False)
    console.print(" ".join(shown), markup=False, soft_wrap=True)
    if print_command:
        return
    before = {v.id for v in _versions(dataset)}
    code = subprocess.run(dataset_command(settings, dataset=dataset, launcher=launcher, processes=count),
                          cwd=ROOT, env=launch_env(), check=False).returncode
    if code != 0:
        fail(f"the launched training exited with code {code}")
    new = [v for v in _versions(dataset) if v.id not in before]
    if promote_after and new:
        from model.training import PromotionNotBetter, promote

        try:
            promote(version_id=new[-1].id, user=cli_actor(), repredict=False, confirm=force)
        except PromotionNotBetter as error:
            fail(f"not promoted: {error} (add --force to promote anyway)")
        predict(dataset, version=new[-1].id, unlabelled_only=True, resume=False, shards=1)


def _versions(dataset: str) -> list:
    from db.queries.model_versions import list_versions

    with Session(get_engine()) as session:
        return list(list_versions(session, dataset_id=_dataset_id(dataset)))


@model_app.command("evaluate")
def evaluate(version: int = typer.Argument(..., help="Model version id."),
             dataset: str | None = typer.Option(None, help="Dataset name (default: the version's).")) -> None:
    """Measure a version on the current held-out consensus."""
    from model.training import evaluate_version

    metrics = evaluate_version(version_id=version, user=cli_actor(), dataset_id=_dataset_id(dataset) if dataset else None)
    console.print_json(json.dumps(metrics, ensure_ascii=False))


@model_app.command("models")
def models(dataset: str | None = typer.Option(None, help="Only this dataset's versions.")) -> None:
    """List model versions with their held-out metrics."""
    from db.queries.model_versions import list_versions

    with Session(get_engine()) as session:
        rows = list_versions(session, dataset_id=_dataset_id(dataset) if dataset else None)
    table = Table("id", "name", "backend", "parent", "active", "train", "held out", "weighted F1", "UAR", "created")
    for v in rows:
        held = v.metrics.get("held_out", {})
        table.add_row(str(v.id), v.name, v.backend, str(v.parent_id or ""), "yes" if v.is_active else "",
                      str(v.metrics.get("train_size", "")), str(v.metrics.get("held_out_size", "")),
                      str(held.get("weighted_f1", "")), str(held.get("uar", "")), v.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@model_app.command("promote")
def promote_command(version: int = typer.Argument(..., help="Model version id."),
                    repredict: bool = typer.Option(True, help="Re-predict unlabelled clips now."),
                    force: bool = typer.Option(False, help="Promote even when not better than the active version.")
                    ) -> None:
    """Make a version active; re-predict the unlabelled clips with it."""
    from model.training import PromotionNotBetter, promote

    try:
        promote(version_id=version, user=cli_actor(), repredict=False, confirm=force)
    except PromotionNotBetter as error:
        fail(f"not promoted: {error} (add --force to promote anyway)")
    console.print(f"version {version} is active")
    if repredict:
        from db.queries.model_versions import get_version

        with Session(get_engine()) as session:
            row = get_version(session, version_id=version)
        if row is not None and row.dataset_id is not None:
            from model.inference import predict_dataset

            with BarProgress("Re-predicting") as bar:
                result = predict_dataset(dataset_id=row.dataset_id, version_id=version, unlabelled_only=True,
                                         progress=bar)
            console.print(f"{result['predicted']} re-predicted, {result['failed']} failed")

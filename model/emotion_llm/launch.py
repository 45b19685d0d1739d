"""`python -m model.emotion_llm.launch`: the training entry point every process runs under
`accelerate launch` or `torchrun` (one process per GPU).

    accelerate launch --multi_gpu --num_processes 8 -m model.emotion_llm.launch --dataset MER
    torchrun --standalone --nproc_per_node=8 -m model.emotion_llm.launch --dataset MER

With `--dataset`, rank 0 does what `cluelab train` does (features, consensus snapshot, a new
version with held-out metrics) and the other ranks train alongside it on the snapshot it hands
them. With `--snapshot`/`--output` (what the train job launches), every rank reads the snapshot
file and rank 0 writes the adapter and reports progress as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from core.settings import get_settings
from model.base import ClipInput, TrainingSnapshot
from model.emotion_llm import training


class PrintProgress:
    """Rank 0's progress on its console."""

    def set_total(self, total: int) -> None:
        pass

    def advance(self, n: int = 1, message: str | None = None) -> None:
        if message:
            print(message, flush=True)  # noqa: T201

    def fail_item(self, name: str, reason: str) -> None:
        print(f"[error] {name}: {reason}", flush=True)  # noqa: T201

    def log(self, line: str) -> None:
        print(line, flush=True)  # noqa: T201

    def message(self, text: str) -> None:
        pass  # each step's line; `log` prints every tenth


def run_dataset(dataset: str) -> int:
    """Rank 0 trains and registers a version of `dataset` (name or id); the other ranks follow it."""
    from datetime import timedelta

    from accelerate import PartialState

    os.environ["CLUELAB_EMOTION_LLM_LAUNCHER"] = "inline"  # these processes are the launched ones
    get_settings.cache_clear()
    settings = get_settings()
    from model.emotion_llm.loading import device_of

    # CPU ranks talk over gloo; rank 0 may extract features for a long while before training starts.
    state = PartialState(cpu=device_of(settings).type == "cpu", timeout=timedelta(hours=6))
    if not state.is_main_process:
        return 0 if training.follow(settings) is not None else 1
    training.LEADER["share"] = state.num_processes > 1
    try:
        from core.vocabulary import Role
        from db.models import User
        from model.training import train_version

        dataset_id = _dataset_id(dataset)
        actor = User(username="launch", password_hash="!", roles=[Role.admin.value])
        version = train_version(dataset_id=dataset_id, user=actor, backend_name="emotion_llm",
                                progress=PrintProgress())
    finally:
        training.release_followers()
    held = version.metrics.get("held_out", {})
    print(f"{version.name} (id {version.id}): weighted F1 {held.get('weighted_f1')}, n={held.get('n')}",  # noqa: T201
          flush=True)
    return 0


def _dataset_id(dataset: str) -> int:
    from sqlmodel import Session

    from db.engine import get_engine
    from db.queries import clips as clip_queries

    with Session(get_engine()) as session:
        row = clip_queries.get_dataset_by_name(session, name=dataset)
        if row is None and dataset.isdigit():
            row = clip_queries.get_dataset(session, dataset_id=int(dataset))
        if row is None:
            raise SystemExit(f"no dataset named {dataset!r}")
        return int(row.id)


def run_snapshot(snapshot_file: Path, inputs_file: Path | None, output: Path) -> int:
    snapshot = TrainingSnapshot.model_validate_json(snapshot_file.read_text(encoding="utf-8"))
    inputs = None
    if inputs_file and inputs_file.is_file():
        raw = json.loads(inputs_file.read_text(encoding="utf-8"))
        inputs = {int(k): ClipInput.model_validate(v) for k, v in raw.items()}
    metrics = training.fit(get_settings(), snapshot, output=output, inputs=inputs, lines=True)
    if int(os.environ.get("RANK", "0")) == 0:
        print(training.PROGRESS_PREFIX + json.dumps({"metrics": metrics}), flush=True)  # noqa: T201
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", help="train and register a version of this dataset (name or id)")
    parser.add_argument("--snapshot", type=Path, help="a TrainingSnapshot JSON file")
    parser.add_argument("--inputs", type=Path, help="the snapshot's clip inputs (media paths) by clip id, JSON")
    parser.add_argument("--output", type=Path, help="folder for the adapter (+ projectors)")
    args = parser.parse_args(argv)
    if args.dataset:
        return run_dataset(args.dataset)
    if not (args.snapshot and args.output):
        parser.error("give --dataset, or --snapshot and --output")
    return run_snapshot(args.snapshot, args.inputs, args.output)


if __name__ == "__main__":
    sys.exit(main())

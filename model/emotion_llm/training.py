"""Retraining on consensus: supervised fine-tuning of LoRA adapters (and, composed, the projectors).

The target of a clip is its consensus as the JSON answer (the emotion, then the four clues in
the team's words; an aspect the consensus left empty takes the measured evidence). Held-out
clips are never trained on. Mixed precision (bf16, else fp16) where the device has it,
gradient checkpointing, gradient accumulation, a resumable checkpoint of the trainable weights
and optimizer every few steps, progress and loss to the job, cancel between steps. The same
`fit` runs inline or in every process under `accelerate launch` / `torchrun` (`launch.py`);
a version stores only the adapter and projectors.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from core.settings import Settings
from core.vocabulary import ASPECTS
from model.base import ClipInput, TrainingItem, TrainingSnapshot
from model.emotion_llm import prompting
from model.emotion_llm.common import AdapterHost, Prepared
from model.emotion_llm.loading import checkpoint_problems, dtype_of, go_offline, mixed_precision_of

ROOT = Path(__file__).resolve().parents[2]
PROGRESS_PREFIX = "CLUELAB_PROGRESS "
LOSS_POINTS = 50
# Under `launch --dataset`, rank 0 builds the snapshot (database work) and hands it to the other
# ranks when its `fit` starts; they wait in `follow()`.
LEADER = {"share": False, "shared": False}


def _share_with_followers(snapshot: TrainingSnapshot, inputs: dict[int, ClipInput] | None, output: Path) -> None:
    import torch.distributed as dist

    payload = {"snapshot": snapshot.model_dump_json(), "output": str(output),
               "inputs": {str(k): v.model_dump(mode="json") for k, v in (inputs or {}).items()}}
    dist.broadcast_object_list([payload], src=0)
    LEADER["shared"] = True


def release_followers() -> None:
    """Rank 0 failed before training: tell the waiting ranks to stop."""
    import torch.distributed as dist

    if LEADER["share"] and not LEADER["shared"] and dist.is_initialized():
        dist.broadcast_object_list([None], src=0)
        LEADER["shared"] = True


def follow(settings: Settings) -> dict[str, Any] | None:
    """A rank other than 0: wait for rank 0's snapshot, then train alongside it (None when it gave up)."""
    import torch.distributed as dist

    box: list[Any] = [None]
    dist.broadcast_object_list(box, src=0)
    if box[0] is None:
        return None
    payload = box[0]
    inputs = {int(k): ClipInput.model_validate(v) for k, v in payload["inputs"].items()} or None
    return fit(settings, TrainingSnapshot.model_validate_json(payload["snapshot"]), output=Path(payload["output"]),
               inputs=inputs)


def write_config(folder: Path, config: dict[str, Any]) -> None:
    (folder / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


def run_dir(settings: Settings, snapshot: TrainingSnapshot) -> Path:
    """Where a run keeps its checkpoint: the same snapshot and settings resume the same run."""
    knobs = json.dumps([settings.emotion_llm_lora_r, settings.emotion_llm_lora_alpha, settings.emotion_llm_lora_targets,
                        settings.emotion_llm_learning_rate, settings.emotion_llm_epochs, settings.emotion_llm_max_steps,
                        settings.emotion_llm_train_batch_size, settings.emotion_llm_grad_accum, settings.emotion_llm_projector,
                        settings.emotion_llm_query_tokens, str(settings.emotion_llm_checkpoint), str(settings.emotion_llm_lm),
                        str(settings.emotion_llm_vision), str(settings.emotion_llm_audio), prompting.PROMPT_VERSION])
    tag = hashlib.sha256(knobs.encode()).hexdigest()[:8]
    return settings.data_dir / "models" / ".runs" / f"emotion_llm-{snapshot.content_hash[:10]}-{tag}"


# --- what is trained on ----------------------------------------------------------------------------------


def labels_of(snapshot: TrainingSnapshot) -> list[str]:
    extra = sorted({i.emotion for i in snapshot.train if i.emotion} - set(snapshot.label_set))
    return list(snapshot.label_set) + extra  # open-vocabulary labels the team used


def training_items(snapshot: TrainingSnapshot) -> list[TrainingItem]:
    """The snapshot's training clips with an emotion; a held-out clip is never among them."""
    held = {i.clip_id for i in snapshot.held_out}
    return [i for i in snapshot.train if i.emotion and i.clip_id not in held]


def clip_inputs(items: list[TrainingItem], given: dict[int, ClipInput] | None) -> dict[int, ClipInput]:
    """Each item's clip with its media paths: the given ones, else from the database, else text only."""
    out: dict[int, ClipInput] = {}
    for item in items:
        if given and item.clip_id in given:
            out[item.clip_id] = given[item.clip_id].model_copy(update={"features": item.features or
                                                                        given[item.clip_id].features})
    missing = [i for i in items if i.clip_id not in out]
    if missing:
        out.update(_from_database(missing))
    for item in items:
        out.setdefault(item.clip_id, ClipInput(name=item.clip_name, clip_id=item.clip_id, language=item.language,
                                               features=item.features, speaker_baseline=item.speaker_baseline))
    return out


def _from_database(items: list[TrainingItem]) -> dict[int, ClipInput]:
    try:
        from sqlmodel import Session

        from db.engine import get_engine
        from db.queries import clips as clip_queries
        from model.inference import clip_input

        settings_dir = None
        out = {}
        with Session(get_engine()) as session:
            for item in items:
                clip = clip_queries.get_clip(session, clip_id=item.clip_id)
                if clip is None or clip.name != item.clip_name:
                    continue
                dataset = clip_queries.get_dataset(session, dataset_id=clip.dataset_id)
                if settings_dir is None:
                    from core.settings import get_settings

                    settings_dir = get_settings().data_dir
                out[item.clip_id] = clip_input(clip, dataset=dataset, data_dir=settings_dir,
                                               features=item.features).model_copy(
                    update={"language": item.language, "speaker_baseline": item.speaker_baseline})
        return out
    except Exception:  # noqa: BLE001 — no database (a snapshot file on another machine): text only
        return {}


def target_clues(item: TrainingItem, clip: ClipInput) -> dict[str, str]:
    """The consensus clues; an aspect it left empty takes the measured evidence sentence."""
    from model.baseline.clues import measured_clues

    language = prompting.clip_language(clip)
    evidence = measured_clues({k: v for k, v in clip.features.items() if isinstance(v, dict)}, language)[0]
    return {a.value: (item.clues.get(a.value) or "").strip() or evidence[a] for a in ASPECTS}


# --- the loop ---------------------------------------------------------------------------------------------


class _Reporter:
    """Steps and loss to the caller's progress (inline) or as JSON lines to the launching process."""

    def __init__(self, progress: Any, *, main: bool, lines: bool) -> None:
        self.progress, self.main, self.lines = progress, main, lines

    def step(self, step: int, total: int, loss: float) -> None:
        if not self.main:
            return
        if self.lines:
            print(PROGRESS_PREFIX + json.dumps({"step": step, "total": total, "loss": loss}), flush=True)  # noqa: T201
            return
        text = f"training step {step}/{total}, loss {loss:.4f}"
        if self.progress is not None:
            (getattr(self.progress, "message", None) or (lambda _t: None))(text)
            if step == 1 or step == total or step % 10 == 0:
                self.progress.log(text)

    def log(self, line: str) -> None:
        if not self.main:
            return
        if self.lines:
            print(PROGRESS_PREFIX + json.dumps({"log": line}), flush=True)  # noqa: T201
        elif self.progress is not None:
            self.progress.log(line)

    def check_cancelled(self) -> None:
        check = getattr(self.progress, "check_cancelled", None)
        if check is not None:
            check()


def _trainable(host: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().cpu().clone() for name, p in host.named_parameters() if p.requires_grad}


def fit(settings: Settings, snapshot: TrainingSnapshot, *, output: Path, inputs: dict[int, ClipInput] | None = None,
        progress: Any = None, lines: bool = False) -> dict[str, Any]:
    """Train and write the adapter (+ projectors) to `output`; resumes from the run's checkpoint when present."""
    from accelerate import Accelerator, DataLoaderConfiguration, DistributedDataParallelKwargs
    from transformers import get_constant_schedule_with_warmup

    from model.emotion_llm.runtime import model_class

    problems = checkpoint_problems(settings)
    if problems:
        raise ValueError("; ".join(problems))
    go_offline()
    items = training_items(snapshot)
    if len(items) < 2:
        raise ValueError(f"training needs at least 2 labelled clips, the snapshot has {len(items)}")
    from model.emotion_llm.loading import device_of

    wanted = device_of(settings)
    accelerator = Accelerator(mixed_precision=mixed_precision_of(wanted),
                              gradient_accumulation_steps=settings.emotion_llm_grad_accum, cpu=wanted.type == "cpu",
                              dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
                              kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    report = _Reporter(progress, main=accelerator.is_main_process, lines=lines)
    if LEADER["share"] and accelerator.is_main_process and accelerator.num_processes > 1:
        _share_with_followers(snapshot, inputs, output)
    device = accelerator.device
    torch.manual_seed(0)
    host: AdapterHost = model_class(settings)(settings, device=device, dtype=dtype_of(settings, device))
    host.make_trainable(settings.emotion_llm_adapter)
    if settings.emotion_llm_gradient_checkpointing:
        base = host.lm.get_base_model() if hasattr(host.lm, "get_base_model") else host.lm
        # Non-reentrant: gradients reach the projectors and adapters though the embeddings are frozen.
        if hasattr(base, "activation_checkpointing_enable"):
            base.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    labels = labels_of(snapshot)
    answer = prompting.AnswerTokens.build(host.tokenizer, labels)
    budget = answer.field_budget(settings.emotion_llm_max_new_tokens)
    clips = clip_inputs(items, inputs)
    targets = [answer.target(host.tokenizer, item.emotion, target_clues(item, clips[item.clip_id]),
                             field_budget=budget) for item in items]

    per_process = math.ceil(len(items) / accelerator.num_processes)
    batches_per_epoch = math.ceil(per_process / settings.emotion_llm_train_batch_size)
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / settings.emotion_llm_grad_accum))
    total = settings.emotion_llm_max_steps or max(1, math.ceil(settings.emotion_llm_epochs * steps_per_epoch))
    trainable = [p for p in host.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.emotion_llm_learning_rate, weight_decay=0.0)
    scheduler = get_constant_schedule_with_warmup(optimizer, num_warmup_steps=min(10, total // 10))
    loader = torch.utils.data.DataLoader(list(range(len(items))), batch_size=settings.emotion_llm_train_batch_size,
                                         shuffle=True, collate_fn=list,
                                         generator=torch.Generator().manual_seed(0))
    model, optimizer, loader, scheduler = accelerator.prepare(host, optimizer, loader, scheduler)

    folder = run_dir(settings, snapshot)
    checkpoint = folder / "checkpoint.pt"
    step = epoch = skip = 0
    losses: list[float] = []
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        accelerator.unwrap_model(model).load_state_dict(state["trainable"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, epoch, skip, losses = state["step"], state["epoch"], state["batches"], state["losses"]
        random.setstate(state["python_rng"])
        report.log(f"resumed from step {step} of {total} ({checkpoint})")
    report.log(f"training on {len(items)} clips ({accelerator.num_processes} process(es), {device}, "
               f"mixed precision {accelerator.mixed_precision}): {total} steps")
    model.train()
    for frozen in (getattr(host, "vision", None), getattr(host, "audio", None)):
        if frozen is not None:
            frozen.eval()  # frozen encoders stay deterministic (no dropout) while adapters train
    window: list[float] = []
    while step < total:
        loader.set_epoch(epoch)  # the same order per epoch after a restart (seedable sampler)
        seen = skip
        for batch in accelerator.skip_first_batches(loader, skip) if skip else loader:
            seen += 1
            prepared: list[Prepared] = [host.prepare(clips[items[i].clip_id], labels, media=True) for i in batch]
            with accelerator.accumulate(model):
                loss = model(prepared, [targets[i] for i in batch])
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(trainable, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            window.append(float(loss.detach()))
            if not accelerator.sync_gradients:
                continue
            step += 1
            mean = float(accelerator.gather(torch.tensor([sum(window) / len(window)], device=device)).mean())
            window = []
            losses.append(round(mean, 5))
            report.step(step, total, mean)
            report.check_cancelled()
            if step % settings.emotion_llm_checkpoint_every == 0 and step < total:
                _save_checkpoint(accelerator, model, optimizer, scheduler, folder,
                                 {"step": step, "epoch": epoch, "batches": seen, "losses": losses})
            if step >= total:
                break
        epoch, skip = epoch + 1, 0
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_trainable(output)
        shutil.rmtree(folder, ignore_errors=True)
    accelerator.wait_for_everyone()
    curve = losses if len(losses) <= LOSS_POINTS else [losses[round(i * (len(losses) - 1) / (LOSS_POINTS - 1))]
                                                        for i in range(LOSS_POINTS)]
    return {"train_steps": step, "train_clips": len(items), "train_loss_first": losses[0] if losses else None,
            "train_loss_last": losses[-1] if losses else None, "train_loss_curve": curve,
            "processes": accelerator.num_processes, "mixed_precision": accelerator.mixed_precision}


def _save_checkpoint(accelerator, model, optimizer, scheduler, folder: Path, state: dict[str, Any]) -> None:  # noqa: ANN001
    """Trainable weights, optimizer and position: small, and written whole or not at all."""
    if accelerator.is_main_process:
        folder.mkdir(parents=True, exist_ok=True)
        data = {**state, "trainable": _trainable(accelerator.unwrap_model(model)),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "python_rng": random.getstate()}
        partial = folder / "checkpoint.pt.partial"
        torch.save(data, partial)
        os.replace(partial, folder / "checkpoint.pt")
    accelerator.wait_for_everyone()


def training_config(settings: Settings, snapshot: TrainingSnapshot) -> dict[str, Any]:
    from model.emotion_llm.loading import mode_of

    return {"mode": mode_of(settings), "label_set": labels_of(snapshot), "projector": settings.emotion_llm_projector,
            "query_tokens": settings.emotion_llm_query_tokens, "prompt_version": prompting.PROMPT_VERSION,
            "lora": {"r": settings.emotion_llm_lora_r, "alpha": settings.emotion_llm_lora_alpha,
                     "targets": settings.emotion_llm_lora_targets},
            "train_clips": len(training_items(snapshot))}


# --- inline or launched ---------------------------------------------------------------------------------


def train_version_folder(settings: Settings, snapshot: TrainingSnapshot, *, output: Path,
                         inputs: dict[int, ClipInput] | None = None, progress: Any = None
                         ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train into `output` in this process, or in `emotion_llm_processes` processes through accelerate/torchrun."""
    if settings.emotion_llm_launcher == "inline":
        metrics = fit(settings, snapshot, output=output, inputs=inputs, progress=progress)
    else:
        metrics = run_launched(settings, snapshot, output=output, inputs=inputs, progress=progress)
    return metrics, training_config(settings, snapshot)


def write_job_files(settings: Settings, snapshot: TrainingSnapshot, *, inputs: dict[int, ClipInput] | None
                    ) -> tuple[Path, Path]:
    """The snapshot (and clip media paths) as files every launched process reads."""
    folder = run_dir(settings, snapshot)
    folder.mkdir(parents=True, exist_ok=True)
    snapshot_file = folder / "snapshot.json"
    snapshot_file.write_text(snapshot.model_dump_json(), encoding="utf-8")
    items = training_items(snapshot)
    clips = clip_inputs(items, inputs)
    inputs_file = folder / "inputs.json"
    inputs_file.write_text(json.dumps({str(k): v.model_dump(mode="json") for k, v in clips.items()},
                                      ensure_ascii=False), encoding="utf-8")
    return snapshot_file, inputs_file


def launcher_prefix(settings: Settings, *, launcher: str | None = None, processes: int | None = None,
                    runnable: bool = True) -> list[str]:
    """The start of an `accelerate launch` / `torchrun` command line (runnable: through this Python)."""
    launcher = launcher or settings.emotion_llm_launcher
    processes = processes or settings.emotion_llm_processes
    gpu = torch.cuda.is_available() and settings.emotion_llm_device != "cpu"
    if launcher == "accelerate" and not gpu and processes > 1:
        launcher = "torchrun"  # accelerate starts several CPU processes only through MPI; torchrun needs none
    if launcher == "torchrun":
        head = [sys.executable, "-m", "torch.distributed.run"] if runnable else ["torchrun"]
        return [*head, "--standalone", f"--nproc_per_node={processes}"]
    if launcher != "accelerate":
        raise ValueError(f"unknown launcher {launcher!r}: use inline, accelerate or torchrun")
    head = [sys.executable, "-m", "accelerate.commands.launch"] if runnable else ["accelerate", "launch"]
    flags = ["--num_processes", str(processes), "--num_machines", "1", "--mixed_precision", "no",
             "--dynamo_backend", "no"]
    flags += (["--multi_gpu"] if processes > 1 else []) if gpu else ["--cpu"]
    return [*head, *flags]


def launch_command(settings: Settings, *, snapshot_file: Path, inputs_file: Path, output: Path,
                   launcher: str | None = None, processes: int | None = None) -> list[str]:
    """The launcher running `model.emotion_llm.launch` on a snapshot file, once per process (GPU)."""
    return [*launcher_prefix(settings, launcher=launcher, processes=processes), "-m", "model.emotion_llm.launch",
            "--snapshot", str(snapshot_file), "--inputs", str(inputs_file), "--output", str(output)]


def dataset_command(settings: Settings, *, dataset: str, launcher: str, processes: int,
                    runnable: bool = True) -> list[str]:
    """The launcher running `model.emotion_llm.launch --dataset`: train and register a version."""
    return [*launcher_prefix(settings, launcher=launcher, processes=processes, runnable=runnable),
            "-m", "model.emotion_llm.launch", "--dataset", dataset]


def launch_env() -> dict[str, str]:
    """The environment for launched processes: this checkout importable from the project root."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def run_launched(settings: Settings, snapshot: TrainingSnapshot, *, output: Path,
                 inputs: dict[int, ClipInput] | None = None, progress: Any = None) -> dict[str, Any]:
    """Run the launcher as a child process group, relaying its progress; cancel stops the whole group."""
    snapshot_file, inputs_file = write_job_files(settings, snapshot, inputs=inputs)
    command = launch_command(settings, snapshot_file=snapshot_file, inputs_file=inputs_file, output=output)
    reporter = _Reporter(progress, main=True, lines=False)
    reporter.log("launching: " + " ".join(command))
    child = subprocess.Popen(command, cwd=ROOT, env=launch_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    tail: list[str] = []
    metrics: dict[str, Any] = {}
    try:
        for line in child.stdout:  # type: ignore[union-attr]
            if line.startswith(PROGRESS_PREFIX):
                event = json.loads(line[len(PROGRESS_PREFIX):])
                if "step" in event:
                    reporter.step(event["step"], event["total"], event["loss"])
                elif "metrics" in event:
                    metrics = event["metrics"]
                elif "log" in event:
                    reporter.log(event["log"])
                reporter.check_cancelled()
            else:
                tail = (tail + [line.rstrip()])[-40:]
    except BaseException:
        os.killpg(child.pid, signal.SIGTERM)  # our own child's group: every launched process
        child.wait(timeout=60)
        raise
    code = child.wait()
    if code != 0:
        raise RuntimeError(f"the launched training exited with code {code}:\n" + "\n".join(tail[-20:]))
    return metrics

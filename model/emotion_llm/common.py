"""What both model kinds share: prepared clips, media loading, LoRA adapters and version switching."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.settings import Settings
from model.base import ClipInput
from model.emotion_llm.engine import DecodeState
from model.emotion_llm.loading import ModelUnavailable

MAX_AUDIO_SECONDS = 30.0
ADAPTER_DIR = "adapter"
PROJECTORS_FILE = "projectors.safetensors"


@dataclass
class Prepared:
    """One clip made ready on the CPU: its prompt ids (with placeholders) and preprocessed media."""

    clip: ClipInput
    ids: list[int]
    media: dict[str, Any] = field(default_factory=dict)


def clip_frames(clip: ClipInput, max_frames: int) -> list[np.ndarray]:
    from model.features.media import load_frames

    if max_frames <= 0 or not (clip.frames_dir or clip.video_path):
        return []
    return load_frames(video_path=clip.video_path, frames_dir=clip.frames_dir, duration=clip.duration,
                       max_frames=max_frames, frame_times=clip.frame_times).images


def clip_audio(clip: ClipInput) -> np.ndarray | None:
    from model.features.media import SAMPLE_RATE, audio_from_video, load_audio

    wave = None
    if clip.audio_path and Path(clip.audio_path).is_file():
        wave = load_audio(Path(clip.audio_path))
    elif clip.video_path and Path(clip.video_path).is_file():
        wave = audio_from_video(Path(clip.video_path))
    if wave is None or wave.size < SAMPLE_RATE // 10:
        return None
    return wave[: int(MAX_AUDIO_SECONDS * SAMPLE_RATE)]


def lora_config(settings: Settings, *, target_modules: Any) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=settings.emotion_llm_lora_r, lora_alpha=settings.emotion_llm_lora_alpha, lora_dropout=0.05,
                      target_modules=target_modules, task_type="CAUSAL_LM")


class AdapterHost(nn.Module):
    """An LM (or a whole multimodal model) that wears LoRA adapters: one per trained version, swapped in place.

    The base weights load once per process; a version's adapter (a few MB) loads the first time
    the version is used and is switched to afterwards, so promoting a version costs no reload.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.RLock()
        self.active: str | None = None
        self._projector_states: dict[str, dict[str, torch.Tensor]] = {}
        self._projectors_of: str | None = None
        self.decode_state = DecodeState()  # static KV cache and compiled decode step, shared by every job

    # subclasses set: self.lm, self.projectors (nn.ModuleDict, may be empty), self.settings
    kind = ""
    lm: nn.Module
    projectors: nn.ModuleDict

    def lora_targets(self) -> Any:
        return [t.strip() for t in self.settings.emotion_llm_lora_targets.split(",") if t.strip()]

    def make_trainable(self, start_from: Path | None = None) -> None:
        """Fresh LoRA adapters (or the starting adapter's) on the LM; projectors train too; the rest is frozen."""
        from peft import PeftModel, get_peft_model

        for parameter in self.parameters():
            parameter.requires_grad_(False)
        if start_from is not None and (start_from / ADAPTER_DIR).is_dir():
            self.lm = PeftModel.from_pretrained(self.lm, str(start_from / ADAPTER_DIR), is_trainable=True)
        else:
            self.lm = get_peft_model(self.lm, lora_config(self.settings, target_modules=self.lora_targets()))
        if start_from is not None and (start_from / PROJECTORS_FILE).is_file():
            self._load_projectors(start_from)
        for parameter in self.projectors.parameters():
            parameter.requires_grad_(True)
        self.projectors.float()  # trainable weights in full precision; autocast handles the matmuls

    def _load_projectors(self, folder: Path) -> None:
        from safetensors.torch import load_file

        state = load_file(str(folder / PROJECTORS_FILE))
        missing, unexpected = self.projectors.load_state_dict(state, strict=False)
        if unexpected:
            raise ModelUnavailable(f"{folder / PROJECTORS_FILE} does not fit these encoders and LM "
                                   f"(unexpected {', '.join(unexpected[:3])})")

    def save_trainable(self, folder: Path) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        self.lm.save_pretrained(str(folder / ADAPTER_DIR))
        if len(self.projectors):
            save_file({k: v.detach().float().cpu().contiguous() for k, v in self.projectors.state_dict().items()},
                      str(folder / PROJECTORS_FILE))

    def use_version(self, folder: Path | None) -> bool:
        """Switch to a version's adapter and projectors (None: the base alone). True when its media tokens
        are meaningful (projectors trained or given; always for a multimodal checkpoint). Cheap when current."""
        from peft import PeftModel

        if folder is None or not (folder / ADAPTER_DIR).is_dir():
            self.active = None
            return self.kind == "multimodal"
        # Keyed by folder: version names repeat across datasets, folders do not.
        key = "v" + hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
        if self.active != key:
            if not isinstance(self.lm, PeftModel):
                self.lm = PeftModel.from_pretrained(self.lm, str(folder / ADAPTER_DIR), adapter_name=key)
            elif key not in self.lm.peft_config:
                self.lm.load_adapter(str(folder / ADAPTER_DIR), adapter_name=key)
            self.lm.set_adapter(key)
            self.lm.eval()
            self.active = key
        if self.kind == "multimodal":
            return True
        if not (folder / PROJECTORS_FILE).is_file():
            return False
        if self._projectors_of != key:
            if key not in self._projector_states:
                from safetensors.torch import load_file

                self._projector_states[key] = load_file(str(folder / PROJECTORS_FILE))
            self.projectors.load_state_dict(self._projector_states[key], strict=False)
            self._projectors_of = key
        return True

    def forward(self, prepared: list[Prepared], targets: list[list[int]]) -> torch.Tensor:
        """The training loss of a batch (what DDP wraps)."""
        return sft_loss(self, prepared, targets)

    def adapter_scope(self):  # noqa: ANN201
        """The active adapter on, or every adapter off for the base alone."""
        from peft import PeftModel

        if self.active is None and isinstance(self.lm, PeftModel):
            return self.lm.disable_adapter()
        return contextlib.nullcontext()


def read_config(folder: Path | None) -> dict[str, Any]:
    if folder is None or not (folder / "config.json").is_file():
        return {}
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def sft_loss(host: AdapterHost, prepared: list[Prepared], targets: list[list[int]]) -> torch.Tensor:
    """Next-token loss on the answer tokens only (the prompt and padding are masked out)."""
    from model.emotion_llm.engine import assemble

    modal = host.encode(prepared)
    ids = [p.ids + t for p, t in zip(prepared, targets, strict=True)]
    embeds, mask, _ = assemble(ids, modal, host.embed, pad_id=host.pad_id, device=host.device, left=False)
    labels = torch.full(mask.shape, -100, dtype=torch.long, device=host.device)
    for row, (p, t) in enumerate(zip(prepared, targets, strict=True)):
        labels[row, len(p.ids):len(p.ids) + len(t)] = torch.tensor(t, device=host.device)
    return host.lm(inputs_embeds=embeds, attention_mask=mask.long(), labels=labels, use_cache=False).loss

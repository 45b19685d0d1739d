"""Local folders only: offline switches, device and dtype, and plain-words checks of checkpoint folders.

`checkpoint_problems` reads only small files (config JSON, safetensors headers), so the
Models page can call it through `describe()` without loading any weights.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from core.settings import Settings

MULTIMODAL = "multimodal"
COMPOSED = "composed"
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


class ModelUnavailable(RuntimeError):
    """The configured model cannot be loaded; the message says which folder and why."""


def go_offline() -> None:
    """Nothing may reach a hub: transformers and huggingface_hub read these at call time."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def mode_of(settings: Settings) -> str | None:
    if settings.emotion_llm_checkpoint:
        return MULTIMODAL
    if settings.emotion_llm_lm:
        return COMPOSED
    return None


def device_of(settings: Settings):  # noqa: ANN201
    import torch

    wanted = settings.emotion_llm_device
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(wanted)
    if device.type == "cuda" and not torch.cuda.is_available():
        return torch.device("cpu")  # CPU fallback: the same settings run on a machine without a GPU
    return device


def dtype_of(settings: Settings, device) -> Any:  # noqa: ANN001
    import torch

    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if settings.emotion_llm_dtype != "auto":
        if settings.emotion_llm_dtype not in names:
            raise ModelUnavailable(f"CLUELAB_EMOTION_LLM_DTYPE={settings.emotion_llm_dtype!r}: use auto, float32, bfloat16 or float16")
        return names[settings.emotion_llm_dtype] if device.type != "cpu" else torch.float32
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def mixed_precision_of(device) -> str:  # noqa: ANN001
    """accelerate's mixed-precision mode for training on this device."""
    import torch

    if device.type != "cuda":
        return "no"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


# --- folder checks ------------------------------------------------------------------------------------


def _safetensors_problem(path: Path) -> str | None:
    """None when the file's header reads as safetensors, else why not."""
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                return "shorter than a safetensors header"
            (length,) = struct.unpack("<Q", head)
            if length <= 0 or 8 + length > size:
                return "its header length does not fit the file (truncated or not safetensors)"
            json.loads(handle.read(length))
    except (OSError, ValueError) as error:
        return f"its header is unreadable ({error})"
    return None


def folder_problems(label: str, env: str, path: Path | None, *, needs: tuple[str, ...] = ()) -> list[str]:
    """What is wrong with one checkpoint folder, in words a person can act on."""
    if path is None:
        return []
    where = f"{label} ({env}={path})"
    if not path.exists():
        return [f"{where}: the folder does not exist"]
    if not path.is_dir():
        return [f"{where}: not a folder"]
    problems = []
    config = path / "config.json"
    if not config.is_file():
        problems.append(f"{where}: no config.json — not a transformers checkpoint folder")
    else:
        try:
            json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            problems.append(f"{where}: config.json is corrupt ({error})")
    weights = [p for pattern in WEIGHT_PATTERNS for p in path.glob(pattern)]
    if not weights:
        problems.append(f"{where}: no weight files (*.safetensors or *.bin)")
    for weight in weights:
        if weight.suffix == ".safetensors" and (problem := _safetensors_problem(weight)):
            problems.append(f"{where}: {weight.name} is corrupt: {problem}")
    if "tokenizer" in needs and not any((path / name).is_file() for name in TOKENIZER_FILES):
        problems.append(f"{where}: no tokenizer files (tokenizer.json or tokenizer.model)")
    if "processor" in needs and not any((path / name).is_file() for name in
                                        ("preprocessor_config.json", "processor_config.json")):
        problems.append(f"{where}: no preprocessor_config.json (image/audio preprocessing)")
    return problems


def checkpoint_problems(settings: Settings) -> list[str]:
    """Everything that stops the configured emotion LLM from loading (empty when it should load)."""
    mode = mode_of(settings)
    if mode is None:
        return ["No emotion-LLM model is configured: set CLUELAB_EMOTION_LLM_CHECKPOINT to a local multimodal checkpoint "
                "folder, or CLUELAB_EMOTION_LLM_LM (with CLUELAB_EMOTION_LLM_VISION / CLUELAB_EMOTION_LLM_AUDIO) to compose one."]
    if mode == MULTIMODAL:
        return folder_problems("multimodal checkpoint", "CLUELAB_EMOTION_LLM_CHECKPOINT", settings.emotion_llm_checkpoint,
                               needs=("tokenizer", "processor"))
    problems = folder_problems("language model", "CLUELAB_EMOTION_LLM_LM", settings.emotion_llm_lm, needs=("tokenizer",))
    problems += folder_problems("vision encoder", "CLUELAB_EMOTION_LLM_VISION", settings.emotion_llm_vision, needs=("processor",))
    problems += folder_problems("audio encoder", "CLUELAB_EMOTION_LLM_AUDIO", settings.emotion_llm_audio, needs=("processor",))
    if settings.emotion_llm_adapter is not None and not (settings.emotion_llm_adapter / "config.json").is_file() \
            and not (settings.emotion_llm_adapter / "adapter_config.json").is_file():
        problems.append(f"starting adapter (CLUELAB_EMOTION_LLM_ADAPTER={settings.emotion_llm_adapter}): no adapter_config.json")
    return problems


def fingerprint(path: Path | None) -> dict[str, Any] | None:
    """What identifies a base folder for an adapter: its path and its config's model type and sizes."""
    if path is None:
        return None
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    text = config.get("text_config") or config
    return {"path": str(path), "model_type": config.get("model_type"), "hidden_size": text.get("hidden_size"),
            "vocab_size": text.get("vocab_size"), "layers": text.get("num_hidden_layers")}


def load_or_explain(what: str, path: Path, loader, *args, **kwargs):  # noqa: ANN001, ANN201
    """Call a from_pretrained loader, offline; a failure says which folder and why."""
    go_offline()
    try:
        return loader(str(path), *args, local_files_only=True, **kwargs)
    except Exception as error:  # noqa: BLE001 — any loader failure becomes one clear message
        raise ModelUnavailable(f"could not load the {what} from {path}: {type(error).__name__}: {error}") from error

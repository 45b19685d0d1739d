"""A local multimodal checkpoint with its processor (LLaVA-class): frames become image tokens that the
checkpoint's own vision tower and projector fill in; the transcript and measured evidence are text.

Image features for a whole batch come from one `get_image_features` call, separately from the
LM's passes, and are spliced into the prompt embeddings where the processor put image tokens.
Checkpoints whose text positions depend on the image grid (M-RoPE: Qwen2-VL, Qwen2.5-VL,
Qwen2.5-Omni) are refused with that reason: their positions need the model's own rope index.
LoRA targets only the language model's attention; the vision tower and projector stay as shipped.
"""

from __future__ import annotations

import torch
from torch import nn

from core.settings import Settings
from model.base import ClipInput
from model.emotion_llm import prompting
from model.emotion_llm.common import AdapterHost, Prepared, clip_frames
from model.emotion_llm.loading import ModelUnavailable, load_or_explain


class MultimodalModel(AdapterHost):
    kind = "multimodal"

    def __init__(self, settings: Settings, *, device: torch.device, dtype: torch.dtype, **_: object) -> None:
        super().__init__()
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.settings = settings
        self.device, self.dtype = device, dtype
        self.processor = load_or_explain("processor", settings.emotion_llm_checkpoint, AutoProcessor.from_pretrained)
        self.tokenizer = self.processor.tokenizer
        model = load_or_explain("multimodal checkpoint", settings.emotion_llm_checkpoint,
                                AutoModelForImageTextToText.from_pretrained, dtype=dtype)
        inner = getattr(model, "model", model)
        if hasattr(inner, "get_rope_index"):
            raise ModelUnavailable(f"{settings.emotion_llm_checkpoint}: {type(model).__name__} places text by the image grid "
                                   "(M-RoPE); use a LLaVA-class checkpoint, or compose the model (CLUELAB_EMOTION_LLM_LM)")
        if not hasattr(model, "get_image_features") or getattr(model.config, "image_token_id", None) is None:
            raise ModelUnavailable(f"{settings.emotion_llm_checkpoint}: {type(model).__name__} has no image features to "
                                   "splice into the prompt")
        self.lm = model.to(device).eval()
        self.text_config = model.config.get_text_config()
        self.image_token_id = int(model.config.image_token_id)
        self.image_token = getattr(self.processor, "image_token", None) or \
            self.tokenizer.convert_ids_to_tokens(self.image_token_id)
        self.projectors = nn.ModuleDict()  # the checkpoint's own projector stays frozen
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else \
            (self.tokenizer.eos_token_id or 0)
        self.media_on = True

    def lora_targets(self) -> str:
        names = "|".join(t.strip() for t in self.settings.emotion_llm_lora_targets.split(",") if t.strip())
        return rf".*language_model.*\.({names})$"

    def describe_models(self) -> dict[str, str]:
        base = self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm
        return {"multimodal checkpoint": f"{type(base).__name__} ({self.settings.emotion_llm_checkpoint})",
                "processor": type(self.processor).__name__}

    def prepare(self, clip: ClipInput, labels: list[str], *, media: bool | None = None) -> Prepared:
        from PIL import Image

        frames = clip_frames(clip, self.settings.emotion_llm_frames) if media is not False else []
        text = prompting.render(self.tokenizer, prompting.instruction(
            clip, labels, vision=bool(frames), audio=False, image_marker=self.image_token, frames=len(frames)))
        images = [Image.fromarray(f) for f in frames] or None
        out = self.processor(text=[text], images=images, return_tensors="pt")
        found = {"pixels": out["pixel_values"]} if frames else {}
        return Prepared(clip=clip, ids=out["input_ids"][0].tolist(), media=found)

    @torch.no_grad()
    def encode(self, batch: list[Prepared]) -> list[dict[int, torch.Tensor]]:
        out: list[dict[int, torch.Tensor]] = [{} for _ in batch]
        with_frames = [i for i, p in enumerate(batch) if "pixels" in p.media]
        if not with_frames:
            return out
        pixels = torch.cat([batch[i].media["pixels"] for i in with_frames]).to(self.device, self.dtype)
        base = self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm
        features = base.get_image_features(pixel_values=pixels)
        features = getattr(features, "pooler_output", features)
        per_image = list(features) if not isinstance(features, torch.Tensor) else list(features.unbind(0))
        start = 0
        for i in with_frames:
            count = batch[i].media["pixels"].shape[0]
            out[i][self.image_token_id] = torch.cat([f.reshape(-1, f.shape[-1]) for f in per_image[start:start + count]])
            start += count
        return out

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.lm.get_input_embeddings()(ids)

"""The Emotion-LLaMA / AffectGPT composition: frozen vision and audio encoders, a trainable projector
per modality into a causal LM's embedding space, LoRA adapters on the LM.

Vision: any transformers image encoder (CLIP, SigLIP, ViT class) over the sampled frames.
Audio: a Whisper encoder on log-mel features, or HuBERT / wav2vec2 on the 16 kHz waveform.
Projectors: attention pooling to a few learned query tokens, or a linear map of one pooled
vector per frame (vision) or per time chunk (audio). Until projectors are trained (or given
with CLUELAB_EMOTION_LLM_ADAPTER) their output would be noise, so the prompt then leaves media out.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.settings import Settings
from model.base import ClipInput
from model.emotion_llm import prompting
from model.emotion_llm.common import AdapterHost, Prepared, clip_audio, clip_frames
from model.emotion_llm.loading import ModelUnavailable, load_or_explain

ENCODER_CHUNK = 32  # images per vision-encoder call


class AttentionPool(nn.Module):
    """A few learned queries attend over an encoder's tokens, then map into the LM's embedding space."""

    def __init__(self, in_dim: int, out_dim: int, queries: int) -> None:
        super().__init__()
        heads = next(h for h in (8, 4, 2, 1) if in_dim % h == 0)
        self.queries = nn.Parameter(torch.randn(queries, in_dim) * in_dim ** -0.5)
        self.attention = nn.MultiheadAttention(in_dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(in_dim)
        self.out = nn.Linear(in_dim, out_dim)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        queries = self.queries.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        pooled, _ = self.attention(queries, tokens, tokens, key_padding_mask=~mask, need_weights=False)
        return self.out(self.norm(pooled))


class LinearProjector(nn.Module):
    """One LM token per unit (a frame's mean patch vector, or an audio chunk's mean)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(in_dim)
        self.out = nn.Linear(in_dim, out_dim)

    def forward(self, units: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(units))


def _chunk_means(tokens: torch.Tensor, mask: torch.Tensor, chunks: int) -> torch.Tensor:
    """(B, chunks, D): each row's valid tokens cut into `chunks` equal stretches and averaged."""
    out = []
    for row, valid in zip(tokens, mask, strict=True):
        length = max(int(valid.sum()), 1)
        out.append(F.adaptive_avg_pool1d(row[:length].T.unsqueeze(0), chunks)[0].T)
    return torch.stack(out)


class ComposedModel(AdapterHost):
    kind = "composed"

    def __init__(self, settings: Settings, *, device: torch.device, dtype: torch.dtype,
                 projector: str | None = None, queries: int | None = None, parts: dict[str, Any] | None = None) -> None:
        """Load the parts from the folders in settings (or take them ready-made in `parts`: benchmarks)."""
        super().__init__()
        self.settings = settings
        self.device, self.dtype = device, dtype
        self.projector_kind = projector or settings.emotion_llm_projector
        if self.projector_kind not in ("attention", "linear"):
            raise ModelUnavailable(f"CLUELAB_EMOTION_LLM_PROJECTOR={self.projector_kind!r}: use attention or linear")
        self.queries = queries or settings.emotion_llm_query_tokens
        parts = parts if parts is not None else self._load_parts(settings, dtype)
        self.tokenizer = parts["tokenizer"]
        self.lm = parts["lm"].to(device=device, dtype=dtype).eval()
        self.text_config = self.lm.config
        hidden = self.lm.config.hidden_size
        self.projectors = nn.ModuleDict()
        self.vision, self.image_processor = parts.get("vision"), parts.get("image_processor")
        if self.vision is not None:
            vision = self.vision
            if getattr(vision.config, "vision_config", None) is not None and hasattr(vision, "vision_model"):
                vision, width = vision.vision_model, vision.config.vision_config.hidden_size  # a CLIP/SigLIP pair
            else:
                width = vision.config.hidden_size
            self.vision = vision.to(device=device, dtype=dtype).eval().requires_grad_(False)
            self.projectors["vision"] = self._projector(width, hidden)
        self.audio, self.feature_extractor = parts.get("audio"), parts.get("feature_extractor")
        if self.audio is not None:
            audio = self.audio
            self.audio_kind = "whisper" if hasattr(audio, "get_encoder") else "waveform"
            if self.audio_kind == "whisper":
                audio, width = audio.get_encoder(), audio.config.d_model
            else:
                width = audio.config.hidden_size
            self.audio = audio.to(device=device, dtype=dtype).eval().requires_grad_(False)
            self.projectors["audio"] = self._projector(width, hidden)
        self.projectors.to(device=device, dtype=dtype)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else \
            (self.tokenizer.eos_token_id or 0)
        self.media_on = False  # until projectors are trained or given

    @staticmethod
    def _load_parts(settings: Settings, dtype: torch.dtype) -> dict[str, Any]:
        from transformers import (
            AutoFeatureExtractor,
            AutoImageProcessor,
            AutoModel,
            AutoModelForCausalLM,
            AutoTokenizer,
        )

        parts: dict[str, Any] = {
            "tokenizer": load_or_explain("tokenizer", settings.emotion_llm_lm, AutoTokenizer.from_pretrained),
            "lm": load_or_explain("language model", settings.emotion_llm_lm, AutoModelForCausalLM.from_pretrained,
                                  dtype=dtype)}
        if settings.emotion_llm_vision is not None:
            parts["vision"] = load_or_explain("vision encoder", settings.emotion_llm_vision, AutoModel.from_pretrained,
                                              dtype=dtype)
            parts["image_processor"] = load_or_explain("image processor", settings.emotion_llm_vision,
                                                       AutoImageProcessor.from_pretrained)
        if settings.emotion_llm_audio is not None:
            parts["audio"] = load_or_explain("audio encoder", settings.emotion_llm_audio, AutoModel.from_pretrained,
                                             dtype=dtype)
            parts["feature_extractor"] = load_or_explain("audio feature extractor", settings.emotion_llm_audio,
                                                         AutoFeatureExtractor.from_pretrained)
        return parts

    def _projector(self, width: int, hidden: int) -> nn.Module:
        if self.projector_kind == "attention":
            return AttentionPool(width, hidden, self.queries)
        return LinearProjector(width, hidden)

    def describe_models(self) -> dict[str, str]:
        out = {"language model": f"{type(self.lm.get_base_model() if hasattr(self.lm, 'get_base_model') else self.lm).__name__}"
                                 f" ({self.settings.emotion_llm_lm})"}
        if self.vision is not None:
            out["vision encoder"] = f"{type(self.vision).__name__} ({self.settings.emotion_llm_vision}), frozen"
        if self.audio is not None:
            out["audio encoder"] = f"{type(self.audio).__name__} ({self.settings.emotion_llm_audio}), frozen"
        out["projectors"] = f"{self.projector_kind} ({self.queries} query tokens)"
        return out

    # --- preparing clips (CPU) ------------------------------------------------------------------------

    def prepare(self, clip: ClipInput, labels: list[str], *, media: bool | None = None) -> Prepared:
        use_media = self.media_on if media is None else media
        found: dict[str, Any] = {}
        if use_media and self.vision is not None:
            frames = clip_frames(clip, self.settings.emotion_llm_frames)
            if frames:
                from PIL import Image

                pixels = self.image_processor(images=[Image.fromarray(f) for f in frames], return_tensors="pt")
                found["pixels"] = pixels["pixel_values"]
        if use_media and self.audio is not None:
            wave = clip_audio(clip)
            if wave is not None:
                found["audio"] = self._audio_inputs(wave)
        vision_tokens = 0
        if "pixels" in found:
            vision_tokens = self.queries if self.projector_kind == "attention" else found["pixels"].shape[0]
        audio_tokens = self.queries if "audio" in found else 0
        text = prompting.render(self.tokenizer, prompting.instruction(
            clip, labels, vision="pixels" in found, audio="audio" in found))
        ids = prompting.prompt_ids(self.tokenizer, text, vision_tokens=vision_tokens, audio_tokens=audio_tokens)
        return Prepared(clip=clip, ids=ids, media=found)

    def _audio_inputs(self, wave) -> dict[str, torch.Tensor]:  # noqa: ANN001
        from model.features.media import SAMPLE_RATE

        fe = self.feature_extractor
        if self.audio_kind == "whisper":
            out = fe(wave, sampling_rate=SAMPLE_RATE, return_tensors="pt", return_attention_mask=True)
            return {"input_features": out["input_features"][0], "mask": out["attention_mask"][0].bool()}
        out = fe(wave, sampling_rate=SAMPLE_RATE, return_tensors="pt")
        values = out["input_values"][0]
        return {"input_values": values, "mask": torch.ones(values.shape[0], dtype=torch.bool)}

    # --- encoders (batched across clips) ---------------------------------------------------------------

    @torch.no_grad()
    def _vision_tokens(self, pixels: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, F*T, D) patch tokens of each clip's frames and their mask, frames of all clips in few calls."""
        flat = torch.cat(pixels).to(device=self.device, dtype=self.dtype)
        hidden = torch.cat([self.vision(pixel_values=flat[i:i + ENCODER_CHUNK]).last_hidden_state
                            for i in range(0, flat.shape[0], ENCODER_CHUNK)])
        counts = [p.shape[0] for p in pixels]
        most, tokens, width = max(counts), hidden.shape[1], hidden.shape[2]
        out = hidden.new_zeros((len(pixels), most, tokens, width))
        mask = torch.zeros((len(pixels), most, tokens), dtype=torch.bool, device=self.device)
        start = 0
        for i, count in enumerate(counts):
            out[i, :count] = hidden[start:start + count]
            mask[i, :count] = True
            start += count
        return out, mask

    @torch.no_grad()
    def _audio_tokens(self, inputs: list[dict[str, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.audio_kind == "whisper":
            features = torch.stack([a["input_features"] for a in inputs]).to(device=self.device, dtype=self.dtype)
            hidden = self.audio(input_features=features).last_hidden_state
            frames = torch.stack([a["mask"] for a in inputs]).to(self.device)
            # Whisper's convolutions halve the time axis.
            mask = frames[:, ::2][:, : hidden.shape[1]]
            return hidden, mask
        longest = max(a["input_values"].shape[0] for a in inputs)
        values = torch.zeros((len(inputs), longest))
        samples = torch.zeros((len(inputs), longest), dtype=torch.long)
        for i, a in enumerate(inputs):
            values[i, : a["input_values"].shape[0]] = a["input_values"]
            samples[i, : a["input_values"].shape[0]] = 1
        hidden = self.audio(input_values=values.to(self.device, self.dtype),
                            attention_mask=samples.to(self.device)).last_hidden_state
        lengths = self.audio._get_feat_extract_output_lengths(samples.sum(1)).to(self.device)
        mask = torch.arange(hidden.shape[1], device=self.device)[None] < lengths[:, None]
        return hidden, mask

    def encode(self, batch: list[Prepared]) -> list[dict[int, torch.Tensor]]:
        """Each clip's projected media tokens by placeholder id (gradients flow into the projectors only)."""
        out: list[dict[int, torch.Tensor]] = [{} for _ in batch]
        with_frames = [i for i, p in enumerate(batch) if "pixels" in p.media]
        if with_frames:
            tokens, mask = self._vision_tokens([batch[i].media["pixels"] for i in with_frames])
            projector = self.projectors["vision"]
            weight = next(projector.parameters())
            if self.projector_kind == "attention":
                b, f, t, d = tokens.shape
                projected = projector(tokens.reshape(b, f * t, d).to(weight.dtype), mask.reshape(b, f * t))
                for row, i in enumerate(with_frames):
                    out[i][prompting.VISION_SLOT] = projected[row]
            else:
                frame_mask = mask.any(-1)
                units = (tokens * mask.unsqueeze(-1)).sum(2) / mask.sum(2, keepdim=True).clamp(min=1)
                projected = projector(units.to(weight.dtype))
                for row, i in enumerate(with_frames):
                    out[i][prompting.VISION_SLOT] = projected[row][frame_mask[row]]
        with_audio = [i for i, p in enumerate(batch) if "audio" in p.media]
        if with_audio:
            hidden, mask = self._audio_tokens([batch[i].media["audio"] for i in with_audio])
            projector = self.projectors["audio"]
            weight = next(projector.parameters())
            if self.projector_kind == "attention":
                projected = projector(hidden.to(weight.dtype), mask)
            else:
                projected = projector(_chunk_means(hidden, mask, self.queries).to(weight.dtype))
            for row, i in enumerate(with_audio):
                out[i][prompting.AUDIO_SLOT] = projected[row]
        return out

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.lm.get_input_embeddings()(ids)

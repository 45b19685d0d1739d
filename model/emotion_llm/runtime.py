"""Loaded models (once per process) and the batched predict path over them.

Clips are prepared on the CPU (prompt ids, frames, audio features) one batch ahead in a thread
while the device works on the current one; prompts are sorted by length so batches carry
little padding; encoders run once per batch, separately from the LM; the emotion distribution
comes from the prefill; results are yielded per batch. A malformed answer is retried once
(sampled); a second failure fails that clip with the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from core.settings import Settings
from core.vocabulary import ASPECTS
from model.base import ClipInput, ClipPrediction, normalised_entropy
from model.emotion_llm import prompting
from model.emotion_llm.common import AdapterHost, Prepared
from model.emotion_llm.engine import Engine, PromptBatch, RowOutput, assemble, ban_mask
from model.emotion_llm.loading import (
    COMPOSED,
    ModelUnavailable,
    checkpoint_problems,
    device_of,
    dtype_of,
    go_offline,
    mode_of,
)

_MODELS: dict[tuple, AdapterHost] = {}
_MODELS_LOCK = threading.Lock()


class MalformedAnswer(ValueError):
    """A clip whose answer stayed malformed after its retry."""


def model_class(settings: Settings) -> type[AdapterHost]:
    if mode_of(settings) == COMPOSED:
        from model.emotion_llm.composed import ComposedModel

        return ComposedModel
    from model.emotion_llm.multimodal import MultimodalModel

    return MultimodalModel


def load_model(settings: Settings, *, fresh: bool = False, projector: str | None = None,
               queries: int | None = None) -> AdapterHost:
    """The configured model on its device; shared by every backend of this process unless `fresh` (training)."""
    problems = checkpoint_problems(settings)
    if problems:
        raise ModelUnavailable("; ".join(problems))
    go_offline()
    device = device_of(settings)
    dtype = dtype_of(settings, device)
    cls = model_class(settings)
    if fresh:
        return cls(settings, device=device, dtype=dtype, projector=projector, queries=queries)
    key = (cls.kind, str(settings.emotion_llm_checkpoint), str(settings.emotion_llm_lm), str(settings.emotion_llm_vision),
           str(settings.emotion_llm_audio), str(device), str(dtype), projector or settings.emotion_llm_projector,
           queries or settings.emotion_llm_query_tokens)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = cls(settings, device=device, dtype=dtype, projector=projector, queries=queries)
        return _MODELS[key]


def forget_models() -> None:
    """Drop the loaded models (tests; freeing a GPU)."""
    with _MODELS_LOCK:
        _MODELS.clear()


class Predictor:
    """Predicts clips with one model wearing one version's adapter, over one label set."""

    def __init__(self, model: AdapterHost, labels: list[str], settings: Settings, *, model_version: str,
                 activate: Callable[[], bool] | None = None) -> None:
        self.model = model
        # Puts this version's adapter on (under the model's lock); says whether media tokens are meaningful.
        self.activate = activate or (lambda: model.use_version(None))
        self.media = False
        self.labels = list(labels)
        self.settings = settings
        self.model_version = model_version
        self.answer = prompting.AnswerTokens.build(model.tokenizer, self.labels)
        vocab = model.lm.get_input_embeddings().weight.shape[0]
        ban = ban_mask(model.tokenizer, vocab, keep={self.answer.close_id, *self.answer.eos_ids})
        self.engine = Engine(model.lm, text_config=model.text_config, answer=self.answer, pad_id=model.pad_id,
                             ban=ban, device=model.device, static_cache=settings.emotion_llm_static_cache,
                             compile_decode=settings.emotion_llm_compile, rows=settings.emotion_llm_batch_size,
                             state=model.decode_state)
        self.stats: dict[str, float] = {"clips": 0, "media_tokens": 0, "new_tokens": 0, "retried": 0, "failed": 0}

    # --- one batch -------------------------------------------------------------------------------------

    def _prepare_one(self, clip: ClipInput) -> Prepared | Exception:
        try:
            return self.model.prepare(clip, self.labels, media=self.media)
        except Exception as error:  # noqa: BLE001 — a clip whose media cannot be read fails alone
            return error

    def _decode(self, prepared: list[Prepared], modal: list[dict[int, torch.Tensor]], *, sample: bool,
                constrained: bool) -> list[tuple[dict | None, str | None, RowOutput]]:
        model = self.model
        self.engine.lm = model.lm  # a version's adapter may have wrapped the LM since (the step recompiles then)
        embeds, mask, _ = assemble([p.ids for p in prepared], modal, model.embed, pad_id=model.pad_id,
                                   device=model.device)
        batch = PromptBatch(embeds=embeds, mask=mask, lengths=[len(p.ids) for p in prepared])
        # A retry (sampled, a few rows) takes the dynamic cache: its odd size would cost a new cache and compile.
        rows = self.engine.run(batch, constrained=constrained, max_new_tokens=self.settings.emotion_llm_max_new_tokens,
                               sample=sample, seed=len(prepared), fixed_shape=not sample)
        self.stats["new_tokens"] += sum(row.steps for row in rows)
        out = []
        for row in rows:
            if constrained:
                texts = {aspect: model.tokenizer.decode(tokens, skip_special_tokens=True)
                         for aspect, tokens in zip(ASPECTS, row.fields, strict=True)}
                clues, reason = prompting.check_clues(texts)
            else:
                label = self.labels[row.label_index]
                text = prompting.RESPONSE_PREFIX + label + '"' + model.tokenizer.decode(row.free,
                                                                                         skip_special_tokens=True)
                clues, reason = prompting.parse_answer(text)
            out.append((clues, reason, row))
        return out

    def _prediction(self, prepared: Prepared, clues: dict, row: RowOutput) -> ClipPrediction:
        distribution = {label: float(p) for label, p in zip(self.labels, row.distribution, strict=True)}
        total = sum(distribution.values())
        distribution = {k: round(v / total, 6) for k, v in distribution.items()}
        return ClipPrediction(clip_name=prepared.clip.name, clip_id=prepared.clip.clip_id, clues=clues,
                              emotion=self.labels[row.label_index], distribution=distribution,
                              uncertainty=round(normalised_entropy(distribution), 6),
                              language=prompting.clip_language(prepared.clip), model_version=self.model_version)

    def run_batch(self, prepared: list[Prepared]) -> list[ClipPrediction | Exception]:
        model = self.model
        with model.lock:
            self.activate()
            with torch.inference_mode(), model.adapter_scope():
                return self._run_batch(prepared)

    def _run_batch(self, prepared: list[Prepared]) -> list[ClipPrediction | Exception]:
        model = self.model
        modal = model.encode(prepared)
        self.stats["media_tokens"] += sum(v.shape[0] for row in modal for v in row.values())
        constrained = self.settings.emotion_llm_constrained
        first = self._decode(prepared, modal, sample=False, constrained=constrained)
        out: list[ClipPrediction | Exception | None] = [None] * len(prepared)
        again = []
        for i, (clues, reason, row) in enumerate(first):
            if clues is not None:
                out[i] = self._prediction(prepared[i], clues, row)
            else:
                again.append((i, reason))
        if again:
            self.stats["retried"] += len(again)
            second = self._decode([prepared[i] for i, _ in again], [modal[i] for i, _ in again], sample=True,
                                  constrained=constrained)
            for (i, reason), (clues, reason2, row) in zip(again, second, strict=True):
                if clues is not None:
                    out[i] = self._prediction(prepared[i], clues, row)
                else:
                    self.stats["failed"] += 1
                    out[i] = MalformedAnswer(f"{prepared[i].clip.name}: the model's answer was malformed twice: "
                                             f"{reason}; retried: {reason2}")
        self.stats["clips"] += len(prepared)
        return out  # type: ignore[return-value]

    # --- many clips --------------------------------------------------------------------------------------

    def order(self, clips: list[ClipInput]) -> list[int]:
        """Clip indices by prompt length (text part), so each batch pads little."""
        lengths = []
        for clip in clips:
            text = prompting.instruction(clip, self.labels, vision=False, audio=False)
            lengths.append(len(prompting.encode(self.model.tokenizer, text)))
        return sorted(range(len(clips)), key=lambda i: lengths[i])

    def predict_batches(self, clips: list[ClipInput]) -> Iterator[list[tuple[int, ClipPrediction | Exception]]]:
        """(index into `clips`, prediction or error) per batch, as each batch finishes."""
        if not clips:
            return
        with self.model.lock:
            self.media = self.activate()
        order = self.order(clips)
        if self.settings.emotion_llm_static_cache:  # the longest prompt comes last; size the cache for it now
            longest = self._prepare_one(clips[order[-1]])
            if isinstance(longest, Prepared):
                with self.model.lock:  # the cache is the model's: another job's batch may be decoding with it
                    self.engine.reserve(len(longest.ids), self.settings.emotion_llm_max_new_tokens,
                                        constrained=self.settings.emotion_llm_constrained)
        size = self.settings.emotion_llm_batch_size
        batches = [order[i:i + size] for i in range(0, len(order), size)]
        # Media are read and preprocessed on the CPU, clip by clip in several threads (image and audio
        # work releases the GIL), one batch ahead of the device: at large batches this, not decoding, is
        # what bounds a GPU.
        workers = self.settings.emotion_llm_prepare_workers
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm-prepare") as pool:
            pending = [pool.submit(self._prepare_one, clips[i]) for i in batches[0]]
            for n, batch in enumerate(batches):
                prepared = [future.result() for future in pending]
                if n + 1 < len(batches):  # the next batch's media load while this one runs
                    pending = [pool.submit(self._prepare_one, clips[i]) for i in batches[n + 1]]
                good = [(i, p) for i, p in zip(batch, prepared, strict=True) if isinstance(p, Prepared)]
                results: list[tuple[int, Any]] = [(i, p) for i, p in zip(batch, prepared, strict=True)
                                                  if not isinstance(p, Prepared)]
                if good:
                    predicted = self.run_batch([p for _, p in good])
                    results += [(i, r) for (i, _), r in zip(good, predicted, strict=True)]
                yield results

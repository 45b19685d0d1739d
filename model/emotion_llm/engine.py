"""Batched scoring and decoding over prompt embeddings: one prefill, then single-token steps.

The prefill carries the prompt *and* every label's tokens (each label attends to the prompt
and its own earlier tokens, through a 4-D mask), so the emotion distribution costs no extra
forward pass. The label block is then dropped from the KV cache and decoding continues from
the prompt. Constrained decoding feeds the JSON skeleton itself and lets the model write only
the four clue strings; free decoding lets it write the rest of the JSON. A dynamic KV cache
by default; a static one (and torch.compile of the decode step) where a GPU makes them pay.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from model.emotion_llm.prompting import AnswerTokens

FIELDS = 4
# Static cache lengths are multiples of this. Every decode step reads the whole static cache, so it is kept
# short; a job sizes its cache once (Engine.reserve), so a small bucket costs no extra compiles.
STATIC_BUCKET = 32


@dataclass
class RowOutput:
    distribution: list[float]
    label_index: int
    fields: list[list[int]] = field(default_factory=list)  # constrained: clue tokens per aspect
    free: list[int] = field(default_factory=list)  # free: tokens after the label's closing quote
    steps: int = 0


@dataclass
class PromptBatch:
    """Left-padded prompt embeddings of one batch."""

    embeds: torch.Tensor  # (B, P, H)
    mask: torch.Tensor  # (B, P) bool
    lengths: list[int]


def assemble(ids: list[list[int]], modal: list[dict[int, torch.Tensor]], embed: Callable[[torch.Tensor], torch.Tensor],
             *, pad_id: int, device: torch.device, left: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(embeds, mask, ids) of padded rows, each row's placeholder ids replaced by its encoder features.

    A placeholder id < 0 (composition) or a real image-token id (multimodal checkpoints) marks where
    features go; each row's features for that id are consumed in order.
    """
    width = max(len(row) for row in ids)
    table = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.bool)
    for i, row in enumerate(ids):
        span = slice(width - len(row), width) if left else slice(0, len(row))
        table[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = True
    table, mask = table.to(device), mask.to(device)
    embeds = embed(table.clamp(min=0))
    slots = sorted({slot for row in modal for slot in row})
    for slot in slots:
        where = (table == slot) & mask
        parts = [row[slot] for row in modal if slot in row]
        if not parts:
            continue
        feats = torch.cat(parts).to(device=embeds.device, dtype=embeds.dtype)
        if int(where.sum()) != feats.shape[0]:
            raise ValueError(f"{int(where.sum())} placeholder tokens for {feats.shape[0]} feature vectors")
        embeds = embeds.masked_scatter(where.unsqueeze(-1), feats)
    return embeds, mask, table


class DecodeState:
    """What a static-cache (and compiled) decode keeps between batches and between predict jobs of one loaded model.

    One static KV cache, reused while it is big enough and grown (never shrunk) when a batch needs
    more, so a compiled step sees the same buffers and shapes batch after batch; and the compiled
    step itself, for the LM it was compiled for. Kept on the loaded model: a new Predictor (a new
    job) reuses both, where a cache per Predictor left the old buffers and graphs in device memory.
    """

    def __init__(self) -> None:
        self.cache: Any = None
        self.shape: tuple[int, int] | None = None  # (rows, length) of `cache`
        self.allocations = 0
        self.step: Any = None
        self.step_lm: Any = None
        self.compiles = 0
        self.compile_backend: Any = None  # torch.compile's default (inductor) unless set (tests count graphs)

    def cache_for(self, text_config: Any, rows: int, length: int, device: torch.device) -> tuple[Any, int]:
        """A reset static cache of `rows` rows holding at least `length` positions, and its length."""
        from transformers import StaticCache

        if self.shape is not None and self.shape[0] == rows and self.shape[1] >= length:
            self.cache.reset()
            return self.cache, self.shape[1]
        if self.shape is not None and self.shape[0] == rows:
            length = max(length, self.shape[1])
        self.cache = self.shape = None  # free the old buffers before the new ones are made
        if device.type == "cuda":
            torch.cuda.empty_cache()
        self.cache = StaticCache(config=text_config, max_cache_len=length)
        self.shape = (rows, length)
        self.allocations += 1
        return self.cache, length

    def step_for(self, lm: Any, *, compile_decode: bool, device: torch.device) -> Any:
        """The decode step of `lm`: its forward, compiled once per LM when asked."""
        if not compile_decode:
            return lm.forward
        if self.step is None or self.step_lm is not lm:
            options: dict[str, Any] = {"dynamic": False}
            if self.compile_backend is not None:
                options["backend"] = self.compile_backend
            else:
                options["mode"] = "reduce-overhead" if device.type == "cuda" else "default"
            self.step, self.step_lm = torch.compile(lm.forward, **options), lm
            self.compiles += 1
        return self.step


class Engine:
    """Scores labels and decodes answers for batches of prompt embeddings with one causal LM.

    With a static cache every batch is padded to `rows` rows (rows of no prompt, finished from the
    start), so a compiled step sees one shape; the static cache and the compiled step live in
    `state`, shared by every Engine of the same loaded model.
    """

    def __init__(self, lm: Any, *, text_config: Any, answer: AnswerTokens, pad_id: int, ban: torch.Tensor,
                 device: torch.device, static_cache: bool = False, compile_decode: bool = False,
                 rows: int = 1, state: DecodeState | None = None) -> None:
        self.lm = lm
        self.text_config = text_config
        self.answer = answer
        self.pad_id = pad_id
        self.ban = ban.to(device)  # (V,) tokens a clue may not contain (quotes, special tokens)
        self.device = device
        self.static_cache = static_cache
        self.compile_decode = compile_decode and static_cache
        self.rows = max(1, rows)
        self.state = state or DecodeState()

    # --- the label block -------------------------------------------------------------------------

    def _label_block(self) -> tuple[list[int], list[int], list[tuple[int, list[int]]]]:
        """Tokens fed after the prompt, their offsets, and per label (start in the block, scored tokens).

        A label is scored on its first token(s): as many as tell it apart from every other label
        (its whole tokens and the closing quote when it is a prefix of another). All but the last
        scored token are fed; the last one's probability is read from the step before.
        """
        tokens: list[int] = []
        offsets: list[int] = []
        spans: list[tuple[int, list[int]]] = []
        for scored in distinguishing_prefixes(self.answer):
            spans.append((len(tokens), scored))
            tokens += scored[:-1]
            offsets += list(range(len(scored) - 1))
        return tokens, offsets, spans

    def score_prefill(self, batch: PromptBatch, cache: Any, kv_length: int) -> torch.Tensor:
        """Label log-probabilities (B, n_labels) from one forward pass over prompt + label block; fills the cache."""
        block, offsets, spans = self._label_block()
        b, p = batch.mask.shape
        n = p + len(block)
        lengths = batch.mask.sum(1)
        positions = torch.empty((b, n), dtype=torch.long, device=self.device)
        positions[:, :p] = (batch.mask.cumsum(1) - 1).clamp(min=0)
        if block:
            positions[:, p:] = lengths[:, None] + torch.tensor(offsets, device=self.device)[None]
        allowed = torch.zeros((b, 1, n, kv_length), dtype=torch.bool, device=self.device)
        causal = torch.tril(torch.ones((p, p), dtype=torch.bool, device=self.device))
        allowed[:, 0, :p, :p] = causal[None] & batch.mask[:, None, :]
        for start, full in spans:
            for j in range(len(full) - 1):
                row = p + start + j
                allowed[:, 0, row, :p] = batch.mask
                allowed[:, 0, row, p + start:row + 1] = True
        # Every query sees at least itself, so padding rows stay finite.
        idx = torch.arange(n, device=self.device)
        allowed[:, 0, idx, idx] = True
        embeds = batch.embeds
        if block:
            embeds = torch.cat([embeds, self.lm.get_input_embeddings()(
                torch.tensor(block, device=self.device)).unsqueeze(0).expand(b, -1, -1).to(embeds.dtype)], 1)
        # Logits only where they are read: the prompt's last position and the label block.
        out = self.lm(inputs_embeds=embeds, attention_mask=allowed, position_ids=positions, past_key_values=cache,
                      use_cache=True, logits_to_keep=len(block) + 1)
        logprobs = torch.log_softmax(out.logits.float(), -1)  # positions p-1 .. p+len(block)-1
        scores = torch.zeros((b, len(spans)), device=self.device)
        for k, (start, full) in enumerate(spans):
            scores[:, k] = logprobs[:, 0, full[0]]
            for j in range(1, len(full)):
                scores[:, k] += logprobs[:, start + j, full[j]]
        return scores

    @staticmethod
    def _rewind(cache: Any, length: int) -> None:
        """Drop everything after `length` (the label block) from the cache."""
        for layer in cache.layers:
            if hasattr(layer, "max_cache_len"):  # static: later writes overwrite from `length` on
                layer.cumulative_length.fill_(length)
            else:
                extra = layer.get_seq_length() - length
                if extra > 0:
                    layer.crop(-extra)

    # --- decoding ------------------------------------------------------------------------------------

    def max_steps(self, max_new_tokens: int, *, constrained: bool) -> int:
        """Decode steps a row can take. Constrained: the label, its quote and the skeleton are fed, and each of
        the four fields writes at most its budget then one closing step; free: the answer's token limit."""
        answer = self.answer
        limit = max_new_tokens + sum(len(s) for s in answer.skeleton) + 8
        if not constrained:
            return limit
        bound = (max(len(ids) for ids in answer.label_ids) + sum(len(s) for s in answer.skeleton)
                 + FIELDS * (answer.field_budget(max_new_tokens) + 1))
        return min(limit, bound)

    def static_length(self, prompt_length: int, max_new_tokens: int, *, constrained: bool) -> int:
        """Static cache positions for a prompt: its label block or its answer, rounded up to a bucket."""
        answer = max(len(self._label_block()[0]), self.max_steps(max_new_tokens, constrained=constrained))
        return -(-(prompt_length + answer) // STATIC_BUCKET) * STATIC_BUCKET

    def reserve(self, prompt_length: int, max_new_tokens: int, *, constrained: bool) -> None:
        """Make the static cache big enough for a job's longest prompt before its first batch: batches come
        shortest first, and growing the cache midway costs a new compile (and graph) of the decode step."""
        if self.static_cache:
            with torch.inference_mode():  # the cache's tensors are inference tensors, reset in place
                self.state.cache_for(self.text_config, self.rows,
                                     self.static_length(prompt_length, max_new_tokens, constrained=constrained),
                                     self.device)

    def run(self, batch: PromptBatch, *, constrained: bool, max_new_tokens: int, sample: bool = False,
            temperature: float = 0.8, seed: int = 0, fixed_shape: bool = True) -> list[RowOutput]:
        """Each row's label distribution and answer. `fixed_shape=False` (a retry of a few rows) takes the
        dynamic cache and the plain forward, so an odd batch size costs no new cache or compilation."""
        real = batch.mask.shape[0]
        static = self.static_cache and fixed_shape
        if static and real < self.rows:
            batch = pad_rows(batch, self.rows)
        b, p = batch.mask.shape
        answer = self.answer
        block_len = len(self._label_block()[0])
        kv_length = p + block_len
        if static:
            cache, kv_length = self.state.cache_for(
                self.text_config, b, self.static_length(p, max_new_tokens, constrained=constrained), self.device)
        else:
            from transformers import DynamicCache

            cache = DynamicCache(config=self.text_config)
        scores = self.score_prefill(batch, cache, kv_length)
        distribution = torch.softmax(scores, -1)
        best = distribution.argmax(-1).tolist()
        self._rewind(cache, p)

        budget = answer.field_budget(max_new_tokens)
        forced = [deque(answer.forced_after_label(k) if constrained else [*answer.label_ids[k], answer.close_id])
                  for k in best]
        outputs = [RowOutput(distribution=d, label_index=k, fields=[[] for _ in range(FIELDS)] if constrained else [])
                   for d, k in zip(distribution.tolist(), best, strict=True)]
        field_no = [0] * b
        done = [i >= real for i in range(b)]  # padding rows are finished before they start
        feed = [forced[i].popleft() if i < real else self.pad_id for i in range(b)]
        lengths = batch.mask.sum(1)
        generator = torch.Generator(device=self.device).manual_seed(seed) if sample else None
        closers = torch.tensor([answer.close_id, *answer.eos_ids], device=self.device)
        if static:
            attention = torch.zeros((b, kv_length), dtype=torch.bool, device=self.device)
            attention[:, :p] = batch.mask
        else:
            attention = batch.mask
        step_fn = self.state.step_for(self.lm, compile_decode=self.compile_decode,
                                      device=self.device) if static else self.lm.forward
        for step in range(self.max_steps(max_new_tokens, constrained=constrained)):
            if all(done):
                break
            if static:
                attention[:, p + step] = True
            else:
                attention = torch.cat([attention, torch.ones((b, 1), dtype=torch.bool, device=self.device)], 1)
            ids = torch.tensor(feed, device=self.device)[:, None]
            out = step_fn(input_ids=ids, attention_mask=attention, position_ids=(lengths + step)[:, None],
                          past_key_values=cache, use_cache=True)
            logits = out.logits[:, -1].float()
            if constrained:
                logits = logits.masked_fill(self.ban, float("-inf"))
                starting = torch.tensor([not outputs[i].fields[min(field_no[i], FIELDS - 1)] for i in range(b)],
                                        device=self.device)
                logits[starting.nonzero(as_tuple=True)[0][:, None], closers[None]] = float("-inf")
            if sample:
                choice = torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator)[:, 0]
            else:
                choice = logits.argmax(-1)
            chosen = choice.tolist()
            for i in range(b):
                if done[i]:
                    feed[i] = self.pad_id
                    continue
                outputs[i].steps += 1
                if forced[i]:
                    feed[i] = forced[i].popleft()
                    continue
                token = chosen[i]
                if not constrained:
                    if token in answer.eos_ids or len(outputs[i].free) >= max_new_tokens:
                        done[i] = True
                        feed[i] = self.pad_id
                    else:
                        outputs[i].free.append(token)
                        feed[i] = token
                    continue
                current = outputs[i].fields[field_no[i]]
                if token == answer.close_id or token in answer.eos_ids or len(current) >= budget:
                    field_no[i] += 1
                    if field_no[i] == FIELDS:
                        done[i] = True
                        feed[i] = self.pad_id
                    else:
                        feed[i] = answer.close_id
                        forced[i].extend(answer.skeleton[field_no[i]])
                else:
                    current.append(token)
                    feed[i] = token
        return outputs[:real]


def pad_rows(batch: PromptBatch, rows: int) -> PromptBatch:
    """The batch with rows of no prompt (all masked) appended up to `rows`."""
    b, p, h = batch.embeds.shape
    extra = rows - b
    embeds = torch.cat([batch.embeds, batch.embeds.new_zeros((extra, p, h))])
    mask = torch.cat([batch.mask, batch.mask.new_zeros((extra, p))])
    return PromptBatch(embeds=embeds, mask=mask, lengths=[*batch.lengths, *([0] * extra)])


def distinguishing_prefixes(answer: AnswerTokens) -> list[list[int]]:
    """Each label's shortest token prefix that no other label shares."""
    full = [[*ids, answer.close_id] for ids in answer.label_ids]
    out = []
    for i, ids in enumerate(full):
        others = [other for j, other in enumerate(full) if j != i]
        for k in range(1, len(ids) + 1):
            if not any(other[:k] == ids[:k] for other in others):
                out.append(ids[:k])
                break
        else:
            out.append(ids)  # two labels with the same tokens: the label set repeats a word
    return out


def ban_mask(tokenizer: Any, vocab_size: int, *, keep: set[int]) -> torch.Tensor:
    """Tokens a clue may not contain: any with a double quote, and special tokens (but `keep`)."""
    ban = torch.zeros(vocab_size, dtype=torch.bool)
    pieces = tokenizer.convert_ids_to_tokens(list(range(min(vocab_size, len(tokenizer)))))
    for i, piece in enumerate(pieces):
        if piece is not None and '"' in piece:
            ban[i] = True
    for special in getattr(tokenizer, "all_special_ids", []) or []:
        if 0 <= special < vocab_size:
            ban[special] = True
    ban[len(tokenizer):] = True  # padding rows of a resized embedding
    for token in keep:
        if 0 <= token < vocab_size:
            ban[token] = False
    return ban

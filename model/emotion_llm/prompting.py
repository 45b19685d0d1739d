"""The prompt (instruction, transcript, measured evidence, label set) and the JSON answer it asks for.

The answer is `{"emotion": "<label>", "facial": "...", "vocal": "...", "verbal": "...", "scene": "..."}`
with the emotion first, so its distribution is read from the prompt's own forward pass. Training
targets and constrained decoding build the answer from the same token pieces (label, closing
quote, the skeleton between fields, clue text), so what the model learns is what decoding feeds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from annotation.text import detect_language
from core.vocabulary import ASPECTS, Aspect
from model.base import ClipInput

PROMPT_VERSION = "1"
RESPONSE_PREFIX = '{"emotion": "'
# Placeholder ids in a prompt's token list where encoder features go (composition mode).
VISION_SLOT = -1
AUDIO_SLOT = -2
_MARKERS = {"\x00vision\x00": VISION_SLOT, "\x00audio\x00": AUDIO_SLOT}
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese (简体中文)"}


def clip_language(clip: ClipInput) -> str:
    if clip.language and clip.language != "auto":
        return clip.language.split("-")[0].split("_")[0].lower()
    said = transcript_of(clip)
    return detect_language(said) if said.strip() else "en"


def transcript_of(clip: ClipInput) -> str:
    return clip.transcript or ((clip.features.get("speech") or {}).get("text") or "")


def evidence_of(clip: ClipInput, language: str) -> dict[Aspect, str]:
    """The baseline's measured clue sentences from the clip's cached features (none without features)."""
    from model.baseline.clues import measured_clues

    features = {k: v for k, v in clip.features.items() if isinstance(v, dict)}
    if not features:
        return {}
    speech = features.get("speech") or {}
    if clip.transcript and not (speech.get("text") or "").strip():  # the given transcript is what was said
        features["speech"] = {**speech, "text": clip.transcript}
    return measured_clues(features, language)[0]


def sanitise(text: str) -> str:
    """Clue text as a JSON string body with no escapes: quotes, backslashes and newlines replaced."""
    return " ".join(str(text).replace('"', "'").replace("\\", "/").split())


def instruction(clip: ClipInput, labels: list[str], *, vision: bool, audio: bool, image_marker: str | None = None,
                frames: int = 0) -> str:
    """The user message; `\\x00vision\\x00` / `\\x00audio\\x00` (or `image_marker` per frame) mark where media go."""
    language = clip_language(clip)
    lines = ["You explain why the person in a video clip feels what they feel."]
    if vision:
        media = (image_marker * frames) if image_marker else "\x00vision\x00"
        lines.append(f"Video frames: {media}")
    if audio:
        lines.append("Audio: \x00audio\x00")
    said = transcript_of(clip).strip()
    lines.append(f"Transcript: \"{sanitise(said)}\"" if said else "Transcript: (nothing is said)")
    evidence = evidence_of(clip, language)
    if evidence:
        lines.append("Measured evidence:")
        lines += [f"- {aspect.title}: {sanitise(evidence[aspect])}" for aspect in ASPECTS if aspect in evidence]
    keys = ", ".join(f'"{a.value}": "..."' for a in ASPECTS)
    lines.append(f"Answer with JSON only: {{\"emotion\": \"...\", {keys}}}. The emotion is one of: "
                 f"{', '.join(labels)}. Each clue says what the {', '.join(a.title.lower() for a in ASPECTS)} "
                 f"show about the emotion. Write the clues in {LANGUAGE_NAMES.get(language, language)}.")
    return "\n".join(lines)


def render(tokenizer: Any, user: str) -> str:
    """The user message in the tokenizer's chat template (a plain USER/ASSISTANT frame without one), then the prefix."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                             add_generation_prompt=True)
    else:
        text = f"USER: {user}\nASSISTANT: "
    return text + RESPONSE_PREFIX


def encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False))


def prompt_ids(tokenizer: Any, text: str, *, vision_tokens: int = 0, audio_tokens: int = 0) -> list[int]:
    """Token ids of a rendered prompt, media markers replaced by that many placeholder ids."""
    ids: list[int] = []
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is not None and not getattr(tokenizer, "chat_template", None):
        ids.append(int(bos))
    pieces = [text]
    for marker in _MARKERS:
        pieces = [part for piece in pieces for part in _split_keep(piece, marker)]
    counts = {VISION_SLOT: vision_tokens, AUDIO_SLOT: audio_tokens}
    for piece in pieces:
        if piece in _MARKERS:
            ids += [_MARKERS[piece]] * counts[_MARKERS[piece]]
        elif piece:
            ids += encode(tokenizer, piece)
    return ids


def _split_keep(text: str, marker: str) -> list[str]:
    parts = text.split(marker)
    out: list[str] = []
    for i, part in enumerate(parts):
        if i:
            out.append(marker)
        out.append(part)
    return out


@dataclass
class AnswerTokens:
    """The token pieces every answer is made of, shared by scoring, decoding and training."""

    labels: list[str]
    label_ids: list[list[int]]  # each label's tokens, without the closing quote
    close_id: int  # the lone `"` token that ends a string value
    skeleton: list[list[int]]  # `, "facial": "` ... one per aspect, in ASPECTS order
    end_ids: list[int]  # `}` then end-of-sequence
    eos_ids: set[int]

    @classmethod
    def build(cls, tokenizer: Any, labels: list[str]) -> AnswerTokens:
        close = tokenizer.convert_tokens_to_ids('"')
        if close is None or close == getattr(tokenizer, "unk_token_id", None):
            close_ids = encode(tokenizer, '"')
            if len(close_ids) != 1:
                raise ValueError('the tokenizer has no single token for \'"\'; the JSON answer cannot be decoded')
            close = close_ids[0]
        label_ids = [encode(tokenizer, label) for label in labels]
        if any(not ids for ids in label_ids):
            raise ValueError("a label encodes to no tokens")
        eos = getattr(tokenizer, "eos_token_id", None)
        eos_ids = {int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None}
        end = encode(tokenizer, "}") + ([min(eos_ids)] if eos_ids else [])
        skeleton = [encode(tokenizer, f', "{aspect.value}": "') for aspect in ASPECTS]
        return cls(labels=list(labels), label_ids=label_ids, close_id=int(close), skeleton=skeleton, end_ids=end,
                   eos_ids=eos_ids)

    def forced_after_label(self, label_index: int) -> list[int]:
        """Tokens fed once the emotion is chosen: the label, its closing quote, the first field's opening."""
        return [*self.label_ids[label_index], self.close_id, *self.skeleton[0]]

    def field_budget(self, max_new_tokens: int) -> int:
        forced = max(len(ids) for ids in self.label_ids) + 4 + sum(len(s) for s in self.skeleton)
        return max(4, (max_new_tokens - forced) // len(ASPECTS))

    def target(self, tokenizer: Any, label: str, clues: dict[str, str], *, field_budget: int) -> list[int]:
        """The answer's token ids after the prompt: what training teaches and decoding reproduces."""
        index = self.labels.index(label)
        ids = [*self.label_ids[index], self.close_id]
        for aspect, skeleton in zip(ASPECTS, self.skeleton, strict=True):
            ids += skeleton + encode(tokenizer, sanitise(clues.get(aspect.value, "")))[:field_budget] + [self.close_id]
        return ids + self.end_ids


def parse_answer(text: str) -> tuple[dict[Aspect, str] | None, str | None]:
    """The four clues from a free-form answer, or why it is malformed."""
    start = text.find("{")
    if start < 0:
        return None, "no JSON object in the answer"
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as error:
        return None, f"malformed JSON ({error.msg} at char {error.pos})"
    return check_clues({a: value.get(a.value) for a in ASPECTS} if isinstance(value, dict) else {})


def check_clues(clues: dict[Aspect, Any]) -> tuple[dict[Aspect, str] | None, str | None]:
    missing = [a.value for a in ASPECTS if not isinstance(clues.get(a), str) or not clues[a].strip()]
    if missing:
        return None, f"empty or missing clues: {', '.join(missing)}"
    return {a: clues[a].strip() for a in ASPECTS}, None

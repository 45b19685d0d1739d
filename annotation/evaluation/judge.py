"""EMER's LLM judge: clue overlap and label overlap on a 0-10 scale.

Two steps per output, as in EMER: first the LLM extracts and summarises the
emotion-related clues (or the emotional states) from the reference and from
the prediction; then it scores their overlap from 0 to 10 given one worked
example ("raised brows, smile" vs "raised brows" = 5; "happy" vs "happy" = 10).
The score is the mean of K samples, each the first number in the reply.
Replies are cached on disk by prompt, so re-scoring costs nothing. A third
prompt lists which modalities (audio, visual, content) a reasoning uses.
Works with any OpenAI-compatible endpoint (`OPENAI_BASE_URL`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from annotation.llm_client import ChatClient, LLMError
from core.settings import get_settings

EXTRACT_CLUES = (
    "Please act as an expert in the field of emotions. Below is a description of a person in a video. "
    "Extract and summarise every clue in it that relates to the person's emotional state: facial expressions, "
    "body movements, tone and intonation of the voice, what is said, and the scene. Output only the clues, "
    "separated by commas.\n\nDescription: {text}"
)
EXTRACT_EMOTIONS = (
    "Please act as an expert in the field of emotions. Below is a description of a person in a video. "
    "Identify the emotional state(s) of the person. Output only the emotion words, separated by commas; "
    "output an empty line if none can be identified.\n\nDescription: {text}"
)
SCORE_OVERLAP = (
    "Please act as an expert in the field of emotions. We provide the reference {kind} and the predicted {kind} "
    "of a person in a video. Score how much the predicted {kind} overlap with the reference {kind}, on a scale "
    "from 0 (no overlap) to 10 (complete overlap). Output only the score.\n\n"
    "Examples:\nReference clues: raised brows, smile\nPredicted clues: raised brows\nScore: 5\n"
    "Reference emotions: happy\nPredicted emotions: happy\nScore: 10\n\n"
    "Reference {kind}: {reference}\nPredicted {kind}: {prediction}\nScore:"
)
COUNT_MODALITIES = (
    "Please act as an expert in the field of emotions. Which modalities does the following reasoning use to "
    "infer the emotion: audio, visual, content (what is said)? Output only the modalities it uses, separated by "
    "commas.\n\nReasoning: {text}"
)
MODALITIES = ("audio", "visual", "content")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class JudgeError(RuntimeError):
    """The endpoint failed or gave no usable score."""


def first_number(reply: str) -> float | None:
    """The first number in a reply, clipped to 0..10; None when there is none."""
    match = _NUMBER.search(reply or "")
    if not match:
        return None
    return min(10.0, max(0.0, float(match.group())))


class EmerJudge:
    """Two-step EMER judge over an OpenAI-compatible chat endpoint."""

    def __init__(self, *, base_url: str, api_key: str | None = None, model: str | None = None, samples: int = 3,
                 temperature: float = 0.7, cache_dir: Path | None = None, http_client: Any = None) -> None:
        if samples < 1:
            raise ValueError("samples must be at least 1")
        # The judge model is a setting (CLUELAB_LLM_JUDGE_MODEL) unless named here.
        self.model, self.samples, self.temperature = model or get_settings().llm_judge_model, samples, temperature
        self.cache_dir = cache_dir or get_settings().data_dir / "judge_cache"
        # The same chat client as pre-annotation: retries with backoff, clear errors, token counts.
        self._endpoint = {"base_url": base_url, "api_key": api_key, "model": self.model, "max_retries": 1,
                          "http_client": http_client}

    @classmethod
    def from_settings(cls, **kwargs) -> EmerJudge | None:
        """A judge on the configured endpoint, or None when no endpoint is set."""
        settings = get_settings()
        if not settings.openai_base_url:
            return None
        return cls(base_url=settings.openai_base_url, api_key=settings.openai_api_key, **kwargs)

    def _cache_path(self, prompt: str, sample: int, temperature: float) -> Path:
        key = json.dumps([self.model, prompt, sample, temperature], ensure_ascii=False)
        return self.cache_dir / (hashlib.sha256(key.encode("utf-8")).hexdigest() + ".json")

    def complete(self, prompt: str, *, sample: int = 0, temperature: float = 0.0) -> str:
        path = self._cache_path(prompt, sample, temperature)
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))["reply"]
        try:
            reply = asyncio.run(self._ask(prompt, temperature)).strip()
        except LLMError as error:
            raise JudgeError(f"judge endpoint failed: {error}") from error
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"reply": reply}, ensure_ascii=False), encoding="utf-8")
        return reply

    async def _ask(self, prompt: str, temperature: float) -> str:
        client = ChatClient(**self._endpoint)
        try:
            reply = await client.chat([{"role": "user", "content": prompt}], temperature=temperature, step="judge")
        finally:
            if self._endpoint["http_client"] is None:  # a caller's own HTTP client stays open for its next call
                await client.close()
        return reply.contents[0] if reply.contents else ""

    def extract(self, text: str, *, kind: str) -> str:
        template = EXTRACT_CLUES if kind == "clues" else EXTRACT_EMOTIONS
        return self.complete(template.format(text=text))

    def score(self, reference: str, prediction: str, *, kind: str) -> float:
        prompt = SCORE_OVERLAP.format(kind=kind, reference=reference, prediction=prediction)
        scores = [first_number(self.complete(prompt, sample=i, temperature=self.temperature))
                  for i in range(self.samples)]
        usable = [s for s in scores if s is not None]
        if not usable:
            raise JudgeError(f"no score in {self.samples} replies")
        return sum(usable) / len(usable)

    def clue_overlap(self, reference: str, prediction: str) -> float:
        """EMER clue overlap, 0-10."""
        return self.score(self.extract(reference, kind="clues"), self.extract(prediction, kind="clues"), kind="clues")

    def label_overlap(self, reference: str, prediction: str) -> float:
        """EMER label overlap, 0-10."""
        return self.score(self.extract(reference, kind="emotions"), self.extract(prediction, kind="emotions"),
                          kind="emotions")

    def modalities(self, text: str) -> set[str]:
        reply = self.complete(COUNT_MODALITIES.format(text=text)).lower()
        return {m for m in MODALITIES if m in reply}

"""The EMER judge's two-step prompt flow against a mock OpenAI-compatible endpoint."""

from __future__ import annotations

import json

import httpx2 as httpx  # the HTTP client the openai package is built on
import pytest

from annotation.evaluation.judge import EmerJudge, JudgeError, first_number
from core.settings import get_settings


def _reply(text: str) -> httpx.Response:
    return httpx.Response(200, json={
        "id": "x", "object": "chat.completion", "created": 0, "model": "judge",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    })


class FakeEndpoint:
    """Answers extraction prompts with fixed clue lists and scoring prompts with a sequence of replies."""

    def __init__(self, score_replies: list[str]) -> None:
        self.score_replies = list(score_replies)
        self.prompts: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/chat/completions")
        prompt = json.loads(request.content)["messages"][0]["content"]
        self.prompts.append(prompt)
        if prompt.startswith("Please act as an expert") and "Description:" in prompt:
            if "He raises his brows and smiles" in prompt:
                return _reply("raised brows, smile")
            if "emotional state(s)" in prompt:
                return _reply("happy")
            return _reply("raised brows")
        assert "Score:" in prompt and "raised brows, smile" in prompt
        return _reply(self.score_replies.pop(0))


@pytest.fixture
def endpoint_and_judge(tmp_path):
    def make(replies: list[str], samples: int = 3) -> tuple[FakeEndpoint, EmerJudge]:
        fake = FakeEndpoint(replies)
        client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        return fake, EmerJudge(base_url="http://judge.test/v1", model="judge", samples=samples,
                               cache_dir=tmp_path / "cache", http_client=client)
    return make


def test_two_steps_then_mean_of_k_samples(endpoint_and_judge):
    fake, judge = endpoint_and_judge(["5", "Score: 7 out of 10", "no idea"])
    score = judge.clue_overlap("He raises his brows and smiles.", "He raises his brows.")
    assert score == 6.0  # (5 + 7) / 2; the reply without a number is skipped
    extract_prompts = [p for p in fake.prompts if "Description:" in p]
    assert len(extract_prompts) == 2
    scoring = [p for p in fake.prompts if "Score:" in p]
    assert len(scoring) == 3
    assert "Reference clues: raised brows, smile\nPredicted clues: raised brows\nScore: 5" in scoring[0]
    assert scoring[0].rstrip().endswith("Reference clues: raised brows, smile\nPredicted clues: raised brows\nScore:")


def test_replies_are_cached_on_disk(endpoint_and_judge):
    fake, judge = endpoint_and_judge(["5", "5", "5"])
    judge.clue_overlap("He raises his brows and smiles.", "He raises his brows.")
    calls = len(fake.prompts)
    assert judge.clue_overlap("He raises his brows and smiles.", "He raises his brows.") == 5.0
    assert len(fake.prompts) == calls


def test_no_number_in_any_sample_is_an_error(endpoint_and_judge):
    _, judge = endpoint_and_judge(["n/a"], samples=1)
    with pytest.raises(JudgeError, match="no score"):
        judge.clue_overlap("He raises his brows and smiles.", "He raises his brows.")


def test_endpoint_failure_is_reported(tmp_path):
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500, json={"error": "down"})))
    judge = EmerJudge(base_url="http://judge.test/v1", samples=1, cache_dir=tmp_path, http_client=client)
    with pytest.raises(JudgeError, match="judge endpoint failed"):
        judge.complete("hello")


def test_first_number_and_settings(monkeypatch):
    assert first_number("I'd say 8.5/10") == 8.5
    assert first_number("score 15") == 10.0
    assert first_number("none") is None
    assert EmerJudge.from_settings() is None
    monkeypatch.setenv("OPENAI_BASE_URL", "http://judge.test/v1")
    get_settings.cache_clear()
    assert EmerJudge.from_settings(samples=2).samples == 2

"""An OpenAI-compatible chat client for pre-annotation: bounded concurrency, retries, token usage and cost.

Built on the official SDK's `AsyncOpenAI` with `max_retries=0`: retries are ours, because
- a request waiting out its backoff gives its concurrency slot back, so other clips keep the server
  busy (the SDK sleeps inside the call, while the caller still holds its slot);
- a dead endpoint (connection refused) is retried a bounded number of times and then stops the whole
  run with one clear message, instead of every clip failing on its own;
- attempts and retries are counted per run, so a job can report them with the tokens it spent.
Retried: 408/409/425/429, 5xx, timeouts and connection errors. Backoff is exponential from
`BACKOFF_BASE_S` with jitter (a random 50-100 % of the step), capped at `BACKOFF_CAP_S`; a server's
Retry-After header is honoured up to `RETRY_AFTER_CAP_S`. 400/401/403/404 are never retried.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from core.settings import Settings

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 20.0
RETRY_AFTER_CAP_S = 60.0
RETRY_STATUS = frozenset({408, 409, 425, 429})  # and every 5xx


class LLMError(RuntimeError):
    """A call to the LLM endpoint failed. A `fatal` error stops the whole run: every clip would fail alike."""

    fatal = False


class EndpointUnreachable(LLMError):
    fatal = True


class AuthenticationFailed(LLMError):
    fatal = True


class ModelNotFound(LLMError):
    fatal = True


class EndpointMisconfigured(LLMError):
    fatal = True


class RequestFailed(LLMError):
    """The server refused this request (400), or kept failing it (429/5xx) through every retry."""


class RequestTimedOut(RequestFailed):
    pass


class MalformedOutput(LLMError):
    """The model's reply did not fit the JSON schema, even after one repair request."""


@dataclass
class Usage:
    """What one run sent: requests, attempts, retries, tokens; cost when prices are set."""

    requests: int = 0
    attempts: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    by_step: dict[str, int] = field(default_factory=dict)

    def cost(self, price_in_per_1k: float | None, price_out_per_1k: float | None) -> float | None:
        if price_in_per_1k is None and price_out_per_1k is None:
            return None
        return round(self.prompt_tokens / 1000 * (price_in_per_1k or 0.0)
                     + self.completion_tokens / 1000 * (price_out_per_1k or 0.0), 6)

    def summary(self, settings: Settings | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"requests": self.requests, "attempts": self.attempts, "retries": self.retries,
                               "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                               "requests_by_step": dict(self.by_step)}
        if settings is not None:
            out["cost"] = self.cost(settings.llm_price_in_per_1k, settings.llm_price_out_per_1k)
        return out


@dataclass
class Reply:
    """One chat completion: the text of each choice and why each stopped."""

    contents: list[str]
    finish_reasons: list[str | None]


def _server_message(error: Exception) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)
    return str(body or getattr(error, "message", "") or error)


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number `attempt` (0-based): the server's Retry-After, else jittered exponential."""
    if retry_after is not None and 0 < retry_after <= RETRY_AFTER_CAP_S:
        return retry_after
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt) * random.uniform(0.5, 1.0)


def _retry_after(error: Exception) -> float | None:
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class ChatClient:
    """Chat completions against one endpoint and model, at most `max_concurrency` in flight.

    Build and use it inside one running event loop; `close()` it there.
    """

    def __init__(self, *, base_url: str | None, api_key: str | None, model: str, max_concurrency: int = 8,
                 timeout_s: float = 120.0, max_retries: int = 4, usage: Usage | None = None,
                 http_client: Any = None) -> None:
        from openai import AsyncOpenAI

        if not base_url and not api_key:
            raise EndpointMisconfigured(
                "the openai backend needs OPENAI_BASE_URL (an OpenAI-compatible server such as vLLM: "
                "http://localhost:8000/v1) or OPENAI_API_KEY for api.openai.com")
        self.model, self.max_retries, self.timeout_s = model, max_retries, timeout_s
        self._client = AsyncOpenAI(base_url=base_url or None, api_key=api_key or "not-needed", max_retries=0,
                                   timeout=timeout_s, http_client=http_client)
        self.base_url = str(self._client.base_url).rstrip("/")
        self._slots = asyncio.Semaphore(max_concurrency)
        self.usage = usage if usage is not None else Usage()
        self.in_flight = 0
        self.max_in_flight = 0

    @classmethod
    def from_settings(cls, settings: Settings, *, usage: Usage | None = None, model: str | None = None,
                      http_client: Any = None) -> ChatClient:
        return cls(base_url=settings.openai_base_url, api_key=settings.openai_api_key,
                   model=model or settings.llm_model, max_concurrency=settings.llm_max_concurrency,
                   timeout_s=settings.llm_timeout_s, max_retries=settings.llm_max_retries, usage=usage,
                   http_client=http_client)

    async def close(self) -> None:
        await self._client.close()

    async def chat(self, messages: list[dict[str, Any]], *, n: int = 1, temperature: float = 0.0,
                   response_format: dict[str, Any] | None = None, max_tokens: int | None = None,
                   clip: str = "", step: str = "") -> Reply:
        """One chat completion with `n` choices; retried as the module docstring says."""
        from openai import (
            APIConnectionError,
            APIStatusError,
            APITimeoutError,
            AuthenticationError,
            BadRequestError,
            NotFoundError,
            PermissionDeniedError,
        )
        from openai.types.chat import ChatCompletion

        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature}
        if n > 1:
            body["n"] = n
        if response_format is not None:
            body["response_format"] = response_format
        if max_tokens is not None:
            body["max_completion_tokens"] = max_tokens
        # Names the clip and step for server logs and proxies; OpenAI-compatible servers ignore unknown headers.
        headers = {"X-ClueLab-Clip": quote(clip, safe=""), "X-ClueLab-Step": step}
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            retry_after = None
            async with self._slots:
                self.usage.attempts += 1
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    # The SDK's own `post` to the chat-completions route, as `chat.completions.create` does, but
                    # without its walk of every message part against the typed params: that walk cost ~12 ms a
                    # request for four frames, more than building the prompt (the body is already plain JSON).
                    response = await self._client.post("/chat/completions", cast_to=ChatCompletion, body=body,
                                                       options={"headers": headers})
                except AuthenticationError as error:
                    raise AuthenticationFailed(
                        f"{self.base_url} refused the API key (401: {_server_message(error)}); "
                        "set OPENAI_API_KEY to the key the server expects (vLLM: its --api-key)") from error
                except PermissionDeniedError as error:
                    raise AuthenticationFailed(
                        f"{self.base_url} refused access (403: {_server_message(error)}); check OPENAI_API_KEY "
                        f"and that the key may use model {self.model!r}") from error
                except NotFoundError as error:
                    raise await self._not_found(error) from error
                except BadRequestError as error:
                    raise RequestFailed(f"{self.base_url} refused the request (400): {_server_message(error)}") \
                        from error
                except APITimeoutError as error:
                    last = error
                except APIConnectionError as error:
                    last = error
                except APIStatusError as error:
                    if error.status_code not in RETRY_STATUS and error.status_code < 500:
                        raise RequestFailed(f"{self.base_url} answered {error.status_code}: "
                                            f"{_server_message(error)}") from error
                    last, retry_after = error, _retry_after(error)
                else:
                    self._count(response, step)
                    return Reply(contents=[(c.message.content or "") for c in response.choices],
                                 finish_reasons=[c.finish_reason for c in response.choices])
                finally:
                    self.in_flight -= 1
            if attempt < self.max_retries:
                self.usage.retries += 1
                await asyncio.sleep(backoff_delay(attempt, retry_after))
        raise self._gave_up(last)

    def _count(self, response: Any, step: str) -> None:
        self.usage.requests += 1
        self.usage.by_step[step] = self.usage.by_step.get(step, 0) + 1
        usage = getattr(response, "usage", None)
        if usage is not None:
            self.usage.prompt_tokens += int(usage.prompt_tokens or 0)
            self.usage.completion_tokens += int(usage.completion_tokens or 0)

    def _gave_up(self, error: Exception | None) -> LLMError:
        from openai import APIConnectionError, APIStatusError, APITimeoutError

        tries = self.max_retries + 1
        if isinstance(error, APITimeoutError):
            return RequestTimedOut(f"no answer from {self.base_url} within {self.timeout_s:g} s, {tries} attempts "
                                   "(CLUELAB_LLM_TIMEOUT)")
        if isinstance(error, APIConnectionError):
            cause = error.__cause__ or error
            return EndpointUnreachable(
                f"cannot reach the LLM endpoint at {self.base_url} ({type(cause).__name__}: {cause}) after {tries} "
                "attempts; is the server (vLLM, SGLang) running, and is OPENAI_BASE_URL right?")
        if isinstance(error, APIStatusError):
            return RequestFailed(f"{self.base_url} answered {error.status_code} ({_server_message(error)}) "
                                 f"to all {tries} attempts")
        return RequestFailed(f"{self.base_url}: gave up after {tries} attempts: {error}")

    async def served_models(self) -> list[str] | None:
        """The model ids the endpoint lists, or None when it lists none (no /models route)."""
        try:
            page = await self._client.models.list()
        except Exception:  # noqa: BLE001 — only used to word an error better
            return None
        return [m.id for m in page.data]

    async def _not_found(self, error: Exception) -> LLMError:
        served = await self.served_models()
        if served is None:
            return ModelNotFound(
                f"{self.base_url} answered 404 to chat/completions and lists no models ({_server_message(error)}); "
                "is OPENAI_BASE_URL the API root? For vLLM and SGLang it ends in /v1")
        if self.model not in served:
            return ModelNotFound(
                f"model {self.model!r} is not served at {self.base_url} (404); it serves: "
                f"{', '.join(served) or 'nothing'}. Set CLUELAB_LLM_MODEL to one of them")
        return ModelNotFound(f"{self.base_url} answered 404 for model {self.model!r}: {_server_message(error)}")


def check_endpoint(settings: Settings, *, http_client: Any = None) -> str:
    """One short request to the configured endpoint; a line saying it answers, or LLMError saying why not."""

    async def ask() -> str:
        client = ChatClient.from_settings(settings, http_client=http_client)
        try:
            served = await client.served_models()
            if served is not None and settings.llm_model not in served:
                raise ModelNotFound(f"{client.base_url} does not serve {settings.llm_model!r}; it serves: "
                                    f"{', '.join(served) or 'nothing'} (set CLUELAB_LLM_MODEL)")
            await client.chat([{"role": "user", "content": "Reply with OK."}], max_tokens=2, step="check")
            return f"{client.base_url} answers as {settings.llm_model}"
        finally:
            if http_client is None:
                await client.close()

    return asyncio.run(ask())

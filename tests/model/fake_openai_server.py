"""A real local HTTP server that speaks the chat-completions API with scripted answers.

The openai SDK talks to it over TCP exactly as it would to vLLM or OpenAI: bearer-key check (401),
unknown model (404, like vLLM), `n` choices, `usage`, GET /models. Every request is recorded with
the clip and step the client names in its X-ClueLab-* headers. Replies are scripted per (clip, step)
or per step: an HTTP status with Retry-After, a delay (for timeouts), fixed contents, or default
answers built for the requested language and emotions. `in_flight`/`max_in_flight` count concurrency.

Run it alone (the bench does, in its own process): `python -m tests.model.fake_openai_server --delay 0.4`
prints `PORT <n>`; GET /stats and POST /reset read and clear its counters.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

ASPECTS = ("facial", "vocal", "verbal", "scene")


@dataclass
class Reply:
    """One scripted answer. `contents` are the choices' texts (default: built answers, one per asked `n`)."""

    status: int = 200
    contents: list[str] | None = None
    emotions: list[str] | None = None
    delay: float = 0.0
    message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)
    # For verification answers: aspect -> reason for each clue to call contradicted.
    contradict: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    clip: str
    step: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 0

    @property
    def schema(self) -> str:
        return ((self.body.get("response_format") or {}).get("json_schema") or {}).get("name", "")

    def parts(self, kind: str) -> list[dict[str, Any]]:
        """Content parts of one type ("text", "image_url", "input_audio") over all messages."""
        out = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, list):
                out += [p for p in content if p.get("type") == kind]
        return out

    @property
    def text(self) -> str:
        texts = [m["content"] for m in self.body.get("messages", []) if isinstance(m.get("content"), str)]
        return "\n".join(texts + [p["text"] for p in self.parts("text")])


def annotation_json(*, emotion: str, language: str = "en", clip: str = "", variant: int = 0,
                    words: list[str] | None = None) -> str:
    """A valid answer for one clip, in English or Chinese; `variant` changes the wording a little."""
    if language == "zh":
        clues = {"facial": f"嘴角上扬（AU12 0.80），0.5 秒起{'，脸颊上提' if variant % 2 else ''}。",
                 "vocal": "音高升高，语速较快。", "verbal": "说自己今天很开心。", "scene": "明亮的室内。"}
    else:
        clues = {"facial": f"Lip corners pulled up (AU12 0.80) from 0.5 s{', cheeks raised' if variant % 2 else ''}.",
                 "vocal": f"Pitch rises {20 + variant} % above the speaker's median.",
                 "verbal": f"Says the day went well ({clip}).", "scene": "A bright room, one person in view."}
    return json.dumps({"clues": clues, "emotion": emotion, "emotion_words": words or [emotion, "relieved"],
                       "spans": [{"aspect": "facial", "start": 0.5, "end": 1.5, "label": "AU12"}]},
                      ensure_ascii=False)


def verification_json(contradict: dict[str, str] | None = None) -> str:
    contradict = contradict or {}
    return json.dumps({a: {"consistent": a not in contradict, "supports_emotion": a not in contradict,
                           "reason": contradict.get(a, "matches the measurements")} for a in ASPECTS})


class FakeOpenAIServer:
    def __init__(self, *, api_key: str | None = "sk-test", models: tuple[str, ...] = ("test-model",),
                 delay: float = 0.0, prompt_tokens: int = 100, completion_tokens: int = 20,
                 keep_bodies: bool = True) -> None:
        self.api_key, self.models, self.delay, self.keep_bodies = api_key, models, delay, keep_bodies
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.default_emotion = "happy"
        self.on_request = None  # callable(Recorded), run before answering
        self._scripts: dict[tuple[str | None, str | None], deque[Reply]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle --------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- scripting and reading -----------------------------------------------------------------------

    def script(self, *replies: Reply, clip: str | None = None, step: str | None = None) -> None:
        """Queue replies for a clip and/or step (None matches any); once used up, defaults answer."""
        with self._lock:
            self._scripts.setdefault((clip, step), deque()).extend(replies)

    def seen(self, *, clip: str | None = None, step: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if (clip is None or r.clip == clip) and (step is None or r.step == step)]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = self.in_flight

    def _next_reply(self, clip: str, step: str) -> Reply:
        with self._lock:
            for key in ((clip, step), (None, step), (clip, None), (None, None)):
                queued = self._scripts.get(key)
                if queued:
                    return queued.popleft()
        return Reply()

    def _answer(self, record: Recorded, reply: Reply) -> tuple[int, dict[str, Any], dict[str, str]]:
        body = record.body
        if reply.status != 200:
            return reply.status, {"error": {"message": reply.message, "type": "server_error", "code": reply.status}}, \
                reply.headers
        n = int(body.get("n") or 1)
        if reply.contents is not None:
            contents = list(reply.contents)
        elif record.schema == "clue_verification":
            contents = [verification_json(reply.contradict)]
        else:
            language = "zh" if "Simplified Chinese" in record.text else "en"
            emotions = reply.emotions or [self.default_emotion] * n
            contents = [annotation_json(emotion=e, language=language, clip=record.clip, variant=i)
                        for i, e in enumerate(emotions[:n])]
        choices = [{"index": i, "message": {"role": "assistant", "content": c}, "finish_reason": "stop",
                    "logprobs": None} for i, c in enumerate(contents)]
        usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens * len(choices),
                 "total_tokens": self.prompt_tokens + self.completion_tokens * len(choices)}
        return 200, {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
                     "model": body.get("model", ""), "choices": choices, "usage": usage}, reply.headers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    self.close_connection = True

            def _authorised(self) -> bool:
                if server.api_key is None or self.headers.get("Authorization") == f"Bearer {server.api_key}":
                    return True
                self._send(401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                           "code": "invalid_api_key"}})
                return False

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/") == "/stats":
                    with server._lock:
                        self._send(200, {"requests": len(server.requests), "max_in_flight": server.max_in_flight})
                    return
                if not self._authorised():
                    return
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": m, "object": "model", "created": 0,
                                                                 "owned_by": "fake"} for m in server.models]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.rstrip("/") == "/reset":
                    server.reset()
                    self._send(200, {})
                    return
                if not self._authorised():
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                body = json.loads(raw or b"{}")
                if body.get("model") not in server.models:
                    self._send(404, {"object": "error", "message": f"The model `{body.get('model')}` does not exist.",
                                     "type": "NotFoundError", "param": None, "code": 404})
                    return
                record = Recorded(clip=unquote(self.headers.get("X-ClueLab-Clip", "")),
                                  step=self.headers.get("X-ClueLab-Step", ""), body=body,
                                  headers={k.lower(): v for k, v in self.headers.items()})
                with server._lock:
                    server.requests.append(record)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    if server.on_request is not None:
                        server.on_request(record)
                    reply = server._next_reply(record.clip, record.step)
                    if server.delay or reply.delay:
                        time.sleep(server.delay + reply.delay)
                    status, payload, headers = server._answer(record, reply)
                    record.status = status
                    if not server.keep_bodies:  # a long bench keeps counts, not megabytes of images
                        record.body = {}
                    self._send(status, payload, headers)
                finally:
                    with server._lock:
                        server.in_flight -= 1

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible chat server for tests and benches.")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--model", default="test-model")
    parser.add_argument("--api-key", default="sk-test")
    args = parser.parse_args()
    server = FakeOpenAIServer(api_key=args.api_key, models=(args.model,), delay=args.delay, keep_bodies=False)
    print(f"PORT {server.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server._server.serve_forever()


if __name__ == "__main__":
    main()

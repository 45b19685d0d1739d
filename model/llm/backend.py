"""The `openai` backend: LLM pre-annotation through any OpenAI-compatible server, with SEKE self-verification.

Per clip: K samples at temperature > 0 (one request with `n=K` where the server supports it) give the
emotion distribution as vote shares and the uncertainty as its normalised entropy; the clues come
from the sample that agrees with the majority emotion and is the medoid of those samples by sentence
embedding; a text-only verification request then asks, per clue, whether the measurements contradict
it and whether it supports the emotion, and contradicted clues are flagged on the prediction.
Open-vocabulary words are those at least half the samples named.

Clips run concurrently on one event loop in a worker thread (`predict_as_completed` yields each as it
finishes, so the caller can store it at once); at most `CLUELAB_LLM_MAX_CONCURRENCY` requests are in
flight. The measured evidence is the baseline's: this backend extracts and caches the same features.

Training stores no weights: a version is the prompt version plus exemplars, the consensus of the
snapshot's training clips (never held-out ones) with their embeddings; at predict time the most
similar ones go into the prompt as worked examples.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from annotation.llm_client import ChatClient, LLMError, MalformedOutput, RequestFailed, Usage
from annotation.text import detect_language
from core.vocabulary import DEFAULT_LABEL_SET, LABEL_SETS, Aspect
from model.base import (
    ClipInput,
    ClipPrediction,
    ModelBackend,
    TrainedArtifacts,
    TrainingSnapshot,
    normalised_entropy,
)
from model.llm.prompt import (
    MAX_OUTPUT_TOKENS,
    PROMPT_VERSION,
    ClipPrompt,
    Exemplar,
    LLMAnnotation,
    annotation_format,
    clip_prompt,
    evidence_lines,
    parse_annotation,
    parse_verification,
    repair_messages,
    verification_format,
    verification_messages,
)

PROMPT_WORKERS = 4  # threads that read frames and encode JPEGs while requests are in flight


class ClipsFailed(RuntimeError):
    """`predict` could not annotate every clip; `failures` maps clip name to its error."""

    def __init__(self, failures: dict[str, Exception]):
        self.failures = failures
        first = next(iter(failures.items()))
        super().__init__(f"{len(failures)} clip(s) failed; {first[0]}: {type(first[1]).__name__}: {first[1]}")


@dataclass
class _Prepared:
    """One clip, ready to prompt: its features, language, transcript and worked examples."""

    clip: ClipInput
    features: dict[str, dict[str, Any]]
    language: str
    transcript: str
    exemplars: list[Exemplar] = field(default_factory=list)


def retrieval_text(transcript: str, evidence: list[str]) -> str:
    """What a clip is embedded as, to find similar consensus clips: what is said, then what was measured."""
    return "\n".join([transcript.strip(), *evidence]).strip()


def _short_language(language: str | None) -> str:
    return (language or "en").split("-")[0].split("_")[0].lower()


class _LoopThread(threading.Thread):
    """Runs one coroutine on its own event loop; `stop()` cancels it and waits."""

    def __init__(self, make: Callable[[], Any]) -> None:
        super().__init__(daemon=True, name="llm-predict")
        self._make = make
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    def run(self) -> None:
        async def main() -> None:
            self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
            self._ready.set()
            await self._make()

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass
        finally:
            self._ready.set()

    def stop(self) -> None:
        self._ready.wait()
        if self.is_alive() and self._loop is not None and self._task is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._task.cancel)
        self.join()


class _EmbeddingBatcher:
    """Sentence embeddings for many clips in one call: clips that finish while a batch is being embedded
    share the next one (per text, a batch costs about half of a call per clip)."""

    max_batch = 256

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self._executor = executor
        self._pending: list[tuple[list[str], asyncio.Future]] = []
        self._draining = False
        self.seconds = 0.0  # spent embedding, and on how many texts
        self.texts = 0

    async def embed(self, texts: list[str]) -> np.ndarray:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((texts, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        from annotation.embeddings import embed

        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                await asyncio.sleep(0)  # clips finishing in this same turn of the loop join the batch
                batch, taken = [], 0
                while self._pending and taken < self.max_batch:
                    batch.append(self._pending.pop(0))
                    taken += len(batch[-1][0])
                texts = [t for group, _ in batch for t in group]
                started = time.perf_counter()
                try:
                    vectors = await loop.run_in_executor(self._executor, embed, texts)
                except Exception as error:  # noqa: BLE001 — handed to every waiting clip
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                self.seconds += time.perf_counter() - started
                self.texts += len(texts)
                start = 0
                for group, future in batch:
                    if not future.done():
                        future.set_result(vectors[start:start + len(group)])
                    start += len(group)
        finally:
            self._draining = False


class _Fatal:
    """Stops the whole run: an error every clip would meet (endpoint down, wrong key), or a bug."""

    def __init__(self, error: Exception) -> None:
        self.error = error


_DONE = object()  # the run's last message: nothing more will come


class OpenAIBackend(ModelBackend):
    name = "openai"

    def __init__(self, settings, **kwargs) -> None:  # noqa: ANN001
        super().__init__(settings, **kwargs)
        self.usage = Usage()
        self.prompt_seconds: list[float] = []  # per clip, for the bench
        self.max_in_flight = 0
        self.embedding = {"seconds": 0.0, "texts": 0}  # medoid embeddings of K samples

    # --- configuration ----------------------------------------------------------------------

    @property
    def samples(self) -> int:
        return self.settings.llm_samples

    @property
    def temperature(self) -> float:
        if self.settings.llm_temperature is not None:
            return self.settings.llm_temperature
        return 0.7 if self.samples > 1 else 0.0

    @property
    def chunk_size(self) -> int:
        """Clips per predict call when a dataset is predicted: enough to keep every request slot busy."""
        return max(8, 4 * self.settings.llm_max_concurrency)

    @cached_property
    def _config(self) -> dict[str, Any]:
        path = self.artifacts_path / "config.json" if self.artifacts_path else None
        return json.loads(path.read_text()) if path and path.is_file() else {}

    @cached_property
    def _labels(self) -> list[str]:
        if self.label_set:
            return list(self.label_set)
        return list(self._config.get("label_set") or LABEL_SETS[DEFAULT_LABEL_SET])

    @cached_property
    def _baseline(self):  # noqa: ANN202 — the baseline measures the evidence
        from model.baseline.backend import BaselineBackend

        return BaselineBackend(self.settings, label_set=self._labels)

    @cached_property
    def _exemplars(self) -> tuple[list[Exemplar], np.ndarray]:
        if not self.artifacts_path or not (self.artifacts_path / "exemplars.json").is_file():
            return [], np.zeros((0, 0), np.float32)
        rows = json.loads((self.artifacts_path / "exemplars.json").read_text(encoding="utf-8"))
        return [Exemplar(**row) for row in rows], np.load(self.artifacts_path / "exemplars.npy")

    def close(self) -> None:
        if "_baseline" in self.__dict__:
            self._baseline.close()

    # --- features: the baseline's, cached under its versions -----------------------------------------

    def feature_versions(self) -> dict[str, str]:
        from model.baseline.backend import EXTRACTOR_VERSIONS

        return dict(EXTRACTOR_VERSIONS) if self.settings.llm_evidence else {}

    def extract_many(self, clips: list[ClipInput]) -> list[dict[str, dict[str, Any]] | Exception]:
        if not self.settings.llm_evidence:
            return [{} for _ in clips]
        return self._baseline.extract_many(clips)

    def extract_features(self, clip: ClipInput) -> dict[str, dict[str, Any]]:
        result = self.extract_many([clip])[0]
        if isinstance(result, Exception):
            raise result
        return result

    # --- predict ----------------------------------------------------------------------------------

    def predict(self, clips: list[ClipInput]) -> list[ClipPrediction]:
        out: list[ClipPrediction | None] = [None] * len(clips)
        failures: dict[str, Exception] = {}
        for index, result in self.predict_as_completed(clips):
            if isinstance(result, Exception):
                failures[clips[index].name] = result
            else:
                out[index] = result
        if failures:
            raise ClipsFailed(failures)
        return [p for p in out if p is not None]

    def predict_as_completed(self, clips: list[ClipInput]) -> Iterator[tuple[int, ClipPrediction | Exception]]:
        clips = list(clips)
        todo: list[tuple[int, _Prepared]] = []
        for index, prepared in enumerate(self._prepare(clips)):
            if isinstance(prepared, Exception):
                yield index, prepared
            else:
                todo.append((index, prepared))
        if not todo:
            return
        results: queue.Queue = queue.Queue()
        runner = _LoopThread(lambda: self._run(todo, results.put))
        runner.start()
        try:
            for _ in range(len(todo)):
                item = results.get()
                if isinstance(item, _Fatal):
                    raise item.error
                if item is _DONE:
                    raise RuntimeError("the LLM run ended before every clip had a result")
                yield item
        finally:
            runner.stop()

    def _prepare(self, clips: list[ClipInput]) -> list[_Prepared | Exception]:
        """Features (extracted where not cached), language, transcript and worked examples per clip."""
        versions = self.feature_versions()
        missing = [i for i, c in enumerate(clips)
                   if versions and not all((c.features.get(k) or {}).get("version") == v for k, v in versions.items())]
        extracted = dict(zip(missing, self.extract_many([clips[i] for i in missing]), strict=False)) if missing else {}
        out: list[_Prepared | Exception] = []
        for i, clip in enumerate(clips):
            features = extracted.get(i, clip.features)
            if isinstance(features, Exception):
                out.append(features)
                continue
            if clip.speaker_baseline:
                features = {**features, "speaker": clip.speaker_baseline}
            said = clip.transcript or (features.get("speech") or {}).get("text") or ""
            if clip.language and clip.language != "auto":
                language = clip.language
            else:  # what is said decides; else what ASR heard
                language = detect_language(said) if said.strip() else (features.get("speech") or {}).get("language")
            out.append(_Prepared(clip=clip, features=features, language=_short_language(language), transcript=said))
        self._attach_exemplars([p for p in out if isinstance(p, _Prepared)])
        return out

    def _attach_exemplars(self, prepared: list[_Prepared]) -> None:
        exemplars, vectors = self._exemplars
        k = self.settings.llm_exemplars
        if not exemplars or not k or not prepared:
            return
        from annotation.embeddings import embed

        queries = embed([retrieval_text(p.transcript, evidence_lines(p.features)) for p in prepared])
        similarity = queries @ vectors.T
        for p, row in zip(prepared, similarity, strict=False):
            ranked = [exemplars[j] for j in np.argsort(-row, kind="stable")]
            # A training clip predicted again never sees its own consensus.
            p.exemplars = [e for e in ranked if e.clip_id != p.clip.clip_id][:k]

    async def _run(self, todo: list[tuple[int, _Prepared]], put: Callable[[Any], None]) -> None:
        """Every clip's (index, result) through `put`; a `_Fatal` stops the run; `_DONE` comes last."""
        try:
            await self._run_clips(todo, put)
        except Exception as error:  # noqa: BLE001 — not one clip's failure: the caller raises it
            put(_Fatal(error))
        finally:
            put(_DONE)

    async def _run_clips(self, todo: list[tuple[int, _Prepared]], put: Callable[[Any], None]) -> None:
        client = ChatClient.from_settings(self.settings, usage=self.usage)
        prompts = ThreadPoolExecutor(max_workers=PROMPT_WORKERS, thread_name_prefix="llm-prompt")
        embedder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-embed")
        batcher = _EmbeddingBatcher(embedder)
        # Clips holding a built prompt: twice the request slots keeps the server fed without holding every
        # clip's images in memory at once.
        clip_slots = asyncio.Semaphore(2 * self.settings.llm_max_concurrency)

        async def one(index: int, prepared: _Prepared) -> None:
            async with clip_slots:
                try:
                    result: ClipPrediction | Exception = await self._clip(client, prompts, batcher, prepared)
                except LLMError as error:
                    if error.fatal:
                        raise
                    result = error
                except Exception as error:  # noqa: BLE001 — one clip's failure is reported in its place
                    result = error
            put((index, result))

        try:
            async with asyncio.TaskGroup() as group:  # a fatal error in one clip cancels the others
                for index, prepared in todo:
                    group.create_task(one(index, prepared))
        except* LLMError as errors:
            put(_Fatal(errors.exceptions[0]))
        finally:
            self.max_in_flight = max(self.max_in_flight, client.max_in_flight)
            self.embedding["seconds"] += batcher.seconds
            self.embedding["texts"] += batcher.texts
            await client.close()
            prompts.shutdown(wait=False, cancel_futures=True)
            embedder.shutdown(wait=False, cancel_futures=True)

    async def _clip(self, client: ChatClient, prompts: ThreadPoolExecutor, batcher: _EmbeddingBatcher,
                    p: _Prepared) -> ClipPrediction:
        loop = asyncio.get_running_loop()
        settings = self.settings

        def build() -> tuple[ClipPrompt, float]:
            started = time.perf_counter()
            prompt = clip_prompt(p.clip, labels=self._labels, language=p.language, transcript=p.transcript,
                                 features=p.features, frames=settings.llm_frames, image_size=settings.llm_image_size,
                                 audio=settings.llm_audio, exemplars=p.exemplars)
            return prompt, time.perf_counter() - started

        prompt, seconds = await loop.run_in_executor(prompts, build)
        self.prompt_seconds.append(seconds)
        answers = await self._samples(client, prompt, p.clip)
        emotion, distribution = self._vote(answers)
        agreeing = [a for a in answers if a.emotion == emotion]
        chosen = agreeing[0] if len(agreeing) <= 2 else agreeing[_medoid(await batcher.embed([a.text for a in agreeing]))]
        flags = await self._verify(client, prompt, chosen, p.clip) if settings.llm_verify else {}
        return ClipPrediction(
            clip_name=p.clip.name, clip_id=p.clip.clip_id, clues=chosen.clues, emotion=emotion,
            distribution=distribution, uncertainty=round(normalised_entropy(distribution), 6), spans=chosen.spans,
            language=p.language, model_version=self.model_version, flags=flags,
            emotion_words=_voted_words(answers, chosen))

    async def _samples(self, client: ChatClient, prompt: ClipPrompt, clip: ClipInput) -> list[LLMAnnotation]:
        """K checked answers: `n=K` in one request where allowed (topped up if the server returns fewer)."""
        fmt = annotation_format(self._labels)

        async def ask(n: int) -> list[tuple[str, str | None]]:
            reply = await client.chat(prompt.messages, n=n, temperature=self.temperature, response_format=fmt,
                                      max_tokens=MAX_OUTPUT_TOKENS, clip=clip.name, step="annotate")
            if not reply.contents:
                raise RequestFailed(f"{client.base_url} returned no choices")
            return list(zip(reply.contents, reply.finish_reasons, strict=False))

        replies: list[tuple[str, str | None]] = []
        if self.settings.llm_use_n:
            while len(replies) < self.samples:
                replies += await ask(self.samples - len(replies))
        else:
            for got in await asyncio.gather(*(ask(1) for _ in range(self.samples))):
                replies += got
        parse = lambda text: parse_annotation(text, self._labels, duration=clip.duration)  # noqa: E731
        return list(await asyncio.gather(*(
            self._checked(client, prompt.messages, text, finish, parse, fmt, clip.name)
            for text, finish in replies[:self.samples])))

    async def _checked(self, client: ChatClient, messages: list[dict[str, Any]], text: str, finish: str | None,
                       parse: Callable[[str], Any], fmt: dict[str, Any], clip: str) -> Any:
        """The parsed reply; a malformed one gets one repair request, then the clip fails with the reason."""
        try:
            return parse(text)
        except ValueError as error:
            problem = str(error) + (" (the reply was cut off at the token limit)" if finish == "length" else "")
        reply = await client.chat(repair_messages(messages, text, problem), temperature=self.temperature,
                                  response_format=fmt, max_tokens=MAX_OUTPUT_TOKENS, clip=clip, step="repair")
        try:
            return parse(reply.contents[0] if reply.contents else "")
        except ValueError as error:
            raise MalformedOutput(f"malformed answer, also after one repair request: {error} "
                                  f"(first answer: {problem})") from None

    def _vote(self, answers: list[LLMAnnotation]) -> tuple[str, dict[str, float]]:
        """The majority emotion (ties: the one sampled first) and the vote shares over the label set."""
        votes = Counter(a.emotion for a in answers)
        top = max(votes.values())
        emotion = next(a.emotion for a in answers if votes[a.emotion] == top)
        labels = list(dict.fromkeys([*self._labels, *votes]))
        return emotion, {label: votes.get(label, 0) / len(answers) for label in labels}

    async def _verify(self, client: ChatClient, prompt: ClipPrompt, chosen: LLMAnnotation,
                      clip: ClipInput) -> dict[Aspect, str]:
        messages = verification_messages(prompt, chosen)
        fmt = verification_format()
        reply = await client.chat(messages, temperature=0.0, response_format=fmt, max_tokens=MAX_OUTPUT_TOKENS,
                                  clip=clip.name, step="verify")
        verdicts = await self._checked(client, messages, reply.contents[0] if reply.contents else "",
                                       reply.finish_reasons[0] if reply.finish_reasons else None,
                                       parse_verification, fmt, clip.name)
        return {aspect: (v.reason or "contradicted by the measurements")
                for aspect, v in verdicts.items() if not v.consistent}

    def run_summary(self) -> dict[str, Any]:
        if not self.usage.attempts:
            return {}
        summary = self.usage.summary(self.settings)
        if self.prompt_seconds:
            summary["prompt_ms_median"] = round(1000 * float(np.median(self.prompt_seconds)), 2)
        if self.embedding["texts"]:
            summary["embedding_ms_per_text"] = round(1000 * self.embedding["seconds"] / self.embedding["texts"], 2)
        return {"llm": {"model": self.settings.llm_model, **summary}}

    # --- train --------------------------------------------------------------------------------------

    def train(self, snapshot: TrainingSnapshot) -> TrainedArtifacts:
        """A version: the prompt version plus exemplars from the snapshot's training items (never held out)."""
        from annotation.embeddings import embed

        items = [i for i in snapshot.train if i.emotion]
        if not items:
            raise ValueError("training needs at least one labelled clip in the snapshot's training split")
        labels = list(snapshot.label_set) + sorted({i.emotion for i in items} - set(snapshot.label_set))
        exemplars = []
        for item in items:
            features = {**item.features, "speaker": item.speaker_baseline} if item.speaker_baseline else item.features
            said = (features.get("speech") or {}).get("text") or ""
            language = _short_language(item.language or (detect_language(said) if said.strip() else "en"))
            exemplars.append(Exemplar(clip_id=item.clip_id, clip_name=item.clip_name, language=language,
                                      transcript=said, evidence=evidence_lines(features), emotion=item.emotion,
                                      clues={k: v for k, v in item.clues.items() if v}))
        folder = self.settings.data_dir / "models" / f"{self.name}-{snapshot.content_hash[:10]}-{uuid.uuid4().hex[:6]}"
        folder.mkdir(parents=True, exist_ok=False)
        vectors = embed([retrieval_text(e.transcript, e.evidence) for e in exemplars])
        np.save(folder / "exemplars.npy", vectors)
        (folder / "exemplars.json").write_text(json.dumps([asdict(e) for e in exemplars], ensure_ascii=False),
                                               encoding="utf-8")
        config = {"backend": self.name, "label_set": labels, "prompt_version": PROMPT_VERSION,
                  "llm_model": self.settings.llm_model, "exemplars": len(exemplars),
                  "exemplar_clip_ids": [e.clip_id for e in exemplars]}
        (folder / "config.json").write_text(json.dumps(config, indent=2))
        return TrainedArtifacts(path=folder, config=config, train_metrics={"exemplars": len(exemplars)})

    def describe(self) -> dict[str, Any]:
        exemplars, _ = self._exemplars
        return {
            "backend": self.name,
            "model_version": self.model_version,
            "device": "remote: an OpenAI-compatible endpoint",
            "trained": bool(self.artifacts_path),
            "labels": self._labels,
            "prompt_version": self._config.get("prompt_version", PROMPT_VERSION),
            "exemplars": len(exemplars),
            "llm": self.settings.llm_describe(),
            "models": {
                "annotation": f"{self.settings.llm_model} (samples {self.samples}, temperature {self.temperature:g})",
                "evidence": "the baseline's extractors" if self.settings.llm_evidence else "none",
                "medoid and exemplar retrieval": "multilingual USE v3",
            },
        }


def _medoid(vectors: np.ndarray) -> int:
    """Index of the unit vector most similar, in sum, to the others (the medoid by cosine similarity)."""
    return int(np.argmax((vectors @ vectors.T).sum(axis=1)))


def _voted_words(answers: list[LLMAnnotation], chosen: LLMAnnotation, limit: int = 5) -> list[str]:
    """Words at least half the samples named, most named first; else the chosen sample's own."""
    counts = Counter(w for a in answers for w in dict.fromkeys(a.emotion_words))
    order = {w: n for n, w in enumerate(w for a in answers for w in a.emotion_words)}
    kept = [w for w, c in counts.items() if 2 * c >= len(answers)]
    kept.sort(key=lambda w: (-counts[w], order[w]))
    return (kept or list(dict.fromkeys(chosen.emotion_words)))[:limit]

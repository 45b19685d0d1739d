"""The emotion_llm backend on tiny random checkpoints (CPU): both ways to get a model, scoring and
decoding, training on consensus, clear messages for bad checkpoints, sharded prediction."""

from __future__ import annotations

import random
import shutil

import pytest
import torch

from core.jobs import JobCancelled
from core.settings import get_settings
from core.vocabulary import LABEL_SETS, Aspect
from model.base import ClipInput, TrainingItem, TrainingSnapshot
from model.progress import QuietProgress
from model.registry import make_backend
from tests.model.conftest import LEARNABLE, synthetic_features, use_env
from tests.model.llm_factory import composed_env, llava_env

LABELS = list(LABEL_SETS["mer2023"])


def _clips(media, *, with_media: bool = True) -> list[ClipInput]:
    rng = random.Random(3)
    out = []
    for name, said, language, emotion in (("en", "I am so happy to see you again", "en", "happy"),
                                          ("zh", "我今天真的很生气，你为什么不告诉我", "zh", "angry")):
        files = media[name] if with_media else {}
        out.append(ClipInput(name=name, clip_id=len(out) + 1, video_path=files.get("video"),
                             audio_path=files.get("audio"), frames_dir=files.get("frames"), duration=1.0,
                             transcript=said, language=language, features=synthetic_features(emotion, rng)))
    return out


def _assert_valid(predictions, clips, version):
    assert [p.clip_name for p in predictions] == [c.name for c in clips]
    for p in predictions:
        assert set(p.clues) == set(Aspect) and all(text.strip() for text in p.clues.values())
        assert set(p.distribution) == set(LABELS) and abs(sum(p.distribution.values()) - 1) < 1e-3
        assert p.emotion == max(p.distribution, key=p.distribution.get)
        assert 0.0 <= p.uncertainty <= 1.0 and p.model_version == version
    assert [p.language for p in predictions] == ["en", "zh"]


@pytest.fixture
def composed(tiny_llm, monkeypatch):
    use_env(monkeypatch, composed_env(tiny_llm))
    return tiny_llm


@pytest.fixture
def llava(tiny_llm, monkeypatch):
    use_env(monkeypatch, llava_env(tiny_llm["llava"]))
    return tiny_llm["llava"]


def test_composed_model_predicts_english_and_mandarin_clips(composed, llm_media):
    backend = make_backend("emotion_llm", label_set=LABELS)
    clips = _clips(llm_media)
    predictions = backend.predict(clips)
    _assert_valid(predictions, clips, "emotion_llm-untrained")
    described = backend.describe()
    assert described["mode"] == "composed" and described["problems"] == [] and described["device"] == "cpu"
    assert set(described["models"]) >= {"language model", "vision encoder", "audio encoder", "projectors"}
    # Untrained projectors would feed the LM noise: media stay out of the prompt until they are trained.
    assert backend._predictor.stats["media_tokens"] == 0


def test_multimodal_checkpoint_predicts_with_image_tokens(llava, llm_media):
    backend = make_backend("emotion_llm", label_set=LABELS)
    clips = _clips(llm_media)
    _assert_valid(backend.predict(clips), clips, "emotion_llm-untrained")
    # 2 frames per clip, 16 patch tokens each, filled by one batched get_image_features call.
    assert backend._predictor.stats["media_tokens"] == 2 * 2 * 16
    assert backend.describe()["mode"] == "multimodal"


def test_label_scores_come_from_the_prompt_pass_and_match_separate_passes(composed):
    """The label block rides in the prefill (4-D mask); each label's score equals its own forward pass."""
    from model.emotion_llm.engine import PromptBatch, assemble, distinguishing_prefixes

    backend = make_backend("emotion_llm", label_set=LABELS)
    predictor = backend._predictor
    model, engine = predictor.model, predictor.engine
    clips = _clips({}, with_media=False)
    prepared = [model.prepare(c, LABELS, media=False) for c in clips]
    embeds, mask, _ = assemble([p.ids for p in prepared], [{}, {}], model.embed, pad_id=model.pad_id,
                               device=model.device)
    from transformers import DynamicCache

    with torch.inference_mode():
        cache = DynamicCache(config=engine.text_config)
        scores = engine.score_prefill(PromptBatch(embeds, mask, []), cache, mask.shape[1] +
                                      len(engine._label_block()[0]))
        for row, p in enumerate(prepared):
            for k, scored in enumerate(distinguishing_prefixes(predictor.answer)):
                ids = torch.tensor([p.ids + scored])
                logprobs = torch.log_softmax(model.lm(input_ids=ids).logits[0].float(), -1)
                expected = sum(logprobs[len(p.ids) - 1 + j, t] for j, t in enumerate(scored))
                assert torch.isclose(scores[row, k], expected, atol=1e-4)


def test_batched_decoding_equals_one_clip_at_a_time_with_dynamic_and_static_cache(composed, monkeypatch):
    clips = _clips({}, with_media=False)
    alone = []
    for clip in clips:
        backend = make_backend("emotion_llm", label_set=LABELS)
        alone += backend.predict([clip])
    batched = make_backend("emotion_llm", label_set=LABELS).predict(clips)
    monkeypatch.setenv("CLUELAB_EMOTION_LLM_STATIC_CACHE", "true")
    get_settings.cache_clear()
    static_backend = make_backend("emotion_llm", label_set=LABELS)
    static = static_backend.predict(clips)
    assert static_backend.predict(clips) == static  # the kept static cache is reset between batches
    for a, b, c in zip(alone, batched, static, strict=True):
        assert a.clues == b.clues == c.clues
        assert a.distribution == pytest.approx(b.distribution, abs=1e-4) == c.distribution


def test_a_static_decode_keeps_one_cache_and_one_compiled_step_across_batches_jobs_and_retries(composed, monkeypatch):
    """A compiled decode must see one shape: a short last batch, a second job and a retry of a few rows
    made new caches and recompiles (and left old buffers on the device) before."""
    from model.emotion_llm.runtime import forget_models, load_model

    forget_models()  # a model of its own: the decode state lives on the loaded model
    monkeypatch.setenv("CLUELAB_EMOTION_LLM_STATIC_CACHE", "true")
    monkeypatch.setenv("CLUELAB_EMOTION_LLM_COMPILE", "true")
    monkeypatch.setenv("CLUELAB_EMOTION_LLM_BATCH_SIZE", "2")
    get_settings.cache_clear()
    state = load_model(get_settings()).decode_state
    graphs = []

    def counting_backend(graph, example_inputs):  # Dynamo calls this once per graph it compiles
        graphs.append(graph)
        return graph.forward

    state.compile_backend = counting_backend
    rng = random.Random(5)
    said = ["I am so happy to see you again today", "我今天真的很生气", "That is fine, I suppose, we can go",
            "你为什么不告诉我", "What a wonderful surprise this is"]
    clips = [ClipInput(name=f"c{i}", clip_id=i + 1, duration=1.0, transcript=text, language="zh" if i % 2 else "en",
                       features=synthetic_features(LEARNABLE[i % 3], rng)) for i, text in enumerate(said)]
    # First a job of free answers (the longest a cache needs; from a random model never valid: every row is
    # retried), then constrained jobs on the same model, whose answers fit in the cache already there.
    monkeypatch.setenv("CLUELAB_EMOTION_LLM_CONSTRAINED", "false")
    get_settings.cache_clear()
    retried = make_backend("emotion_llm", label_set=LABELS)
    retried.predict_many(clips[:3])  # batches of 2 and 1
    assert retried._predictor.stats["retried"] == 3
    compiled = len(graphs)
    assert compiled >= 1 and state.compiles == 1 and state.allocations == 1
    monkeypatch.setenv("CLUELAB_EMOTION_LLM_CONSTRAINED", "true")
    get_settings.cache_clear()
    first = make_backend("emotion_llm", label_set=LABELS).predict(clips)  # batches of 2, 2 and 1
    again = make_backend("emotion_llm", label_set=LABELS).predict(clips[::-1])  # a new job on the same model
    assert again[::-1] == first
    assert (len(graphs), state.compiles, state.allocations) == (compiled, 1, 1)

    monkeypatch.setenv("CLUELAB_EMOTION_LLM_CONSTRAINED", "true")
    monkeypatch.setenv("CLUELAB_EMOTION_LLM_STATIC_CACHE", "false")
    get_settings.cache_clear()
    dynamic = make_backend("emotion_llm", label_set=LABELS).predict(clips)
    for a, b in zip(first, dynamic, strict=True):  # padding rows change nothing
        assert a.clues == b.clues and a.emotion == b.emotion
        assert a.distribution == pytest.approx(b.distribution, abs=1e-4)


def test_the_static_cache_holds_the_longest_prompt_and_only_the_steps_an_answer_can_take(composed, monkeypatch):
    """Every decode step reads the whole static cache: it is sized once per job for the longest prompt plus the
    most steps a constrained answer can take (not the free-answer limit), in buckets of 32."""
    from model.emotion_llm.engine import STATIC_BUCKET, PromptBatch, assemble
    from model.emotion_llm.runtime import forget_models

    forget_models()
    monkeypatch.setenv("CLUELAB_EMOTION_LLM_STATIC_CACHE", "true")
    monkeypatch.setenv("CLUELAB_EMOTION_LLM_BATCH_SIZE", "2")
    get_settings.cache_clear()
    settings = get_settings()
    backend = make_backend("emotion_llm", label_set=LABELS)
    clips = _clips({}, with_media=False) * 2
    clips = [c.model_copy(update={"name": f"{c.name}{i}", "clip_id": i + 1, "transcript": c.transcript * (i + 1)})
             for i, c in enumerate(clips)]
    assert len(backend.predict(clips)) == 4
    predictor = backend._predictor
    engine, model = predictor.engine, predictor.model
    steps = engine.max_steps(settings.emotion_llm_max_new_tokens, constrained=True)
    assert steps <= settings.emotion_llm_max_new_tokens
    assert steps < engine.max_steps(settings.emotion_llm_max_new_tokens, constrained=False)
    prepared = [model.prepare(c, LABELS, media=False) for c in clips]
    longest = max(len(p.ids) for p in prepared)
    needed = longest + max(len(engine._label_block()[0]), steps)
    assert model.decode_state.shape == (2, -(-needed // STATIC_BUCKET) * STATIC_BUCKET)
    assert model.decode_state.allocations == 1

    with torch.inference_mode():  # no row needs more steps than the cache was sized for, and every row finishes
        embeds, mask, _ = assemble([p.ids for p in prepared], [{}] * 4, model.embed, pad_id=model.pad_id,
                                   device=model.device)
        rows = engine.run(PromptBatch(embeds, mask, [len(p.ids) for p in prepared]), constrained=True,
                          max_new_tokens=settings.emotion_llm_max_new_tokens, fixed_shape=False)
    assert all(row.steps <= steps and all(row.fields) for row in rows)


def test_two_jobs_in_one_process_share_the_static_cache_without_spoiling_each_other(composed, monkeypatch):
    """The static cache belongs to the loaded model: a job sizing or resetting it must wait for the batch
    another job is decoding with it (the model's lock), so both get what each gets alone."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("CLUELAB_EMOTION_LLM_STATIC_CACHE", "true")
    monkeypatch.setenv("CLUELAB_EMOTION_LLM_BATCH_SIZE", "2")
    get_settings.cache_clear()
    clips = [c.model_copy(update={"name": f"{c.name}{i}", "clip_id": i + 1, "transcript": c.transcript * (1 + i % 3)})
             for i, c in enumerate(_clips({}, with_media=False) * 3)]
    alone = make_backend("emotion_llm", label_set=LABELS).predict(clips)
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda _: make_backend("emotion_llm", label_set=LABELS).predict(clips), range(3)))
    for result in together:
        assert [(p.clip_name, p.clues, p.emotion) for p in result] == [(p.clip_name, p.clues, p.emotion) for p in alone]


@pytest.mark.parametrize("mode", ["composed", "multimodal"])
def test_clips_prepared_in_several_threads_predict_as_in_one(mode, tiny_llm, llm_media, monkeypatch):
    """Media and prompts are prepared in a thread pool a batch ahead; the tokenizer and processors are
    shared by its threads, and nothing may differ from preparing one clip at a time."""
    use_env(monkeypatch, composed_env(tiny_llm) if mode == "composed" else llava_env(tiny_llm["llava"]))
    clips = [clip for _ in range(6) for clip in _clips(llm_media)]
    clips = [clip.model_copy(update={"name": f"{clip.name}{i}", "clip_id": i + 1}) for i, clip in enumerate(clips)]
    results = {}
    for workers in ("1", "6"):
        monkeypatch.setenv("CLUELAB_EMOTION_LLM_PREPARE_WORKERS", workers)
        get_settings.cache_clear()
        results[workers] = make_backend("emotion_llm", label_set=LABELS).predict_many(clips)
    assert not [r for r in results["6"] if isinstance(r, Exception)]
    for one, many in zip(results["1"], results["6"], strict=True):
        assert (one.clip_name, one.clues, one.emotion) == (many.clip_name, many.clues, many.emotion)
        assert one.distribution == pytest.approx(many.distribution, abs=1e-4)


def test_malformed_answers_are_retried_once_then_the_clip_fails_with_the_reason(composed, monkeypatch):
    monkeypatch.setenv("CLUELAB_EMOTION_LLM_CONSTRAINED", "false")  # free JSON from a random model: never valid
    get_settings.cache_clear()
    backend = make_backend("emotion_llm", label_set=LABELS)
    results = backend.predict_many(_clips({}, with_media=False))
    assert all(isinstance(r, ValueError) and "malformed twice" in str(r) for r in results)
    assert str(results[0]).startswith("en: ") and "JSON" in str(results[0])
    assert backend._predictor.stats["retried"] == 2 and backend._predictor.stats["failed"] == 2
    with pytest.raises(ValueError, match="en: the model's answer was malformed twice"):
        backend.predict(_clips({}, with_media=False)[:1])


def _snapshot(media, tag: str) -> tuple[TrainingSnapshot, dict[int, ClipInput]]:
    rng = random.Random(0)
    items, inputs = [], {}
    for i in range(8):
        emotion, language = LEARNABLE[i % 3], ("zh" if i % 2 else "en")
        clues = {"facial": "她皱着眉头，嘴角下垂" if language == "zh" else "She smiles warmly",
                 "scene": "A bright, sunny room." if emotion == "happy" else "A dark, gloomy room."}
        items.append(TrainingItem(clip_id=i + 1, clip_name=f"c{i}", consensus_id=i, emotion=emotion, clues=clues,
                                  language=language, features=synthetic_features(emotion, rng)))
        files = media[language]
        inputs[i + 1] = ClipInput(name=f"c{i}", clip_id=i + 1, video_path=files["video"], audio_path=files["audio"],
                                  frames_dir=files["frames"], duration=1.0, language=language,
                                  transcript="hello there" if language == "en" else "你好")
    return TrainingSnapshot(label_set=LABELS, content_hash=f"{tag}0123456789", train=items[:6],
                            held_out=items[6:]), inputs


@pytest.mark.parametrize("mode", ["composed", "multimodal"])
def test_training_lowers_the_loss_and_the_new_adapter_changes_predictions(mode, tiny_llm, llm_media, monkeypatch):
    use_env(monkeypatch, composed_env(tiny_llm) if mode == "composed" else llava_env(tiny_llm["llava"]))
    snapshot, inputs = _snapshot(llm_media, mode[:4])
    held = [inputs[i.clip_id].model_copy(update={"features": i.features}) for i in snapshot.held_out]
    base = make_backend("emotion_llm", label_set=LABELS)
    before = base.predict(held)
    progress = QuietProgress()
    base.report_to(progress)
    artifacts = base.train(snapshot, inputs=inputs)
    metrics = artifacts.train_metrics
    assert metrics["train_steps"] == 6 and metrics["train_clips"] == 6  # the held-out clips were left out
    assert metrics["train_loss_last"] < metrics["train_loss_first"]
    assert any("training step 6/6, loss" in line for line in progress.lines)
    # A version is its adapter (and projectors), not a copy of the base.
    files = {p.name for p in artifacts.path.rglob("*") if p.is_file()}
    assert {"adapter_model.safetensors", "adapter_config.json", "config.json"} <= files
    assert ("projectors.safetensors" in files) == (mode == "composed")
    assert not {"model.safetensors", "pytorch_model.bin"} & files
    assert sum(p.stat().st_size for p in artifacts.path.rglob("*") if p.is_file()) < 2_000_000
    assert artifacts.config["base"]["mode"] == mode and artifacts.config["label_set"] == LABELS

    trained = make_backend("emotion_llm", artifacts_path=artifacts.path, model_version="emotion_llm-v1")
    after = trained.predict(held)
    assert all(p.model_version == "emotion_llm-v1" for p in after)
    assert any(a.distribution != b.distribution for a, b in zip(before, after, strict=True))
    if mode == "composed":
        assert trained._predictor.stats["media_tokens"] > 0  # trained projectors: frames and audio now count
    # Promotion swaps adapters on the same loaded base: the untrained view is unchanged.
    assert trained._model is base._model
    again = base.predict(held)
    assert [p.distribution for p in again] == [p.distribution for p in before]


def test_training_resumes_from_its_checkpoint_after_a_cancel(composed, llm_media, monkeypatch):
    use_env(monkeypatch, {"CLUELAB_EMOTION_LLM_MAX_STEPS": "4", "CLUELAB_EMOTION_LLM_CHECKPOINT_EVERY": "2"})
    snapshot, inputs = _snapshot(llm_media, "resu")

    class CancelAtStep3(QuietProgress):
        def message(self, text: str) -> None:
            self.last = text

        def check_cancelled(self) -> None:
            if getattr(self, "last", "").startswith("training step 3/"):
                raise JobCancelled("cancelled by request")

    backend = make_backend("emotion_llm", label_set=LABELS)
    backend.report_to(CancelAtStep3())
    with pytest.raises(JobCancelled):
        backend.train(snapshot, inputs=inputs)
    from model.emotion_llm.training import run_dir

    assert (run_dir(get_settings(), snapshot) / "checkpoint.pt").is_file()
    progress = QuietProgress()
    backend.report_to(progress)
    artifacts = backend.train(snapshot, inputs=inputs)
    assert any("resumed from step 2 of 4" in line for line in progress.lines), progress.lines
    assert artifacts.train_metrics["train_steps"] == 4 and len(artifacts.train_metrics["train_loss_curve"]) == 4
    assert not run_dir(get_settings(), snapshot).exists()  # the finished run leaves no checkpoint behind


def test_held_out_clips_are_never_trained_on():
    from model.emotion_llm.training import training_items

    snapshot, _ = _snapshot({"en": {"video": None, "audio": None, "frames": None},
                             "zh": {"video": None, "audio": None, "frames": None}}, "held")
    leaked = snapshot.model_copy(update={"train": snapshot.train + snapshot.held_out[:1]})
    assert {i.clip_id for i in training_items(leaked)} == {i.clip_id for i in snapshot.train}


def test_missing_or_corrupt_checkpoints_are_explained(tiny_llm, monkeypatch, tmp_path):
    from model.emotion_llm.loading import ModelUnavailable

    use_env(monkeypatch, {**composed_env(tiny_llm), "CLUELAB_EMOTION_LLM_LM": str(tmp_path / "nowhere")})
    backend = make_backend("emotion_llm", label_set=LABELS)
    assert backend.describe()["problems"] == [f"language model (CLUELAB_EMOTION_LLM_LM={tmp_path / 'nowhere'}): "
                                              "the folder does not exist"]
    with pytest.raises(ModelUnavailable, match="the folder does not exist"):
        backend.predict(_clips({}, with_media=False))

    broken = tmp_path / "broken-lm"
    shutil.copytree(tiny_llm["lm"], broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    (broken / "config.json").write_text("{not json")
    use_env(monkeypatch, {"CLUELAB_EMOTION_LLM_LM": str(broken)})
    problems = make_backend("emotion_llm").describe()["problems"]
    assert any("config.json is corrupt" in p for p in problems)
    assert any("model.safetensors is corrupt" in p for p in problems)

    use_env(monkeypatch, {"CLUELAB_EMOTION_LLM_LM": ""})
    assert "No emotion-LLM model is configured" in make_backend("emotion_llm").describe()["problems"][0]


# --- sharded prediction: several workers, each clip predicted exactly once ----------------------------


BOTH_DATABASES = pytest.mark.parametrize("app_db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                                         indirect=True)


@BOTH_DATABASES
def test_racing_workers_claim_a_shard_exactly_once(app_db, dataset):
    import threading
    from datetime import timedelta

    from sqlmodel import Session

    from db.engine import write_transaction
    from db.models import utcnow
    from db.queries import model_versions as q
    from db.queries import shards as shard_queries

    with Session(app_db, expire_on_commit=False) as session, write_transaction(session):
        version = q.create_version(session, backend="emotion_llm", name="v", dataset_id=dataset.id)
        shard_queries.create_shards(session, plan="race", dataset_id=dataset.id, version_id=version.id,
                                    groups=[[1, 2], [3]])
    won: list[int] = []
    start = threading.Barrier(6)

    def claim(n: int) -> None:
        start.wait()
        with Session(app_db, expire_on_commit=False) as session, write_transaction(session):
            shard = shard_queries.claim_shard(session, plan="race", worker=f"w{n}",
                                              stale_before=utcnow() - timedelta(minutes=2))
        if shard is not None:
            won.append(shard.position)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [0, 1]  # two shards, two winners, four workers told "none left"


@BOTH_DATABASES
def test_two_workers_share_a_sharded_predict_and_retake_a_dead_workers_shard(tiny_llm, app_db, dataset, lead,
                                                                            monkeypatch):
    import threading
    import time
    import uuid
    from datetime import timedelta

    from sqlmodel import Session, select

    from annotation.jobs import enqueue, get_huey, get_job, run_job_inline
    from core.vocabulary import JobState
    from db.engine import write_transaction
    from db.models import Prediction, utcnow
    from db.queries import predictions as prediction_queries
    from db.queries import shards as shard_queries
    from tests.model.conftest import add_labelled_clips

    use_env(monkeypatch, {**composed_env(tiny_llm), "REDIS_URL": "redis://127.0.0.1:6379",
                          "CLUELAB_QUEUE_NAME": f"cluelab-test-{uuid.uuid4().hex[:10]}"})
    clip_ids = add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=9)
    planned = run_job_inline(enqueue("predict-sharded", params={"dataset_id": dataset.id, "shards": 3, "workers": 2},
                                     user=lead))
    huey = get_huey()
    try:
        assert planned.state == JobState.done.value, planned.error
        plan = planned.result["plan"]
        assert planned.result["shards"] == 3 and len(planned.result["shard_job_ids"]) == 2
        # A worker that died: it took shard 0, saved one clip, and has not beaten for an hour.
        with Session(app_db, expire_on_commit=False) as session, write_transaction(session):
            dead = shard_queries.claim_shard(session, plan=plan, worker="dead-gpu", stale_before=utcnow())
            assert dead.position == 0
            first = dead.clip_ids[0]
            shard_queries.record_chunk(session, shard_id=dead.id, worker="dead-gpu", predicted=[first], failed={})
            prediction_queries.save_prediction(session, clip_id=first, version_id=dead.model_version_id,
                                               clues={"facial": "kept"}, emotion="sad",
                                               distribution={"sad": 1.0}, uncertainty=0.0, spans=[])
            dead.heartbeat_at = utcnow() - timedelta(hours=1)
            session.add(dead)

        stop = threading.Event()

        def worker() -> None:  # one per GPU in production; here two threads taking jobs from Redis
            while not stop.is_set():
                task = huey.dequeue()
                if task is None:
                    time.sleep(0.05)
                    continue
                huey.execute(task)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(
                get_job(j).state not in (JobState.done.value, JobState.failed.value)
                for j in planned.result["shard_job_ids"]):
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        jobs = [get_job(j) for j in planned.result["shard_job_ids"]]
        assert all(j.state == JobState.done.value for j in jobs), [j.error for j in jobs]

        with Session(app_db) as session:
            shards = shard_queries.shards_of_plan(session, plan=plan)
            assert [s.state for s in shards] == ["done"] * 3
            assert shards[0].attempts == 2 and shards[0].worker != "dead-gpu"  # taken again
            predicted = [cid for s in shards for cid in s.predicted_ids]
            assert sorted(predicted) == sorted(clip_ids)  # every clip, each exactly once
            rows = session.exec(select(Prediction).where(Prediction.model_version_id == shards[0].model_version_id))
            by_clip = {r.clip_id: r for r in rows}
            assert set(by_clip) == set(clip_ids)
            assert by_clip[first].clues == {"facial": "kept"}  # the dead worker's clip was not predicted again
        assert sum(j.result["predicted"] for j in jobs) == len(clip_ids) - 1
        assert sum(j.result["shards"] for j in jobs) == 3
    finally:
        huey.flush()


def test_the_command_line_prints_the_launch_command_and_queues_shards(app_db, dataset, tiny_llm, monkeypatch):
    from typer.testing import CliRunner

    from annotation.jobs import list_jobs
    from cluelab.model_cli import console, model_app

    monkeypatch.setattr(console, "width", 300)
    use_env(monkeypatch, {**composed_env(tiny_llm), "CLUELAB_EMOTION_LLM_DEVICE": "auto"})
    runner = CliRunner()
    shown = runner.invoke(model_app, ["train", "synthetic", "--backend", "emotion_llm", "--launcher", "accelerate",
                                      "--processes", "4", "--print-command"])
    assert shown.exit_code == 0, shown.output
    line = " ".join(shown.output.split())
    # On a GPU machine: accelerate launch --multi_gpu; here (no GPU) accelerate would need MPI, so torchrun.
    expected = ("accelerate launch --num_processes 4" if torch.cuda.is_available() else
                "torchrun --standalone --nproc_per_node=4")
    assert line.startswith(expected) and line.endswith("-m model.emotion_llm.launch --dataset synthetic"), line
    torchrun = runner.invoke(model_app, ["train", "synthetic", "--launcher", "torchrun", "--processes", "2",
                                         "--print-command"])
    assert "torchrun --standalone --nproc_per_node=2 -m model.emotion_llm.launch" in " ".join(torchrun.output.split())

    queued = runner.invoke(model_app, ["predict", "synthetic", "--shards", "3"])
    assert queued.exit_code == 0, queued.output
    assert "CUDA_VISIBLE_DEVICES=2 cluelab worker --workers 1" in queued.output
    job = list_jobs(limit=1)[0]
    assert job.kind == "predict-sharded" and job.params["shards"] == 3


@pytest.mark.slow
def test_training_runs_in_two_processes_under_torchrun_and_registers_a_version(app_db, dataset, tiny_llm,
                                                                               monkeypatch):
    """The same entry point under a launcher: rank 0 snapshots and registers, rank 1 trains alongside (DDP, gloo)."""
    import subprocess

    from sqlmodel import Session

    from db.queries import model_versions as q
    from model.emotion_llm.training import ROOT, dataset_command, launch_env
    from tests.model.conftest import add_labelled_clips

    use_env(monkeypatch, {**composed_env(tiny_llm), "OMP_NUM_THREADS": "1"})
    add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=12)
    command = dataset_command(get_settings(), dataset="synthetic", launcher="torchrun", processes=2)
    done = subprocess.run(command, cwd=ROOT, env=launch_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "(2 process(es)" in done.stdout and "training step 6/6" in done.stdout
    with Session(app_db) as session:
        version = q.list_versions(session, dataset_id=dataset.id)[-1]
    assert version.backend == "emotion_llm" and version.metrics["processes"] == 2
    assert (get_settings().data_dir / version.artifacts_path / "adapter" / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_the_train_job_path_launches_processes_and_relays_their_progress(composed, llm_media, monkeypatch):
    use_env(monkeypatch, {"CLUELAB_EMOTION_LLM_LAUNCHER": "torchrun", "CLUELAB_EMOTION_LLM_PROCESSES": "2", "OMP_NUM_THREADS": "1"})
    snapshot, inputs = _snapshot(llm_media, "lnch")
    progress = QuietProgress()
    backend = make_backend("emotion_llm", label_set=LABELS)
    backend.report_to(progress)
    artifacts = backend.train(snapshot, inputs=inputs)
    assert artifacts.train_metrics["processes"] == 2 and artifacts.train_metrics["train_steps"] == 6
    assert any(line.startswith("launching: ") and "torch.distributed.run" in line for line in progress.lines)
    assert any("training step 6/6" in line for line in progress.lines)
    assert (artifacts.path / "projectors.safetensors").is_file()


def test_train_and_predict_jobs_run_the_emotion_llm_through_the_queue(composed, app_db, dataset, lead):
    from sqlmodel import Session

    from annotation.datasets import is_held_out
    from annotation.jobs import enqueue, run_job_inline
    from core.vocabulary import JobState
    from db.queries import predictions as prediction_queries
    from model.jobs import promote_and_repredict
    from tests.model.conftest import add_labelled_clips

    labelled = add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=12)
    unlabelled = add_labelled_clips(app_db, dataset_id=dataset.id, start=100, count=2)
    # Promotion re-predicts the unlabelled clips and the held-out ones (so versions compare on the same clips).
    held_out = {clip_id for n, clip_id in enumerate(labelled) if is_held_out(f"clip-{n:04d}")}
    assert held_out, "the fixture should hold out at least one clip"
    with Session(app_db) as session:
        from sqlmodel import select

        from db.models import Consensus

        for row in session.exec(select(Consensus).where(Consensus.clip_id.in_(unlabelled))).all():
            session.delete(row)
        session.commit()
    trained = run_job_inline(enqueue("train", params={"dataset_id": dataset.id, "backend": "emotion_llm"}, user=lead))
    assert trained.state == JobState.done.value, trained.error
    assert "training step 6/6, loss" in trained.log  # steps and loss reach the job
    # A tiny random model is no better than the untrained start: promoting it needs the confirmation.
    result = promote_and_repredict(version_id=trained.result["model_version_id"], user=lead, confirm=True)
    predicted = run_job_inline(result["repredict_job_id"])
    assert predicted.state == JobState.done.value and predicted.done == 2 + len(held_out), predicted.error
    with Session(app_db) as session:
        assert prediction_queries.predicted_clip_ids(session, version_id=result["model_version_id"]) == \
            set(unlabelled) | held_out

"""The `openai` backend against a real local chat-completions server: the real openai client, real HTTP.

Only the remote endpoint is stand-in (tests/model/fake_openai_server.py); prompts, retries, parsing,
self-verification, storage, resume and retraining run as in production.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
import socket

import cv2
import numpy as np
import pytest
import soundfile as sf
from sqlmodel import Session, select

import model.jobs  # noqa: F401 — registers the model job kinds
from annotation.llm_client import (
    AuthenticationFailed,
    EndpointMisconfigured,
    EndpointUnreachable,
    MalformedOutput,
    ModelNotFound,
    RequestTimedOut,
)
from core.settings import get_settings
from core.vocabulary import LABEL_SETS, Aspect, JobState
from db.models import Clip, ClipFeature, Job, Prediction
from db.queries import predictions as prediction_queries
from model.base import ClipInput, normalised_entropy
from model.llm.backend import ClipsFailed
from model.notes import read_notes, time_spans
from model.registry import make_backend
from tests.model.conftest import add_labelled_clips, drawn_face, synthetic_features
from tests.model.fake_openai_server import Reply, annotation_json

LABELS = list(LABEL_SETS["mer2023"])


def _env(monkeypatch, **values) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, str(value))
    get_settings.cache_clear()


def _clip(name: str = "c0", *, clip_id: int = 1, language: str | None = "en", transcript: str = "",
          emotion: str = "happy", **media) -> ClipInput:
    features = synthetic_features(emotion, random.Random(clip_id))
    return ClipInput(name=name, clip_id=clip_id, features=features, language=language, transcript=transcript,
                     duration=4.0, **media)


def _media(tmp_path, name: str = "m") -> dict:
    """Ingest-like media: eight 640x480 JPEG frames with their times, and a 16 kHz mono WAV."""
    frames = tmp_path / f"{name}-frames"
    frames.mkdir(parents=True)
    for i in range(8):
        cv2.imwrite(str(frames / f"{i:04d}.jpg"), cv2.cvtColor(drawn_face(i / 8), cv2.COLOR_RGB2BGR))
    wav = tmp_path / f"{name}.wav"
    t = np.arange(32000) / 16000
    sf.write(str(wav), (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, subtype="PCM_16")
    return {"frames_dir": frames, "frame_times": [i * 0.5 for i in range(8)], "audio_path": wav}


def _backend(**kwargs):
    return make_backend("openai", label_set=LABELS, **kwargs)


# --- one clip, one answer --------------------------------------------------------------------------------


def test_a_valid_answer_carries_frames_audio_transcript_and_evidence(llm_server, monkeypatch, tmp_path):
    _env(monkeypatch, CLUELAB_LLM_AUDIO=1)
    media = _media(tmp_path)
    clip = _clip(transcript="What a lovely surprise, thank you!", **media)
    [prediction] = _backend().predict([clip])

    assert prediction.emotion == "happy" and prediction.distribution["happy"] == 1.0 and prediction.uncertainty == 0.0
    assert prediction.clues[Aspect.facial].startswith("Lip corners pulled up (AU12 0.80)")
    assert [(s.aspect, s.start, s.end) for s in prediction.spans] == [(Aspect.facial, 0.5, 1.5)]
    assert prediction.flags == {} and prediction.emotion_words == ["happy", "relieved"]

    [request] = llm_server.seen(clip="c0", step="annotate")
    body = request.body
    assert body["model"] == "test-model" and body["temperature"] == 0.0 and "n" not in body
    schema = body["response_format"]["json_schema"]
    assert schema["name"] == "clip_annotation" and schema["strict"] is True
    assert schema["schema"]["properties"]["emotion"]["enum"] == LABELS
    images = request.parts("image_url")
    assert len(images) == 4
    for part in images:
        url = part["image_url"]["url"]
        assert url.startswith("data:image/jpeg;base64,")
        image = cv2.imdecode(np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
        assert max(image.shape[:2]) == 448  # 640x480 frames resized to the image size
    assert "Frame at 0.00 s" in request.text and "Frame at 3.50 s" in request.text  # evenly over the clip
    [audio] = request.parts("input_audio")
    assert audio["input_audio"]["format"] == "wav"
    assert base64.b64decode(audio["input_audio"]["data"]) == media["audio_path"].read_bytes()
    text = request.text
    assert 'Transcript (English): "What a lovely surprise, thank you!"' in text
    assert "Measured evidence" in text and "syllables/s" not in text and "semitones range" in text  # the baseline's vocal cue
    assert "AU6 cheek raiser + AU12" in text  # SEKE knowledge in the system prompt
    assert "Write the clues in English" in text


def test_a_clip_without_frames_or_wav_is_sampled_from_its_video(llm_server, monkeypatch, tmp_path):
    from tests.media_factory import make_video

    _env(monkeypatch, CLUELAB_LLM_AUDIO=1, CLUELAB_LLM_FRAMES=3, CLUELAB_LLM_IMAGE_SIZE=160)
    video = make_video(tmp_path / "clip.mp4", seconds=2.0, size="320x240")
    _backend().predict([_clip(video_path=video).model_copy(update={"duration": 2.0})])
    [request] = llm_server.seen(step="annotate")
    images = request.parts("image_url")
    assert len(images) == 3
    first = cv2.imdecode(np.frombuffer(base64.b64decode(images[0]["image_url"]["url"].split(",", 1)[1]), np.uint8),
                         cv2.IMREAD_COLOR)
    assert first.shape[:2] == (120, 160)
    [audio] = request.parts("input_audio")
    wav = tmp_path / "sent.wav"
    wav.write_bytes(base64.b64decode(audio["input_audio"]["data"]))
    info = sf.info(str(wav))
    assert (info.samplerate, info.channels) == (16000, 1) and abs(info.duration - 2.0) < 0.1


def test_without_audio_setting_no_audio_part_is_sent(llm_server, tmp_path):
    _backend().predict([_clip(**_media(tmp_path))])
    [request] = llm_server.seen(step="annotate")
    assert request.parts("input_audio") == [] and len(request.parts("image_url")) == 4


def test_a_malformed_answer_gets_one_repair_request(llm_server):
    llm_server.script(Reply(contents=['{"clues": {"facial": "smiles"}, "emotion": "joyful"}']), step="annotate")
    [prediction] = _backend().predict([_clip()])
    assert prediction.emotion == "happy"
    [repair] = llm_server.seen(step="repair")
    messages = repair.body["messages"]
    assert messages[-2] == {"role": "assistant", "content": '{"clues": {"facial": "smiles"}, "emotion": "joyful"}'}
    assert "emotion 'joyful' is not one of: neutral, angry" in messages[-1]["content"]
    assert repair.body["response_format"]["json_schema"]["name"] == "clip_annotation"


def test_predict_names_the_clip_that_stayed_malformed(llm_server):
    llm_server.script(Reply(contents=["{}"]), Reply(contents=["{}"]), clip="bad", step=None)
    with pytest.raises(ClipsFailed) as raised:
        _backend().predict([_clip("bad", clip_id=1), _clip("good", clip_id=2)])
    assert list(raised.value.failures) == ["bad"] and isinstance(raised.value.failures["bad"], MalformedOutput)
    assert str(raised.value).startswith("1 clip(s) failed; bad: MalformedOutput: malformed answer")


def test_a_clip_malformed_twice_fails_with_the_reason_and_nothing_is_stored(llm_server, monkeypatch, app_db, dataset):
    from model.inference import predict_dataset
    from model.progress import QuietProgress

    _env(monkeypatch, CLUELAB_MODEL_BACKEND="openai")
    ids = add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=2)
    llm_server.script(Reply(contents=["Sure! The person looks happy."]), Reply(contents=["```json\n{oops\n```"]),
                      clip="clip-0000")
    progress = QuietProgress()
    result = predict_dataset(dataset_id=dataset.id, progress=progress)
    assert result["predicted"] == 1 and result["failed"] == 1
    [(name, reason)] = progress.failures
    assert name == "clip-0000" and reason.startswith("MalformedOutput: malformed answer, also after one repair")
    assert "not JSON" in reason
    with Session(app_db) as session:
        assert prediction_queries.predicted_clip_ids(session, version_id=result["model_version_id"]) == {ids[1]}


# --- transport: retries, timeouts, clear errors ----------------------------------------------------------


def test_429_and_503_are_retried_until_the_answer_comes(llm_server):
    llm_server.script(Reply(status=429, message="rate limited", headers={"Retry-After": "0"}),
                      Reply(status=503, message="overloaded"), step="annotate")
    backend = _backend()
    [prediction] = backend.predict([_clip()])
    assert prediction.emotion == "happy"
    assert [r.status for r in llm_server.seen(step="annotate")] == [429, 503, 200]
    summary = backend.run_summary()["llm"]
    assert summary["retries"] == 2 and summary["attempts"] == 4 and summary["requests"] == 2  # + verify


def test_a_timeout_is_retried(llm_server, monkeypatch):
    _env(monkeypatch, CLUELAB_LLM_TIMEOUT=0.5)
    llm_server.script(Reply(delay=1.5), step="annotate")
    [prediction] = _backend().predict([_clip()])
    assert prediction.emotion == "happy" and len(llm_server.seen(step="annotate")) == 2


def test_a_clip_that_always_times_out_fails_alone_with_a_clear_message(llm_server, monkeypatch):
    _env(monkeypatch, CLUELAB_LLM_TIMEOUT=0.3, CLUELAB_LLM_MAX_RETRIES=1)
    llm_server.script(Reply(delay=1.0), Reply(delay=1.0), clip="slow", step="annotate")
    results = dict(_backend().predict_as_completed([_clip("slow", clip_id=1), _clip("fine", clip_id=2)]))
    assert isinstance(results[0], RequestTimedOut)
    assert str(results[0]) == f"no answer from {llm_server.base_url} within 0.3 s, 2 attempts (CLUELAB_LLM_TIMEOUT)"
    assert results[1].emotion == "happy"


def test_a_dead_endpoint_stops_the_run_with_a_clear_message(llm_server, monkeypatch, app_db, dataset):
    from model.inference import predict_dataset

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _env(monkeypatch, OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1", CLUELAB_LLM_MAX_RETRIES=2,
         CLUELAB_MODEL_BACKEND="openai")
    with pytest.raises(EndpointUnreachable) as raised:
        _backend().predict([_clip("a", clip_id=1), _clip("b", clip_id=2)])
    message = str(raised.value)
    assert message.startswith(f"cannot reach the LLM endpoint at http://127.0.0.1:{port}/v1 (ConnectError")
    assert "after 3 attempts; is the server (vLLM, SGLang) running, and is OPENAI_BASE_URL right?" in message

    add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=3)
    with pytest.raises(EndpointUnreachable, match="cannot reach the LLM endpoint"):
        predict_dataset(dataset_id=dataset.id)  # a job fails with this message; a retry resumes


def test_a_wrong_key_is_named_and_not_retried(llm_server, monkeypatch):
    _env(monkeypatch, OPENAI_API_KEY="sk-wrong")
    with pytest.raises(AuthenticationFailed) as raised:
        _backend().predict([_clip()])
    assert str(raised.value) == (f"{llm_server.base_url} refused the API key (401: Incorrect API key provided.); "
                                 "set OPENAI_API_KEY to the key the server expects (vLLM: its --api-key)")
    assert llm_server.requests == []  # refused before it was recorded: exactly one attempt, no retry


def test_a_model_the_server_does_not_serve_is_named_with_the_ones_it_does(llm_server, monkeypatch):
    _env(monkeypatch, CLUELAB_LLM_MODEL="Qwen/Qwen2.5-Omni-7B")
    with pytest.raises(ModelNotFound) as raised:
        _backend().predict([_clip()])
    assert str(raised.value) == (f"model 'Qwen/Qwen2.5-Omni-7B' is not served at {llm_server.base_url} (404); "
                                 "it serves: test-model. Set CLUELAB_LLM_MODEL to one of them")


def test_no_endpoint_configured_is_said_plainly(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    get_settings.cache_clear()
    with pytest.raises(EndpointMisconfigured, match="needs OPENAI_BASE_URL .* or OPENAI_API_KEY for api.openai.com"):
        _backend().predict([_clip()])


def test_requests_run_concurrently_up_to_the_limit(llm_server, monkeypatch):
    _env(monkeypatch, CLUELAB_LLM_MAX_CONCURRENCY=4, CLUELAB_LLM_VERIFY=0)
    llm_server.delay = 0.2
    backend = _backend()
    predictions = backend.predict([_clip(f"c{i}", clip_id=i) for i in range(12)])
    assert [p.clip_name for p in predictions] == [f"c{i}" for i in range(12)]
    assert llm_server.max_in_flight == 4 and backend.max_in_flight == 4


def test_usage_and_cost_are_counted_per_run(llm_server, monkeypatch):
    _env(monkeypatch, CLUELAB_LLM_PRICE_IN_PER_1K=0.5, CLUELAB_LLM_PRICE_OUT_PER_1K=2.0)
    backend = _backend()
    backend.predict([_clip("a", clip_id=1), _clip("b", clip_id=2)])
    summary = backend.run_summary()["llm"]
    # 2 clips x (annotate + verify), 100 prompt and 20 completion tokens per request at the fake server.
    assert summary["requests_by_step"] == {"annotate": 2, "verify": 2}
    assert (summary["prompt_tokens"], summary["completion_tokens"]) == (400, 80)
    assert summary["cost"] == pytest.approx(400 / 1000 * 0.5 + 80 / 1000 * 2.0)


# --- self-verification --------------------------------------------------------------------------------------


def test_k_samples_that_disagree_give_vote_shares_entropy_and_the_medoid_clues(llm_server, monkeypatch):
    _env(monkeypatch, CLUELAB_LLM_SAMPLES=5)

    def answer(emotion, facial, words):
        return json.dumps({"clues": {"facial": facial, "vocal": "Pitch rises.", "verbal": "Says it went well.",
                                     "scene": "A bright room."}, "emotion": emotion, "emotion_words": words,
                           "spans": []})

    outlier = answer("happy", "Looks at the ceiling while a car passes outside the window.", ["amused"])
    close_a = answer("happy", "Smiles broadly with both cheeks raised (AU6, AU12).", ["joyful", "relieved"])
    close_b = answer("happy", "A broad smile, cheeks raised (AU6 and AU12).", ["joyful", "grateful"])
    llm_server.script(Reply(contents=[outlier, answer("sad", "Lip corners pulled down.", ["sad", "joyful"]), close_a,
                                      answer("angry", "Brows drawn together.", ["angry"]), close_b]), step="annotate")
    [prediction] = _backend().predict([_clip()])

    [request] = llm_server.seen(step="annotate")
    assert request.body["n"] == 5 and request.body["temperature"] == 0.7  # K samples in one round trip
    assert prediction.emotion == "happy"
    assert prediction.distribution == {"neutral": 0.0, "angry": 0.2, "happy": 0.6, "sad": 0.2, "worried": 0.0,
                                       "surprise": 0.0}
    entropy = -(0.6 * math.log(0.6) + 2 * 0.2 * math.log(0.2)) / math.log(6)
    assert prediction.uncertainty == round(entropy, 6) == round(normalised_entropy(prediction.distribution), 6)
    assert prediction.clues[Aspect.facial] in {json.loads(close_a)["clues"]["facial"],
                                               json.loads(close_b)["clues"]["facial"]}  # the medoid, not the outlier
    assert prediction.emotion_words == ["joyful"]  # named by 3 of 5 samples


def test_a_server_that_ignores_n_is_topped_up(llm_server, monkeypatch):
    _env(monkeypatch, CLUELAB_LLM_SAMPLES=3, CLUELAB_LLM_VERIFY=0)
    llm_server.script(Reply(contents=[annotation_json(emotion="sad")]), step="annotate")  # one choice for n=3
    [prediction] = _backend().predict([_clip()])
    assert [r.body.get("n", 1) for r in llm_server.seen(step="annotate")] == [3, 2]
    assert prediction.distribution["sad"] == pytest.approx(1 / 3) and prediction.distribution["happy"] == pytest.approx(2 / 3)


def test_the_verification_answer_flags_one_clue_and_the_flag_is_stored(llm_server, monkeypatch, app_db, dataset):
    from model.inference import predict_dataset

    _env(monkeypatch, CLUELAB_MODEL_BACKEND="openai")
    [clip_id] = add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=1)
    why = "The pitch was measured flat (2.1 semitones); it does not rise."
    llm_server.script(Reply(contradict={"vocal": why}), step="verify")
    result = predict_dataset(dataset_id=dataset.id)

    [verify] = llm_server.seen(step="verify")
    assert verify.body["response_format"]["json_schema"]["name"] == "clue_verification"
    assert verify.body["temperature"] == 0.0 and verify.parts("image_url") == []  # text only: measurements
    assert "Proposed emotion: happy" in verify.text and "Pitch rises 20 %" in verify.text
    assert re.search(r"- vocal: (Flat|Varied) pitch around 180 Hz", verify.text)  # the measured evidence it checks
    with Session(app_db) as session:
        row = prediction_queries.prediction_for_clip(session, clip_id=clip_id, version_id=result["model_version_id"])
    assert read_notes(row.spans)["flags"] == {"vocal": why} and row.emotion_words == ["happy", "relieved"]
    assert time_spans(row.spans) == [{"aspect": "facial", "start": 0.5, "end": 1.5, "label": "AU12"}]


def test_flags_and_words_ride_on_the_prediction(llm_server):
    llm_server.script(Reply(contradict={"scene": "No person is in view."}), step="verify")
    [prediction] = _backend().predict([_clip()])
    assert prediction.flags == {Aspect.scene: "No person is in view."}


# --- languages ------------------------------------------------------------------------------------------------


def test_english_and_mandarin_clips(llm_server):
    clips = [_clip("en-clip", clip_id=1, language="en", transcript="I passed the exam, I can't believe it!"),
             _clip("zh-clip", clip_id=2, language="zh", transcript="我今天真的很开心，你为什么不告诉我"),
             _clip("zh-unknown", clip_id=3, language=None, transcript="我很高兴见到你")]
    en, zh, detected = _backend().predict(clips)
    assert en.language == "en" and "Lip corners" in en.clues[Aspect.facial]
    assert zh.language == "zh" and zh.clues[Aspect.facial].startswith("嘴角上扬")
    assert detected.language == "zh" and detected.clues[Aspect.verbal] == "说自己今天很开心。"
    [zh_request] = llm_server.seen(clip="zh-clip", step="annotate")
    assert "Write the clues in Simplified Chinese (简体中文)" in zh_request.text
    assert 'Transcript (Simplified Chinese (简体中文)): "我今天真的很开心，你为什么不告诉我"' in zh_request.text
    assert "Write the clues in English" in llm_server.seen(clip="en-clip", step="annotate")[0].text


# --- jobs: stored as they finish, resumed without re-sending ---------------------------------------------------------


def test_a_killed_predict_job_resumes_without_resending_finished_clips(llm_server, monkeypatch, app_db, dataset, lead):
    from annotation.jobs import enqueue, retry, run_job_inline

    _env(monkeypatch, CLUELAB_MODEL_BACKEND="openai", CLUELAB_LLM_MAX_CONCURRENCY=1, CLUELAB_LLM_VERIFY=0)
    ids = add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=6)
    job_id = enqueue("predict", params={"dataset_id": dataset.id}, user=lead)

    def kill_at_the_fourth_clip(record):
        if record.step == "annotate" and len({r.clip for r in llm_server.seen(step="annotate")}) == 4:
            with Session(app_db) as session:  # what `cancel` does: the worker stops at its next step
                job = session.get(Job, job_id)
                job.cancel_requested = True
                session.add(job)
                session.commit()

    llm_server.on_request = kill_at_the_fourth_clip
    first = run_job_inline(job_id)
    assert first.state == JobState.cancelled.value
    with Session(app_db) as session:
        version_id = session.exec(select(Prediction.model_version_id)).first()
        finished = prediction_queries.predicted_clip_ids(session, version_id=version_id)
    assert 1 <= len(finished) < 6
    sent_before = len(llm_server.requests)

    llm_server.on_request = None
    retry(job_id=job_id, actor=lead, inline=True)
    with Session(app_db) as session:
        again = session.get(Job, job_id)
        assert again.state == JobState.done.value, again.error
        assert prediction_queries.predicted_clip_ids(session, version_id=version_id) == set(ids)
        names = {c.id: c.name for c in session.exec(select(Clip)).all()}
    resent = {r.clip for r in llm_server.requests[sent_before:]}
    assert not resent & {names[i] for i in finished}  # no finished clip was sent again
    assert resent == {names[i] for i in set(ids) - finished}
    assert again.result["skipped"] == len(finished) and again.done == 6 - len(finished)


# --- retraining -------------------------------------------------------------------------------------------------


def test_retraining_takes_exemplars_from_training_consensus_only(llm_server, monkeypatch, app_db, dataset, lead):
    from model.inference import backend_for
    from model.training import train_version

    _env(monkeypatch, CLUELAB_MODEL_BACKEND="openai", CLUELAB_LLM_VERIFY=0)
    add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=30)
    version = train_version(dataset_id=dataset.id, user=lead, backend_name="openai")

    train_ids, held_ids = set(version.snapshot["train_clip_ids"]), set(version.snapshot["held_out_clip_ids"])
    assert held_ids and set(version.config["exemplar_clip_ids"]) == train_ids
    assert version.config["prompt_version"] == "seke-v1" and version.config["llm_model"] == "test-model"
    held = version.metrics["held_out"]
    assert held["n"] == len(held_ids) and "weighted_f1" in held and "failed" not in held
    assert version.metrics["parent_held_out"]["n"] == len(held_ids)  # the untrained parent, measured alike

    with Session(app_db) as session:
        names = {c.id: c.name for c in session.exec(select(Clip)).all()}
    train_names, held_names = {names[i] for i in train_ids}, {names[i] for i in held_ids}
    with_examples = [r for r in llm_server.seen(step="annotate") if "Worked examples" in r.text]
    assert {r.clip for r in with_examples} == held_names  # the new version's held-out predictions
    for request in with_examples:
        shown = set(re.findall(r"Example \d: clip (clip-\d+)", request.text))
        assert len(shown) == 3 and shown <= train_names and not shown & held_names

    # A training clip predicted again never sees its own consensus among the examples.
    own = sorted(train_ids)[0]
    backend = backend_for(version, label_set=LABELS)
    with Session(app_db) as session:
        rows = {f.extractor: f.data for f in session.exec(select(ClipFeature).where(ClipFeature.clip_id == own))}
    backend.predict([ClipInput(name=names[own], clip_id=own, features=rows, language="en")])
    [request] = llm_server.seen(clip=names[own], step="annotate")[-1:]
    assert f"clip {names[own]} " not in request.text and "Worked examples" in request.text


# --- settings ---------------------------------------------------------------------------------------------------


def test_settings_describe_without_the_key_and_the_judge_model_is_a_setting(monkeypatch):
    from annotation.evaluation.judge import EmerJudge

    _env(monkeypatch, OPENAI_BASE_URL="http://127.0.0.1:8000/v1", OPENAI_API_KEY="sk-secret",
         CLUELAB_LLM_JUDGE_MODEL="Qwen/Qwen2.5-7B-Instruct", CLUELAB_LLM_SAMPLES=5)
    settings = get_settings()
    described = settings.llm_describe()
    assert "sk-secret" not in json.dumps(described) and described["api_key_set"] is True
    assert described["samples"] == 5 and described["max_concurrency"] == 8 and described["frames"] == 4
    assert described["base_url"] == "http://127.0.0.1:8000/v1"
    backend = _backend()
    assert backend.temperature == 0.7 and "sk-secret" not in json.dumps(backend.describe(), default=str)
    assert EmerJudge.from_settings().model == "Qwen/Qwen2.5-7B-Instruct"


def test_models_page_shows_the_endpoint_without_the_key_and_checks_it(llm_server, app_db, dataset, lead):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from annotation.llm_client import LLMError, ModelNotFound, check_endpoint

    assert "answers as test-model" in check_endpoint(get_settings())
    with pytest.raises(ModelNotFound, match="does not serve 'other'"):
        check_endpoint(get_settings().model_copy(update={"llm_model": "other"}))
    with pytest.raises(LLMError, match="cannot reach"):
        check_endpoint(get_settings().model_copy(update={"openai_base_url": "http://127.0.0.1:9/v1",
                                                         "llm_max_retries": 0}))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "pages/models.py"), default_timeout=60)
    at.session_state["user_id"] = lead.id
    at.run()
    assert not at.exception, at.exception
    shown = " ".join(str(df.value.to_dict()) for df in at.dataframe)
    assert "sk-test" not in shown and "api_key_set" in shown
    at.button(key="models.llm_check").click().run()
    assert any("answers as test-model" in s.value for s in at.success)

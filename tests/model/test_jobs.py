"""Model jobs through the job queue: progress, per-clip failures, cached features, promotion."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

import model.jobs  # noqa: F401 — registers the model job kinds
from annotation.datasets import is_held_out
from annotation.jobs import enqueue, run_job_inline
from core.vocabulary import JobState
from db.models import Clip, ClipFeature, Prediction
from db.queries import model_versions as q
from db.queries import predictions as prediction_queries
from model.jobs import promote_and_repredict
from tests.model.conftest import add_labelled_clips, talking_clip


def _media_clip(session, *, dataset_id, name, media, data_dir) -> Clip:
    def rel(path):
        return str(path.relative_to(data_dir))

    clip = Clip(dataset_id=dataset_id, name=name, status="ready", duration=3.0, has_video=True, has_audio=True,
                video_path=rel(media["video"]), audio_path=rel(media["audio"]), frames_dir=rel(media["frames"]),
                transcript="I really love this place, it makes me so happy.", language="en")
    session.add(clip)
    return clip


@pytest.mark.slow
def test_predict_job_records_a_corrupt_clip_and_finishes(app_db, dataset, lead):
    from core.settings import get_settings

    data_dir = get_settings().data_dir
    media = talking_clip(data_dir / "media" / "good", "good", "I really love this place, it makes me so happy.")
    broken = data_dir / "media" / "broken.mp4"
    broken.write_bytes(b"this is not a video")
    with Session(app_db, expire_on_commit=False) as session:
        good = _media_clip(session, dataset_id=dataset.id, name="good", media=media, data_dir=data_dir)
        bad = Clip(dataset_id=dataset.id, name="broken", status="ready", video_path="media/broken.mp4", duration=3.0)
        gone = Clip(dataset_id=dataset.id, name="missing", status="ready", audio_path="media/nowhere.wav")
        session.add_all([bad, gone])
        session.commit()

    job_id = enqueue("predict", params={"dataset_id": dataset.id}, user=lead)
    job = run_job_inline(job_id)
    assert job.state == JobState.done.value, job.error
    assert (job.total, job.done, job.failed) == (3, 1, 2)
    failed = {e["item"] for e in job.result["item_errors"]}
    assert failed == {"broken", "missing"}
    assert "nowhere.wav" in job.log

    with Session(app_db) as session:
        prediction = session.exec(select(Prediction).where(Prediction.clip_id == good.id)).one()
        assert set(prediction.clues) == {"facial", "vocal", "verbal", "scene"}
        assert prediction.emotion == "happy" and 0 <= prediction.uncertainty <= 1
        assert "love" in prediction.clues["verbal"]
        extractors = set(session.exec(select(ClipFeature.extractor).where(ClipFeature.clip_id == good.id)).all())
        assert extractors == {"face", "voice", "speech", "text", "scene"}
        version = q.active_version(session, dataset_id=dataset.id)
        assert version.name == "baseline-untrained" and job.result["model_version_id"] == version.id

    # A second run reuses the cached features: no new feature rows.
    again = run_job_inline(enqueue("predict", params={"dataset_id": dataset.id, "clip_ids": [good.id]}, user=lead))
    assert again.state == JobState.done.value and again.done == 1
    with Session(app_db) as session:
        assert len(session.exec(select(ClipFeature).where(ClipFeature.clip_id == good.id)).all()) == 5


def test_train_job_then_promote_repredicts_unlabelled_and_held_out_clips(app_db, dataset, lead):
    labelled = add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=30)
    unlabelled = add_labelled_clips(app_db, dataset_id=dataset.id, start=100, count=3)
    with Session(app_db) as session:  # these three lose their consensus: they are the unlabelled ones
        from db.models import Consensus

        for row in session.exec(select(Consensus).where(Consensus.clip_id.in_(unlabelled))).all():
            session.delete(row)
        session.commit()

    job = run_job_inline(enqueue("train", params={"dataset_id": dataset.id}, user=lead))
    assert job.state == JobState.done.value, job.error
    assert job.done == job.total == 4
    version_id = job.result["model_version_id"]

    result = promote_and_repredict(version_id=version_id, user=lead)
    repredict = run_job_inline(result["repredict_job_id"])
    assert repredict.state == JobState.done.value, repredict.error
    with Session(app_db) as session:
        predicted = prediction_queries.predicted_clip_ids(session, version_id=version_id)
        trained_on = set(q.get_version(session, version_id=version_id).snapshot["train_clip_ids"])
        held_out = {clip_id for clip_id in labelled if is_held_out(session.get(Clip, clip_id).name)}
        # The held-out clips too: every version is scored on them (not the clips it was trained on).
        assert held_out and predicted == set(unlabelled) | held_out and not predicted & trained_on
        assert q.active_version(session, dataset_id=dataset.id).id == version_id


def test_train_job_by_an_annotator_is_refused_with_a_clear_reason(app_db, dataset, annotator):
    from annotation.permissions import PermissionDenied

    add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=10)
    with pytest.raises(PermissionDenied, match="lead"):
        enqueue("train", params={"dataset_id": dataset.id}, user=annotator)


def test_prediction_compares_a_voice_with_its_speakers_usual_pitch(app_db, dataset):
    from model.inference import predict_dataset

    ids = add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=4)
    with Session(app_db) as session:
        for clip_id in ids:
            clip = session.get(Clip, clip_id)
            clip.speaker = "Ada"
            session.add(clip)
        feature = session.exec(select(ClipFeature).where(ClipFeature.clip_id == ids[-1],
                                                         ClipFeature.extractor == "voice")).one()
        feature.data = {**feature.data, "pitch": {**feature.data["pitch"], "median_hz": 240.0, "p95_hz": 260.0}}
        session.add(feature)
        session.commit()
    result = predict_dataset(dataset_id=dataset.id, clip_ids=[ids[-1]])
    with Session(app_db) as session:
        clue = prediction_queries.prediction_for_clip(session, clip_id=ids[-1], version_id=result["model_version_id"]).clues["vocal"]
    assert "above the speaker's usual median (180 Hz over 4 clips)" in clue, clue


@pytest.mark.slow
def test_prediction_gives_a_clip_without_transcript_the_asr_transcript(app_db, dataset):
    from core.settings import get_settings
    from model.inference import predict_dataset

    data_dir = get_settings().data_dir
    media = talking_clip(data_dir / "media" / "asr", "asr", "The weather is lovely today.")
    with Session(app_db, expire_on_commit=False) as session:
        clip = _media_clip(session, dataset_id=dataset.id, name="asr", media=media, data_dir=data_dir)
        clip.transcript, clip.language = "", None
        session.commit()
    result = predict_dataset(dataset_id=dataset.id)
    assert result["predicted"] == 1
    with Session(app_db) as session:
        stored = session.get(Clip, clip.id)
        assert stored.transcript_source == "asr" and stored.language == "en"
        assert "today" in stored.transcript.lower()  # espeak speech is not always heard word for word
        assert stored.transcript_words and all(w["end"] >= w["start"] for w in stored.transcript_words)


@pytest.mark.slow
def test_feature_extraction_gives_a_manifest_transcript_word_times_from_the_speech(app_db, dataset):
    from core.settings import get_settings
    from model.inference import extract_dataset_features

    data_dir = get_settings().data_dir
    media = talking_clip(data_dir / "media" / "given", "given", "The weather is lovely today.")
    with Session(app_db, expire_on_commit=False) as session:
        clip = _media_clip(session, dataset_id=dataset.id, name="given", media=media, data_dir=data_dir)
        clip.transcript, clip.transcript_source = "The weather is LOVELY today!", "manifest"
        session.commit()
    assert extract_dataset_features(dataset_id=dataset.id)["extracted"] == 1
    with Session(app_db) as session:
        stored = session.get(Clip, clip.id)
    assert stored.transcript == "The weather is LOVELY today!" and stored.transcript_source == "manifest"
    words = stored.transcript_words
    assert [w["word"] for w in words] == ["The", "weather", "is", "LOVELY", "today"]
    assert {w["timing"] for w in words} <= {"aligned", "estimated"} and words[-1]["timing"] == "aligned"
    assert stored.meta["transcript_timing"] in ("aligned", "estimated")
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and 0.3 < words[-1]["start"] < 3.0

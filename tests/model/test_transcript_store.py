"""The transcript feature extraction chose is kept on the clip; a dataset's language and transcript source reach ASR."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from db.models import Clip, Dataset
from db.queries import model_versions as q
from model.inference import clip_input


def _clip(engine, **fields) -> int:
    with Session(engine, expire_on_commit=False) as session:
        dataset = Dataset(name=f"d{fields.get('name', 'c')}", language="zh")
        session.add(dataset)
        session.flush()
        clip = Clip(dataset_id=dataset.id, status="ready", **{"name": "c", **fields})
        session.add(clip)
        session.commit()
        return clip.id


def _speech(text, source, timing, words):
    return {"text": text, "source": source, "timing": timing, "words": words, "language": "zh", "choice": "why"}


def test_aligned_times_replace_estimated_ones_and_keep_the_given_text(app_db):
    clip_id = _clip(app_db, transcript="我很难过", transcript_source="subtitle",
                    transcript_words=[{"word": "我", "start": 0.0, "end": 0.5, "timing": "estimated", "at": 0}])
    aligned = [{"word": "我", "start": 0.4, "end": 0.6, "timing": "aligned", "at": 0, "p": 1},
               {"word": "很", "start": 0.6, "end": 0.8, "timing": "aligned", "at": 1}]
    with Session(app_db) as session:
        assert q.store_transcript(session, clip_id=clip_id, speech=_speech("我很难过", "given", "aligned", aligned))
        session.commit()
        clip = session.get(Clip, clip_id)
        assert clip.transcript == "我很难过" and clip.transcript_source == "subtitle"
        assert clip.transcript_words[0] == {"word": "我", "start": 0.4, "end": 0.6, "timing": "aligned", "at": 0}
        assert clip.meta["transcript_timing"] == "aligned"
        # Worse times never replace better ones.
        worse = [{"word": "我", "start": 0.0, "end": 1.0, "timing": "estimated", "at": 0}]
        assert not q.store_transcript(session, clip_id=clip_id, speech=_speech("我很难过", "given", "estimated", worse))


def test_a_dataset_that_chose_asr_replaces_the_given_text_and_keeps_it_aside(app_db):
    clip_id = _clip(app_db, transcript="given words", transcript_source="manifest")
    heard = [{"word": "heard", "start": 0.1, "end": 0.3, "timing": "asr", "at": 0}]
    with Session(app_db) as session:
        assert q.store_transcript(session, clip_id=clip_id, speech=_speech("heard", "asr", "asr", heard))
        session.commit()
        clip = session.get(Clip, clip_id)
        assert (clip.transcript, clip.transcript_source) == ("heard", "asr")
        assert clip.meta["given_transcript"]["text"] == "given words"


def test_a_given_transcript_edited_since_keeps_its_words(app_db):
    clip_id = _clip(app_db, transcript="new text", transcript_source="manifest")
    with Session(app_db) as session:
        assert not q.store_transcript(session, clip_id=clip_id, speech=_speech(
            "old text", "given", "aligned", [{"word": "old", "start": 0, "end": 1, "timing": "aligned", "at": 0}]))


def test_the_dataset_language_and_transcript_source_reach_the_backend():
    dataset = Dataset(name="d", language="zh", settings={"transcript_source": "on_screen"})
    # A clip once mis-heard as Korean: the Mandarin dataset still constrains what ASR listens for.
    clip = Clip(id=1, dataset_id=1, name="c", language="ko")
    item = clip_input(clip, dataset=dataset, data_dir=Path("/tmp"))
    assert item.language == "zh" and item.transcript_mode == "on_screen"
    auto = clip_input(clip, dataset=Dataset(name="a", language="auto"), data_dir=Path("/tmp"))
    assert auto.language == "ko" and auto.transcript_mode == "best"

"""The Datasets page: a lead retries errored clips; "Import from path" reads only the configured import roots."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from annotation import jobs
from annotation.datasets import import_into
from annotation.formats.service import import_files
from annotation.ingest.importer import ImportFailed
from core.settings import get_settings
from core.vocabulary import ClipStatus, JobState
from db.engine import get_engine
from db.models import Clip, Dataset, User
from tests.media_factory import make_video

ROOT = Path(__file__).resolve().parents[2]


def _page(user_id: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/datasets.py"), default_timeout=60)
    at.session_state["user_id"] = user_id
    return at.run()


def _dataset(*clips: Clip) -> int:
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = Dataset(name="field")
        session.add(dataset)
        session.flush()
        for clip in clips:
            clip.dataset_id = dataset.id
        session.add_all(clips)
        session.commit()
        return int(dataset.id)


def test_a_lead_retries_errored_clips_from_the_page(accounts):
    _dataset(Clip(name="broken", source_path="/media/broken.mp4", status=ClipStatus.error.value,
                  error="could not decode the file"),
             Clip(name="fine", status=ClipStatus.ready.value))
    at = _page(accounts["lead"])
    assert not at.exception
    retry = next(b for b in at.button if b.label == "Retry errored clips")
    retry.click().run()
    assert not at.exception
    with Session(get_engine()) as session:
        clips = {c.name: c for c in session.exec(select(Clip)).all()}
    assert clips["broken"].status == ClipStatus.pending.value and clips["broken"].error is None
    assert clips["fine"].status == ClipStatus.ready.value
    job = jobs.get_job(at.session_state["ingest_job"])
    assert job.kind == "ingest" and job.state == JobState.queued.value and job.run_as_id == accounts["lead"]


def test_import_from_path_reads_only_the_import_roots(accounts, tmp_path: Path):
    dataset_id = _dataset()
    with Session(get_engine(), expire_on_commit=False) as session:
        lead = session.get(User, accounts["lead"])
    for outside in ("/etc", str(tmp_path), str(get_settings().data_dir / "imports" / ".." / "..")):
        with pytest.raises(ImportFailed, match="import roots"):
            import_into(actor=lead, dataset_id=dataset_id, source=Path(outside))

    inside = get_settings().data_dir / "imports" / "batch1"
    inside.mkdir(parents=True)
    make_video(inside / "hello.mp4", seconds=1.0)
    report = import_into(actor=lead, dataset_id=dataset_id, source=inside)
    assert report.created == 1

    at = _page(accounts["lead"])
    at.text_input[1].input("/etc").run()
    next(b for b in at.button if b.label == "Import from path").click().run()
    assert not at.exception
    assert any("import roots" in e.value for e in at.error)

    # The research-format import on the Evaluate & exchange page keeps to the same roots.
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = session.get(Dataset, dataset_id)
    refused = import_files(dataset=dataset, paths=[Path("/etc/passwd")], media_dir=None, user=lead)
    assert refused.created == 0 and "import roots" in refused.errors[0].reason
    refused = import_files(dataset=dataset, paths=[inside / "hello.mp4"], media_dir="/etc", user=lead)
    assert "import roots" in refused.errors[0].reason


def test_a_lead_chooses_the_transcript_source_and_extracted_clips_follow_it(accounts):
    from db.models import ClipFeature

    dataset_id = _dataset(Clip(name="talk", status=ClipStatus.ready.value, transcript="given words",
                               transcript_source="manifest", duration=2.0))
    with Session(get_engine()) as session:
        clip = session.exec(select(Clip)).one()
        heard = [{"word": "heard", "start": 0.2, "end": 0.6}, {"word": "words", "start": 0.7, "end": 1.1}]
        session.add(ClipFeature(clip_id=clip.id, extractor="speech", extractor_version="speech-2", data={
            "text": "given words", "source": "given", "words": [], "candidates": {
                "heard": "heard words", "heard_words": heard, "heard_language": "en", "on_screen": "",
                "on_screen_cues": []}}))
        session.commit()
    at = _page(accounts["lead"])
    assert not at.exception
    source = next(s for s in at.selectbox if s.label == "Transcript source")
    assert source.value == "best"
    source.set_value("asr").run()
    next(b for b in at.button if b.label == "Save transcript source").click().run()
    assert not at.exception
    with Session(get_engine()) as session:
        dataset = session.get(Dataset, dataset_id)
        clip = session.exec(select(Clip)).one()
    assert dataset.settings["transcript_source"] == "asr"
    assert (clip.transcript, clip.transcript_source) == ("heard words", "asr")
    assert [w["timing"] for w in clip.transcript_words] == ["asr", "asr"]
    # Back to the given text: restored, with its words aligned to what was heard.
    at = _page(accounts["lead"])
    next(s for s in at.selectbox if s.label == "Transcript source").set_value("given").run()
    next(b for b in at.button if b.label == "Save transcript source").click().run()
    with Session(get_engine()) as session:
        clip = session.exec(select(Clip)).one()
    assert (clip.transcript, clip.transcript_source) == ("given words", "manifest")
    assert clip.transcript_words[1]["word"] == "words" and clip.transcript_words[1]["start"] == pytest.approx(0.7)
    assert clip.transcript_words[1]["timing"] == "aligned"


def test_only_a_lead_sets_the_transcript_source(accounts):
    from annotation.datasets import set_transcript_source
    from annotation.permissions import PermissionDenied

    dataset_id = _dataset()
    with Session(get_engine()) as session:
        annotator = session.get(User, accounts["annotator"])
        lead = session.get(User, accounts["lead"])
    with pytest.raises(PermissionDenied):
        set_transcript_source(actor=annotator, dataset_id=dataset_id, source="asr")
    with pytest.raises(ValueError, match="unknown transcript source"):
        set_transcript_source(actor=lead, dataset_id=dataset_id, source="telepathy")

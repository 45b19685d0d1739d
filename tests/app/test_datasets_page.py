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

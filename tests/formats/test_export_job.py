"""Export as a background job: written to a zip on disk with progress, not held in memory (issue 17)."""

from __future__ import annotations

import zipfile

import pytest
from sqlmodel import Session

from annotation.jobs import enqueue, run_job_inline
from annotation.permissions import PermissionDenied
from core.settings import get_settings
from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import Consensus
from tests.annotation.factories_consensus import make_clip, make_dataset, make_user


@pytest.fixture
def seeded():
    upgrade_to_head(get_engine())
    with Session(get_engine(), expire_on_commit=False) as session:
        lead = make_user(session, "lena", "lead")
        annotator = make_user(session, "ann", "annotator")
        dataset = make_dataset(session, "field")
        for n in range(40):
            clip = make_clip(session, dataset, f"clip-{n:03d}", transcript=f"第{n}句", meta={"split": "train"})
            session.add(Consensus(clip_id=clip.id, emotion=("happy", "sad")[n % 2], clues={"facial": f"smile {n}"}))
        session.commit()
        return {"lead": lead, "annotator": annotator, "dataset": dataset.id}


@pytest.mark.parametrize("format", ["emer-v1", "mer-factory"])
def test_export_job_writes_a_zip_on_disk_with_progress(seeded, format):
    from annotation.formats.jobs import EXPORT_KIND

    job_id = enqueue(EXPORT_KIND, params={"dataset_id": seeded["dataset"], "source": "consensus", "format": format},
                     user=seeded["lead"])
    job = run_job_inline(job_id)
    assert job.state == "done", job.error
    assert job.total > 1 and job.done == job.total  # progress was reported step by step
    result = job.result
    path = get_settings().data_dir / result["file"]
    assert path.is_file() and path.suffix == ".zip" and result["bytes"] == path.stat().st_size
    assert result["name"] == f"field-consensus-all-{format}.zip" and result["rows"] == 40
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert any(n.endswith(".meta.json") for n in names)
        body = b"".join(archive.read(n) for n in names if not n.endswith(".meta.json"))
        assert "第39句".encode() in body or format == "mer-factory"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # the loose files are gone, only the zip stays


def test_export_job_is_for_leads_and_researchers(seeded):
    from annotation.formats.jobs import EXPORT_KIND

    with pytest.raises(PermissionDenied):
        enqueue(EXPORT_KIND, params={"dataset_id": seeded["dataset"], "source": "consensus", "format": "emer-v1"},
                user=seeded["annotator"])


def test_export_archive_still_returns_the_zip_for_a_download(seeded):
    from annotation.formats.export_service import export_archive
    from db.models import Dataset

    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = session.get(Dataset, seeded["dataset"])
    name, data = export_archive(dataset=dataset, source="consensus", format="emer-v1", user=seeded["lead"],
                                exports_dir=get_settings().data_dir / "exports")
    assert name == "field-consensus-all-emer-v1.zip" and data[:2] == b"PK"


def test_a_job_result_names_only_files_under_exports(tmp_path):
    from annotation.formats.export_service import export_of_job

    data_dir = tmp_path / "data"
    (data_dir / "exports" / "a").mkdir(parents=True)
    (data_dir / "exports" / "a" / "x.zip").write_bytes(b"PK")
    (data_dir / "cluelab.db").write_bytes(b"secret")
    assert export_of_job({"file": "exports/a/x.zip", "name": "x.zip", "rows": 2}, data_dir=data_dir).rows == 2
    for outside in ("cluelab.db", "exports/../cluelab.db", "/etc/passwd", "exports/a/missing.zip", ""):
        assert export_of_job({"file": outside}, data_dir=data_dir) is None
    assert export_of_job(None, data_dir=data_dir) is None

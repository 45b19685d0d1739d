"""The Evaluate & exchange page, run on its own with a signed-in lead and researcher."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from annotation.datasets import create_dataset
from annotation.formats.service import import_file
from annotation.jobs import run_job_inline
from cluelab.bootstrap import init_database
from db.engine import get_engine
from db.models import ModelVersion, Prediction, User
from db.queries.references import clip_ids_by_name
from db.queries.users import create_user

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/evaluate_sources.py")


@pytest.fixture
def seeded(emer_v1, mer2023_labels):
    init_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        lead = create_user(session, username="lead", password="test-password-1", roles=["lead"])
        researcher = create_user(session, username="res", password="test-password-1", roles=["researcher"])
        dataset = create_dataset(session, actor=lead, name="emer")
        import_file(session, dataset=dataset, path=emer_v1, media_dir=None, user=lead)
        version = ModelVersion(backend="baseline", name="baseline-v1", dataset_id=dataset.id)
        session.add(version)
        session.flush()
        ids = clip_ids_by_name(session, dataset_id=dataset.id, names=["sample_00000001", "sample_00000002"])
        session.add(Prediction(clip_id=ids["sample_00000001"], model_version_id=version.id, emotion="angry",
                               clues={"facial": "He frowns.", "vocal": "He shouts."}))
        session.add(Prediction(clip_id=ids["sample_00000002"], model_version_id=version.id, emotion="sad",
                               clues={"facial": "她低着头。"}))
        session.commit()
        return {"dataset": dataset.id, "lead": lead.id, "researcher": researcher.id, "version": version.id, "labels": mer2023_labels}


def _user(user_id: int) -> User:
    with Session(get_engine(), expire_on_commit=False) as session:
        return session.get(User, user_id)


def clip_ids_by_name_now(dataset_id: int, names: list[str]) -> dict[str, int]:
    with Session(get_engine()) as session:
        return clip_ids_by_name(session, dataset_id=dataset_id, names=names)


def _page(user_id: int) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["user_id"] = user_id
    return at.run()


def test_researcher_scores_a_model_on_the_imported_reference(seeded):
    at = _page(seeded["researcher"])
    assert not at.exception, at.exception
    at.selectbox(key="fmt_reference").select("reference:emer-gt").run()
    assert at.multiselect(key="fmt_systems").value == [f"model:{seeded['version']}"]
    at.button(key="fmt_score").click().run()
    assert not at.exception, at.exception
    job = run_job_inline(at.session_state["fmt_eval_job"])  # what the worker does
    assert job.state == "done", job.error
    at.run()
    assert not at.exception, at.exception
    table = at.session_state["fmt_table"]
    assert list(table["system"]) == [f"Model baseline-v1 (#{seeded['version']})"]
    assert table.iloc[0]["accuracy"] == 0.5 and table.iloc[0]["clips"] == 2
    # 0–1 scores and 0–10 clue overlaps each get their own chart, never one shared axis.
    assert [c.key for c in at.get("plotly_chart")] == ["fmt_chart_1", "fmt_chart_10"]
    assert any("Importing research data is for leads" in i.value for i in at.info)


def test_lead_imports_from_a_server_path_and_downloads_an_export(seeded):
    import shutil

    from core.settings import get_settings

    imports = get_settings().data_dir / "imports"  # the app reads only under its import roots
    imports.mkdir(parents=True, exist_ok=True)
    labels = Path(shutil.copy(seeded["labels"], imports))
    at = _page(seeded["lead"])
    at.text_input(key="fmt_server_path").input(str(labels)).run()
    at.button(key="fmt_import").click().run()
    assert not at.exception, at.exception
    # The import runs as a job with progress, not inside the page request.
    job_id = at.session_state["fmt_import_job"]
    assert clip_ids_by_name_now(seeded["dataset"], ["sample_3", "sample_4"]) == {}
    job = run_job_inline(job_id)
    assert job.state == "done", job.error
    at.run()
    assert not at.exception, at.exception
    assert "2 new clip(s)" in at.warning[0].value  # two rows of the label file are malformed or duplicated
    assert set(clip_ids_by_name_now(seeded["dataset"], ["sample_3", "sample_4"])) == {"sample_3", "sample_4"}
    at.selectbox(key="fmt_export_source").select("reference:emer-gt").run()
    at.selectbox(key="fmt_format_out").select("merr-fine").run()
    at.button(key="fmt_export").click().run()
    assert not at.exception, at.exception
    job = run_job_inline(at.session_state["fmt_export_job"])  # what the worker does
    assert job.state == "done", job.error
    at.run()
    assert not at.exception, at.exception
    name, path = at.session_state["fmt_download"]
    assert name == "emer-reference-emer-gt-all-merr-fine.zip" and Path(path).read_bytes()[:2] == b"PK"


def test_scoring_job_reports_a_missing_judge(seeded):
    from annotation.formats.jobs import EVALUATE_KIND
    from annotation.jobs import enqueue

    job_id = enqueue(EVALUATE_KIND, params={"dataset_id": seeded["dataset"], "reference": "reference:emer-gt",
                                            "systems": [f"model:{seeded['version']}"], "use_judge": True},
                     user=_user(seeded["researcher"]))
    job = run_job_inline(job_id)
    assert job.state == "failed" and "no LLM judge" in job.error


def test_scoring_job_returns_the_table(seeded):
    from annotation.formats.jobs import EVALUATE_KIND
    from annotation.jobs import enqueue

    job_id = enqueue(EVALUATE_KIND, params={"dataset_id": seeded["dataset"], "reference": "reference:emer-gt",
                                            "systems": [f"model:{seeded['version']}", "consensus"]},
                     user=_user(seeded["researcher"]))
    job = run_job_inline(job_id)
    assert job.state == "done" and job.done == 2
    rows = {r["system"]: r for r in job.result["table"]}
    assert rows[f"model:{seeded['version']}"]["accuracy"] == 0.5
    assert rows["consensus"]["clips"] == 0


def test_import_job_imports_file_by_file_and_keeps_the_good_files(seeded, emer_v1, tmp_path):
    from annotation.formats.jobs import IMPORT_KIND
    from annotation.jobs import enqueue
    from core.settings import get_settings

    imports = get_settings().data_dir / "imports"
    imports.mkdir(parents=True, exist_ok=True)
    good = imports / "train-label.csv"
    good.write_text("name,discrete,valence\nclip_new_1,happy,2.5\nclip_new_2,sad,-1\n", encoding="utf-8")
    unknown = imports / "notes.txt"
    unknown.write_text("nothing a format knows\n", encoding="utf-8")
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("name,discrete\nclip_x,happy\n", encoding="utf-8")
    job_id = enqueue(IMPORT_KIND, params={"dataset_id": seeded["dataset"], "paths": [str(unknown), str(good),
                                                                                      str(outside)]},
                     user=_user(seeded["lead"]))
    job = run_job_inline(job_id)
    assert job.state == "done", job.error
    assert (job.total, job.done) == (3, 3)
    assert job.result["created"] == 2
    reasons = {e["name"]: e["reason"] for e in job.result["errors"]}
    assert set(reasons) == {"notes.txt", "elsewhere.csv"}, reasons
    assert set(clip_ids_by_name_now(seeded["dataset"], ["clip_new_1", "clip_new_2", "clip_x"])) == {
        "clip_new_1", "clip_new_2"}
    again = run_job_inline(enqueue(IMPORT_KIND, params={"dataset_id": seeded["dataset"], "paths": [str(good)]},
                                   user=_user(seeded["lead"])))
    assert again.state == "done" and again.result["created"] == 0 and again.result["duplicates"] == 2


def test_only_leads_queue_research_imports(seeded):
    from annotation.formats.jobs import IMPORT_KIND
    from annotation.jobs import enqueue
    from annotation.permissions import PermissionDenied

    with pytest.raises(PermissionDenied):
        enqueue(IMPORT_KIND, params={"dataset_id": seeded["dataset"], "paths": []}, user=_user(seeded["researcher"]))

"""The Models page: versions, charts, and actions that start jobs."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from annotation.jobs import list_jobs
from db.queries import model_versions as q
from model.training import train_version
from tests.model.conftest import add_labelled_clips

ROOT = Path(__file__).resolve().parents[2]


def _page(user_id: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/models.py"), default_timeout=60)
    at.session_state["user_id"] = user_id
    return at.run()


def test_lead_sees_versions_and_charts_and_can_start_jobs(app_db, dataset, lead):
    add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=24)
    version = train_version(dataset_id=dataset.id, user=lead)
    at = _page(lead.id)
    assert not at.exception, at.exception
    assert at.title[0].value == "Models"
    table = at.dataframe[0].value
    assert list(table["name"]) == ["baseline-untrained", version.name]
    assert table.loc[version.id, "weighted F1"] == version.metrics["held_out"]["weighted_f1"]
    assert len(at.get("plotly_chart")) == 2

    [b for b in at.button if b.label == "Train on consensus"][0].click().run()
    assert not at.exception
    assert [j.kind for j in list_jobs(limit=5)] == ["train"]
    [b for b in at.button if b.label == "Promote"][0].click().run()
    assert not at.exception
    with Session(app_db) as session:
        assert q.active_version(session, dataset_id=dataset.id).id == version.id
    assert list_jobs(limit=1)[0].kind == "predict"


def test_annotator_is_turned_away(app_db, dataset, annotator):
    at = _page(annotator.id)
    assert not at.exception
    assert "leads and researchers" in at.error[0].value


def test_a_missing_emotion_llm_checkpoint_is_explained_on_the_page(app_db, dataset, lead, monkeypatch, tmp_path):
    from core.settings import get_settings

    monkeypatch.setenv("CLUELAB_MODEL_BACKEND", "emotion_llm")
    monkeypatch.setenv("CLUELAB_EMOTION_LLM_LM", str(tmp_path / "no-such-model"))
    get_settings.cache_clear()
    at = _page(lead.id)
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any("language model (CLUELAB_EMOTION_LLM_LM=" in e and "the folder does not exist" in e for e in errors), errors

"""The Models page chooses a version that appeared since it last ran (a training job just ended)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from db.engine import get_engine
from db.models import Dataset, ModelVersion

ROOT = Path(__file__).resolve().parents[2]


def test_a_new_version_is_chosen_when_it_appears(accounts):
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = Dataset(name="pilot", label_set=["happy", "sad"])
        session.add(dataset)
        session.flush()
        old = ModelVersion(backend="baseline", name="v1", dataset_id=dataset.id)
        session.add(old)
        session.commit()
    at = AppTest.from_file(str(ROOT / "pages/models.py"), default_timeout=120)
    at.session_state["user_id"] = accounts["lead"]
    at.run()
    assert at.selectbox(key="models_version").value == f"v1 (#{old.id})"
    with Session(get_engine(), expire_on_commit=False) as session:
        new = ModelVersion(backend="baseline", name="v2", dataset_id=dataset.id)
        session.add(new)
        session.commit()
    at.run()
    assert not at.exception
    assert at.selectbox(key="models_version").value == f"v2 (#{new.id})"
    at.selectbox(key="models_version").set_value(f"v1 (#{old.id})").run()
    assert at.selectbox(key="models_version").value == f"v1 (#{old.id})"  # the lead's own choice then stays

"""Every CSV ClueLab hands out neutralises spreadsheet formulas, downloads on pages included."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from sqlmodel import Session
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from annotation.csv_cells import dataframe_csv
from annotation.evaluation.openset_csv import read_openset_csv, write_openset_csv
from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import Consensus
from tests.annotation.factories_consensus import make_annotation, make_clip, make_dataset, make_user

ROOT = Path(__file__).resolve().parents[2]
FORMULA = '=HYPERLINK("http://x","y")'


@pytest.fixture
def downloads(monkeypatch):
    """The bytes of every download the page offers (kept by Streamlit's media storage): a spy, not a stand-in."""
    seen: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):  # noqa: ANN001
        if isinstance(path_or_data, bytes) and filename:
            seen[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return seen


def cells(data: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for cell in row]


def test_agreement_downloads_neutralise_a_formula_display_name(downloads):
    st.cache_data.clear()
    upgrade_to_head(get_engine())
    with Session(get_engine()) as session:
        lead = make_user(session, "lead", "lead")
        people = [make_user(session, f"ann{i}", "annotator") for i in range(2)]
        people[0].display_name = FORMULA
        dataset = make_dataset(session, name="pilot")
        for c in range(4):
            clip = make_clip(session, dataset, f"c{c}")
            for i, who in enumerate(people):
                make_annotation(session, clip, who, emotion=["happy", "sad"][(c + i) % 2], rating=1 + c % 4,
                                clues={"facial": "He smiles."}, submitted_at=datetime(2026, 11, 2 + c, tzinfo=UTC))
            session.add(Consensus(clip_id=clip.id, emotion="happy", clues={"facial": "He smiles."}))
        session.commit()
        lead_id = lead.id
    at = AppTest.from_file(str(ROOT / "pages" / "agreement.py"), default_timeout=120)
    at.session_state["user_id"] = lead_id
    at.run()
    assert not at.exception, at.exception
    offered = [cell for name, data in downloads.items() if name.endswith(".csv") for cell in cells(data)]
    assert "'" + FORMULA in offered, sorted(downloads)
    assert not [cell for cell in offered if cell.startswith(("=", "+", "@"))]


def test_dataframe_csv_neutralises_every_text_cell_and_keeps_numbers():
    frame = pd.DataFrame({"name": [FORMULA, "+1", "-cmd", "@SUM(A1)", "plain"], "value": [1.5, -2.0, None, 0.0, 3.0]})
    text = dataframe_csv(frame).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "value"]
    assert [r[0] for r in rows[1:]] == ["'" + FORMULA, "'+1", "'-cmd", "'@SUM(A1)", "plain"]
    assert [r[1] for r in rows[1:]] == ["1.5", "-2.0", "", "0.0", "3.0"]


def test_openset_files_neutralise_names_and_read_back(tmp_path):
    path = tmp_path / "pred.csv"
    write_openset_csv(path, {FORMULA: ["happy"], "sample_1": ["sad", "angry"]})
    assert "'" + FORMULA in cells(path.read_bytes())
    assert set(read_openset_csv(path).rows) == {FORMULA, "sample_1"}

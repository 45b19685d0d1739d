"""Imported reasoning shows in every language its source has (EMER v2 keeps English and Chinese)."""

from __future__ import annotations

from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from db.models import Clip, Dataset, Reference
from db.queries.references import references_for_clip


def _view() -> None:
    from components.references import show_references
    from db.models import Reference

    show_references([Reference(
        clip_id=1, source="emer-gt", emotion="angry", language="en",
        reasoning="In the video, he frowns. In the audio, he shouts.",
        clues={"facial": "He frowns.", "vocal": "He shouts."},
        translations={"zh": {"reasoning": "在视频中，他皱眉。在音频中，他大喊。",
                             "clues": {"facial": "他皱眉。", "vocal": "他大喊。"}}},
        spans=[{"start": 1.2, "label": "AU4"}])])


def test_both_languages_are_shown_side_by_side():
    at = AppTest.from_function(_view).run()
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert "In the video, he frowns." in shown and "在视频中，他皱眉。" in shown
    assert "**Facial expression & body**: He frowns." in shown
    assert "**面部表情与肢体**: 他皱眉。" in shown
    assert [c.value for c in at.caption][:2] == ["English", "中文"]
    assert any("1.2 s (AU4)" in c.value for c in at.caption)


def test_references_for_clip_lists_every_source(db_engine):
    with Session(db_engine) as session:
        dataset = Dataset(name="d")
        session.add(dataset)
        session.flush()
        clip = Clip(dataset_id=dataset.id, name="c")
        session.add(clip)
        session.flush()
        session.add_all([Reference(clip_id=clip.id, source="mer-factory", reasoning="b"),
                         Reference(clip_id=clip.id, source="emer-gt", reasoning="a")])
        session.flush()
        assert [r.source for r in references_for_clip(session, clip_id=clip.id)] == ["emer-gt", "mer-factory"]

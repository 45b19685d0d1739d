"""End to end through the app: a researcher creates a preference study, two raters answer A/B/same blind,
the results show Bradley–Terry strengths with intervals."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from annotation.jobs import run_job_inline
from db.engine import get_engine
from db.models import Study
from tests.studies.factories import build_world

ROOT = Path(__file__).resolve().parents[2]


def _app(user_id: int, page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["user_id"] = user_id
    at.run()
    return at.switch_page(str(ROOT / page)).run()


def test_preference_study_end_to_end(accounts):
    with Session(get_engine(), expire_on_commit=False) as session:
        world = build_world(session, clips=3, raters=0, uncovered=0, prefix="w-")
    model, consensus = world.systems[:2]

    at = _app(accounts["researcher"], "pages/studies.py")
    at.radio(key="study_kind").set_value("preference").run()
    at.text_input(key="study_name").input("Which description is better?")
    at.multiselect(key="study_systems").set_value([model, consensus])
    at.number_input(key="study_clips").set_value(3)
    at.slider(key="study_repeat_share").set_value(0.35)
    at.button(key="study_create").click().run()
    run_job_inline(at.session_state["study_create_job"])
    at.run()
    assert not at.exception and not at.error, at.exception or at.error
    at.button(key="study_open").click().run()
    with Session(get_engine()) as session:
        study = session.get(Study, 1)
        assert (study.kind, study.status, study.settings["repeat_share"]) == ("preference", "open", 0.35)

    for rater in ("annotator", "lead"):
        page = _app(accounts[rater], "pages/rate_study.py")
        assert not page.exception, page.exception
        answered = 0
        while not page.success:
            text = " ".join(str(m.value) for m in page.markdown)
            assert "Description A" in [s.value for s in page.subheader]
            for name in [model, consensus, "baseline", "emer-gt"]:
                assert name not in text  # blind: no system names
            sides = [str(m.value) for m in page.markdown if "In the video" in str(m.value)]
            choice = "A" if "mouth rise" in sides[0] else "B"  # both raters prefer the model's description
            page.button(key=f"prefer_{choice}").click().run()
            assert not page.exception, page.exception
            answered += 1
        assert answered == 3 + 1  # 3 pairs, one swapped repeat (35% of 3, rounded)
        assert "answered every pair" in page.success[0].value

    at = _app(accounts["researcher"], "pages/studies.py")
    assert not at.exception, at.exception
    table = next(df.value for df in at.dataframe if "strength" in df.value.columns).set_index("system")
    assert table.loc[model, "strength"] > 0 > table.loc[consensus, "strength"]
    assert table.loc[model, "win_rate"] == 1.0 and table.loc[model, "comparisons"] == 6
    assert "regularised" in " ".join(c.value for c in at.caption)  # the model never lost: no ML estimate
    consistency = next(df.value for df in at.dataframe if "share" in df.value.columns)
    assert list(consistency["share"]) == [1.0, 1.0]
    assert len(at.get("plotly_chart")) >= 1
    assert any(b.label.startswith("MER-Prefer CSV") for b in at.get("download_button"))

"""The word diff shown under clues and on the Adjudicate page keeps numbers, units and Mandarin intact."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotation.text import word_diff
from components.clue_editor import diff_markup
from components.diff_view import diff_html

MODEL = "The person smiles (AU12 0.52). Moderate pace, 3.5 syllables/s; pitch 282.5 Hz."
EDITED = "The person smiles broadly (AU12 0.52). Moderate pace, 3.5 syllables/s; pitch 282.5 Hz, 34% above median."


@pytest.mark.parametrize("render", [diff_html, diff_markup])
def test_rendered_diff_keeps_decimals_and_units(render):
    shown = render(MODEL, EDITED)
    for whole in ("0.52", "3.5 syllables/s", "282.5 Hz", "34%"):
        assert whole in shown
    for broken in ("0. 52", "3. 5", "syllables / s", "282. 5"):
        assert broken not in shown


def test_diff_runs_rebuild_both_texts_byte_for_byte():
    before = "音域 3.7 个半音；音量最高比中位数高 9 dB。"
    after = "音域 3.7 个半音；音量比中位数高 9.5 dB，声音不稳。"
    parts = word_diff(before, after)
    # Every run is a verbatim piece of its text, and the pieces come back in order, words kept apart.
    assert "".join(p.lead + p.text for p in parts if p.op != "removed").split() == after.split()
    assert "".join(p.lead + p.text for p in parts if p.op != "added").split() == before.split()


words = st.sampled_from(["pitch", "282.5", "Hz,", "AU12", "0.52", "(lip", "pull)", "3.5", "syllables/s;", "calm."])


@given(st.lists(words, min_size=1, max_size=12), st.lists(words, min_size=1, max_size=12))
def test_property_runs_rebuild_the_edited_text(a, b):
    before, after = " ".join(a), " ".join(b)
    parts = word_diff(before, after)
    # Every run is a verbatim piece of its text, and the pieces come back in order, words kept apart.
    assert "".join(p.lead + p.text for p in parts if p.op != "removed").split() == after.split()
    assert "".join(p.lead + p.text for p in parts if p.op != "added").split() == before.split()

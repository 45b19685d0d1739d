"""Reference-free clue-quality flags beside a clue: grounding per aspect, consistency, modality coverage.

A small caption per aspect ("✓ smile: AU12 peaks at 0.62", "⚠ raised voice: loudness rises 1.2 dB…"),
so an annotator or lead sees at a glance which of the model's claims the measurements back.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from annotation.evaluation.clue_quality import MODALITIES, OK, UNSUPPORTED, ClueQuality
from annotation.evaluation.quality_report import prediction_quality as _prediction_quality
from annotation.evaluation.quality_report import system_quality
from core.vocabulary import ASPECTS, Aspect
from model.notes import read_notes

_MARK = {OK: "✓", UNSUPPORTED: "⚠", "unknown": "?"}


def prediction_quality(*, prediction_id: int, consistency: bool = True) -> ClueQuality | None:
    """Not cached: it takes milliseconds (after the encoder's first load), and a cache keyed by id would
    outlive the row it describes. The Annotate page asks without consistency (no sentence encoder)."""
    return _prediction_quality(prediction_id=prediction_id, consistency=consistency)


def aspect_caption(quality: ClueQuality, aspect: Aspect) -> str | None:
    claims = quality.aspect_claims(aspect)
    if not claims:
        return None
    score = quality.grounding(aspect)
    head = "grounding: nothing checkable" if score is None else f"grounding {score:.0%}"
    return f"{aspect.title} · {head} · " + " · ".join(f"{_MARK[c.status]} {c.claim}: {c.detail}" for c in claims)


def aspect_flags(quality: ClueQuality | None, aspect: Aspect) -> None:
    """One caption under an aspect's clue: its checked claims."""
    if quality is None:
        return
    caption = aspect_caption(quality, aspect)
    if caption:
        st.caption(caption)


def overall_caption(quality: ClueQuality) -> str:
    used = [m for m in MODALITIES if quality.coverage.get(m)]
    coverage = f"uses {', '.join(used) if used else 'no modality'} ({len(used)}/{len(MODALITIES)})"
    if quality.consistent is None:
        consistency = "consistency with the emotion is checked on Adjudicate and Evaluate"
    elif quality.consistent:
        consistency = f"✓ reasoning fits the stated emotion (margin {quality.consistency:+.2f})"
    else:
        consistency = (f"⚠ reasoning reads closer to “{quality.nearest_emotion}” than the stated emotion "
                       f"(margin {quality.consistency:+.2f})")
    return f"Model clue check: {consistency} · {coverage}"


def quality_flags(quality: ClueQuality | None) -> None:
    """The model's reasoning checked without a reference: a line overall and one per aspect with claims."""
    if quality is None:
        return
    with st.container(border=True):
        st.caption(overall_caption(quality))
        for aspect in ASPECTS:
            aspect_flags(quality, aspect)


def show_system_quality(*, dataset_id: int, sources: list[str], labels: dict[str, str]) -> None:
    """The Evaluate page's clue-quality section: pick systems, score, table."""
    st.caption("Reference-free checks of each system's reasoning: the share of checkable claims that the "
               "clip's measurements back (per aspect), the share of reasonings whose text fits their stated "
               "emotion, and which modalities (audio, visual, content) they use.")
    systems = [s for s in sources if s != "annotations" and not s.endswith("*")]
    chosen = st.multiselect("Systems", systems, default=[s for s in systems if s.startswith("model:")],
                            format_func=lambda s: labels.get(s, s), key="quality_systems")
    if st.button("Check clues", disabled=not chosen, key="quality_score"):
        try:
            table = system_quality(dataset_id=dataset_id, systems=chosen)
        except (LookupError, ValueError) as error:
            st.error(str(error))
            return
        if table.empty:
            st.info("None of these systems has clues on this dataset.")
            return
        table = table.assign(system=[labels.get(s, s) for s in table["system"]])
        percent = {c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
                   for c in table.columns if c.startswith(("grounded_", "uses_")) or c in ("consistent", "coverage")}
        st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch", column_config=percent,
                     key="quality_table")


def model_self_check(*, spans: list | None, uncertainty: float | None) -> None:
    """What the model said about its own answer: the clues its verification pass contradicted, and its
    uncertainty (normalised entropy of its emotion distribution; the queue serves uncertain clips first)."""
    flags = read_notes(spans)["flags"]
    lines = [f"⚠ {Aspect(aspect).title}: the model's own check contradicts this clue — {why}"
             for aspect, why in flags.items() if aspect in {a.value for a in ASPECTS}]
    if uncertainty is not None:
        lines.append(f"Model uncertainty {uncertainty:.2f} (0 sure, 1 undecided)")
    for line in lines:
        st.caption(line)

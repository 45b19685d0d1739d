"""Rate a study (annotator, researcher, lead): a clip and its outputs, blind, each rated 1–4; or, in a
preference study, two descriptions A and B answered with A, B or same.

System names never reach this page: outputs are Output A, B, C… (or Description A, B) in a per-rater order.
"""

import streamlit as st

from annotation.permissions import PermissionDenied
from annotation.preference import answer, next_pair_for
from annotation.studies import StudyError, clip_for, items_at, next_items_for, rate, studies_to_rate
from components.media import show_clip_media
from components.navigation import guard
from components.text import plain
from core.vocabulary import REASONING_RATINGS, PreferenceChoice, StudyKind

user = guard("pages/rate_study.py")
st.title("Rate a study")

studies = studies_to_rate(user=user)
if not studies:
    st.info("No study is open for you to rate.")
    st.stop()
by_id = {s.id: s for s in studies}
study = by_id[st.selectbox("Study", list(by_id), format_func=lambda i: by_id[i].name, key="rate_study")]
if study.description:
    st.markdown(plain(study.description))


def _answer(study_id: int, rank: int, choice: str) -> None:
    """Runs before the next page run, so the page then shows the next pair."""
    try:
        answer(user=user, study_id=study_id, rank=rank, choice=choice)
    except (StudyError, PermissionDenied) as exc:
        st.session_state["rate_message"] = str(exc)


if study.kind == StudyKind.preference.value:
    try:
        pair = next_pair_for(user=user, study_id=study.id)
        clip = clip_for(clip_id=pair.clip_id) if pair else None
    except (StudyError, PermissionDenied) as exc:
        st.error(str(exc))
        st.stop()
    if pair is None:
        st.success("You have answered every pair of this study. Thank you!")
        st.stop()
    st.progress(pair.done / pair.total, text=f"{pair.done} of {pair.total} pairs answered")
    show_clip_media(clip, key=f"study_player_{clip.id}")
    st.markdown("**Which description explains the person's emotion better?**")
    for column, side in zip(st.columns(2), (pair.a, pair.b), strict=True):
        with column, st.container(border=True):
            st.subheader(side.label)
            if side.emotion:
                st.markdown(f"**Emotion:** {side.emotion}")
            st.markdown(side.text)
    better_a, same, better_b = st.columns(3)
    # Button keys carry only the study and the rater's own position, never an item or system.
    for column, (label, choice) in zip((better_a, same, better_b), (("A is better", PreferenceChoice.a),
                                                                    ("About the same", PreferenceChoice.same),
                                                                    ("B is better", PreferenceChoice.b)), strict=True):
        column.button(label, key=f"prefer_{choice.value}", width="stretch", on_click=_answer,
                      args=(study.id, pair.rank, choice.value), type="primary" if choice != "same" else "secondary")
    if message := st.session_state.pop("rate_message", None):
        st.warning(message)
    st.stop()

# Back to an earlier clip: the rank (position in this rater's order) shown instead of the next unrated clip.
back_key = f"rate_back_to_{study.id}"
try:
    shown = None
    if st.session_state.get(back_key) is not None:
        shown = items_at(user=user, study_id=study.id, rank=st.session_state[back_key])
        if shown is None:
            st.session_state.pop(back_key, None)
    if shown is None:
        shown = next_items_for(user=user, study_id=study.id)
    clip = clip_for(clip_id=shown.clip_id) if shown else None
except (StudyError, PermissionDenied) as exc:
    st.error(plain(exc))
    st.stop()
if shown is None:
    st.success("You have rated every clip of this study. Thank you!")
    st.stop()

st.progress(shown.clips_done / shown.clips_total, text=f"{shown.clips_done} of {shown.clips_total} clips rated")
if st.session_state.get(back_key) is not None:
    st.caption(f"Clip {shown.rank + 1} of {shown.clips_total}, rated earlier: change what you like and save.")
show_clip_media(clip, key=f"study_player_{clip.id}")  # video or audio with its clickable transcript

st.markdown("**How good is each output's reasoning?** Rate every output; the comment is optional.")


def _keys(blind, position: int) -> tuple[str, str]:  # noqa: ANN001
    """Widget keys by display position: keys reach the browser, so they carry no item or system id."""
    where = f"{blind.study_id}_{blind.clip_id}_{position}"
    return f"rate_{where}", f"comment_{where}"


for position, (column, output) in enumerate(zip(st.columns(len(shown.outputs)), shown.outputs, strict=False)):
    with column, st.container(border=True):
        st.subheader(plain(output.label))
        if output.emotion:
            st.markdown(f"**Emotion:** {plain(output.emotion)}")
        st.markdown(plain(output.text))
        st.radio("Rating", list(REASONING_RATINGS), index=None if output.rating is None else output.rating - 1,
                 format_func=lambda v: f"{v} · {REASONING_RATINGS[v]}", key=_keys(shown, position)[0])
        st.text_input("Comment (optional)", value=output.comment, key=_keys(shown, position)[1])


def _save(blind) -> None:  # noqa: ANN001
    """Runs before the next page run, so the page then shows the next clip."""
    outputs = blind.outputs
    missing = [o.label for i, o in enumerate(outputs) if st.session_state.get(_keys(blind, i)[0]) is None]
    if missing:
        st.session_state["rate_message"] = f"Rate every output first; not rated yet: {', '.join(missing)}."
        return
    try:
        for position, output in enumerate(outputs):
            rating_key, comment_key = _keys(blind, position)
            rate(user=user, item_id=output.item_id, rating=st.session_state[rating_key],
                 comment=st.session_state.get(comment_key, ""))
    except (StudyError, PermissionDenied) as exc:
        st.session_state["rate_message"] = str(exc)
        return
    if st.session_state.get(back_key) is not None:  # walking forward again through rated clips
        st.session_state[back_key] = blind.rank + 1


def _back(blind) -> None:  # noqa: ANN001
    st.session_state[back_key] = blind.rank - 1


if shown.rank > 0:
    st.button("◀ Back", key="rate_back", on_click=_back, args=(shown,), help="Go back to the clip before this one.")
st.button("Save and go to the next clip", type="primary", key="rate_save", on_click=_save, args=(shown,))
if message := st.session_state.pop("rate_message", None):
    st.warning(plain(message))

"""Adjudicate: a lead turns a clip's annotations into its consensus, lowest agreement first."""

from __future__ import annotations

import streamlit as st

from annotation.accounts import users_by_id
from annotation.datasets import list_datasets
from annotation.jobs import enqueue
from annotation.labelling import adjudication
from annotation.permissions import PermissionDenied
from components import agreement_charts as charts
from components import clue_flags, emotion_words, llm_merge
from components.diff_view import render_clue_comparison
from components.jobs import job_progress
from components.media import show_clip_media
from components.navigation import guard
from components.shortcuts import shortcuts
from components.text import plain
from components.times import when
from core.vocabulary import ASPECTS, REASONING_RATINGS

_UNSEEN = "unseen"


def load_queue(dataset_id: int):
    # Built once per server process, then refreshed in the background; a decision taken here leaves it at once.
    with st.spinner("Ranking clips by agreement…"):
        return adjudication.cached_queue(dataset_id)


def step(delta: int, size: int) -> None:
    st.session_state["adjudicate.pos"] = (st.session_state.get("adjudicate.pos", 0) + delta) % size


def finish(message: str, clip_id: int, *, undo: dict | None = None) -> None:
    adjudication.queue_decided(dataset_id, clip_id)
    st.session_state["adjudicate.flash"] = message
    st.session_state["adjudicate.toast"] = message
    st.session_state["adjudicate.last"] = undo and {**undo, "message": message}  # what Undo takes back
    st.rerun()


def _points(n: int) -> str:
    return f"{n} point" if n == 1 else f"{n} points"


def undo_last() -> None:
    """Take back the last accepted consensus; the clip waits again and the page shows it."""
    last = st.session_state.get("adjudicate.last") or {}
    try:
        adjudication.undo_accept(user=user, consensus_id=last["consensus_id"])
    except (PermissionDenied, LookupError, adjudication.ConsensusInUse) as error:
        st.session_state["adjudicate.undo_error"] = str(error)
        return
    adjudication.queue_reopened(last["dataset_id"])
    st.session_state["adjudicate.last"] = None
    st.session_state["adjudicate.goto"] = last["clip_id"]
    message = f"Undone: {last['clip_name']} waits for a decision again."
    st.session_state["adjudicate.flash"] = message
    st.session_state["adjudicate.toast"] = message


def last_decision() -> None:
    """The outcome of the last decision, where the buttons are; after an Accept, with Undo until the next decision."""
    last = st.session_state.get("adjudicate.last")
    flash = st.session_state.pop("adjudicate.flash", None)
    if last and last.get("dataset_id") == dataset_id:
        message_col, undo_col = st.columns([5, 1], vertical_alignment="center")
        message_col.success(plain(last["message"]), icon=":material/check_circle:")
        undo_col.button("Undo", key="adjudicate.undo", on_click=undo_last, icon=":material/undo:",
                        help="Take this consensus back; possible until the clip changes again or a model is "
                             "trained on it.")
    elif flash:
        st.success(plain(flash), icon=":material/check_circle:")
    if error := st.session_state.pop("adjudicate.undo_error", None):
        st.error(plain(error))


user = guard("pages/adjudicate.py")
st.title("Adjudicate")
if message := st.session_state.pop("adjudicate.toast", None):
    st.toast(plain(message), icon=":material/check_circle:")

datasets = {d.id: d for d in list_datasets()}
if not datasets:
    st.info("No datasets yet.")
    st.stop()
dataset_id = st.selectbox("Dataset", list(datasets), format_func=lambda i: datasets[i].name, key="adjudicate.dataset")
dataset = datasets[dataset_id]

with st.expander("Automatic acceptance"):
    settings = dataset.settings or {}
    st.write(
        f"Emotion posterior ≥ {settings.get('auto_accept_posterior', '— (off)')}, "
        f"clue agreement ≥ {settings.get('auto_accept_clue_agreement', '— (any)')}."
    )
    enabled = "auto_accept_posterior" in settings
    if st.button("Accept every clip that passes", key="adjudicate.auto", disabled=not enabled):
        st.session_state["adjudicate.auto_job"] = enqueue("auto-accept", params={"dataset_id": dataset_id}, user=user)
    if st.session_state.get("adjudicate.auto_job"):
        # When it ends, the clips it accepted leave this process's cached queue at once.
        job_progress(st.session_state["adjudicate.auto_job"], on_end=lambda: adjudication.queue_reopened(dataset_id))

queue, emotion_model = load_queue(dataset_id)
if not queue:
    st.success("No clip is waiting for adjudication in this dataset.")
    last_decision()
    st.stop()
if (goto := st.session_state.pop("adjudicate.goto", None)) is not None:
    st.session_state["adjudicate.pos"] = next((i for i, q in enumerate(queue) if q.clip_id == goto), 0)
position = st.session_state.get("adjudicate.pos", 0) % len(queue)
item = queue[position]

left, middle, right = st.columns([1, 3, 1])
left.button("◀ Previous", key="adjudicate.prev", on_click=step, args=(-1, len(queue)), help="Alt+K")
middle.markdown(f"**{plain(item.clip_name)}** · {position + 1} of {len(queue)} waiting · agreement {item.agreement:.2f}")
right.button("Next ▶", key="adjudicate.next", on_click=step, args=(1, len(queue)), help="Alt+J")
middle.caption("Lowest agreement first. Alt+J next clip, Alt+K previous clip.")
shortcuts({"adjudicate.next": "alt+j", "adjudicate.prev": "alt+k"}, key="adjudicate.keys")

seen_key = f"adjudicate.seen.{item.clip_id}"
seen = st.session_state.get(seen_key, _UNSEEN)
proposal = adjudication.propose(clip_id=item.clip_id, emotion_model=emotion_model)
people = users_by_id(user_ids=[a.user_id for a in proposal.annotations + proposal.skipped])
names = {uid: (u.display_name or u.username) for uid, u in people.items()}
now = proposal.current.version if proposal.current else None
if seen == _UNSEEN:
    seen = now
if proposal.current is not None:
    st.caption(f"Current consensus: revision {proposal.current.revision} ({proposal.current.method}), "
               f"accepted {when(proposal.current.accepted_at)}; accepting adds a new revision.")

clip = proposal.clip
show_clip_media(clip, spans=proposal.prediction.spans if proposal.prediction else [],
                key="adjudicate_player")

st.subheader("Emotion")
emotion = proposal.emotion
choices = list(emotion.posterior) if emotion else list(dataset.label_set)
chosen_emotion = None
if choices:
    votes_col, posterior_col = st.columns([1, 2])
    with votes_col:
        for annotation in proposal.annotations:
            st.markdown(f"{plain(names.get(annotation.user_id, annotation.user_id))}: "
                        f"{plain(adjudication.vote_label(annotation) or '—')}")
        chosen_emotion = st.selectbox(
            "Consensus emotion", choices, index=choices.index(emotion.label) if emotion else 0,
            key=f"adjudicate.{clip.id}.emotion",
        )
    with posterior_col:
        if emotion:
            st.caption(f"{emotion.method.replace('_', '–').title()} posterior")
            st.plotly_chart(charts.posterior_chart(emotion.posterior, emotion.votes), key=f"posterior-{clip.id}")

edited_words = None
if dataset.open_vocabulary:
    st.subheader("Emotion words")
    for annotation in proposal.annotations:
        st.markdown(f"{plain(names.get(annotation.user_id, annotation.user_id))}: "
                    f"{emotion_words.word_badges(annotation.emotion_words or [])}")
    if proposal.word_votes:
        emotion_words.category_votes(proposal.word_votes, n_annotators=len(proposal.annotations),
                                     metric=proposal.word_metric)
    words_key = emotion_words.words_key(f"adjudicate_{clip.id}")
    if words_key not in st.session_state:
        st.session_state[words_key] = list(proposal.emotion_words)
    edited_words = emotion_words.emotion_words_picker(
        clip_id=f"adjudicate_{clip.id}", on_change=lambda: None, label="Consensus emotion words",
        model_words=proposal.prediction.emotion_words if proposal.prediction else [])

st.subheader("Reasoning rating")
if proposal.rating:
    st.write(f"Median {proposal.rating.median:.0f} ({REASONING_RATINGS[int(proposal.rating.median)]}), "
             f"spread {proposal.rating.spread:.0f}; "
             + ", ".join(f"{n}× {rating}" for rating, n in proposal.rating.counts.items()))
else:
    st.write("Nobody rated the model's reasoning.")

llm_merge.ask_button(user=user, clip_id=clip.id, language=clip.language or "en", clues_by_aspect={
    aspect.value: list(proposal.aspects[aspect].clues.values()) for aspect in ASPECTS})
edited_clues = {}
quality = clue_flags.prediction_quality(prediction_id=proposal.prediction.id) if proposal.prediction else None
if quality is not None:
    st.caption(clue_flags.overall_caption(quality))
if proposal.prediction is not None:
    clue_flags.model_self_check(spans=proposal.prediction.spans, uncertainty=proposal.prediction.uncertainty)
for aspect in ASPECTS:
    part = proposal.aspects[aspect]
    st.subheader(aspect.title)
    agreement = "—" if part.agreement is None else f"{part.agreement:.2f}"
    if not any(text.strip() for text in part.clues.values()):
        st.caption("No annotator described this aspect.")
    else:
        st.caption(f"Clue agreement {agreement} (1 means everyone wrote the same). "
                   f"{_points(len(part.merged.kept))} most annotators agree on (proposed below); "
                   f"{_points(len(part.merged.dropped))} only one or a few mention.")
    by_id = {a.id: a for a in proposal.annotations}
    render_clue_comparison(
        [(names.get(by_id[i].user_id, str(i)), text) for i, text in part.clues.items()], part.model_text
    )
    edited_clues[aspect.value] = st.text_area(
        f"Consensus {aspect.title.lower()}", value=part.merged.text, key=f"adjudicate.{clip.id}.{aspect.value}"
    )
    llm_merge.proposal_for(clip_id=clip.id, aspect=aspect.value, text_key=f"adjudicate.{clip.id}.{aspect.value}")
    clue_flags.aspect_flags(quality, aspect)

notes = [(names.get(a.user_id, a.user_id), a.note) for a in proposal.annotations if a.note.strip()]
skips = [(names.get(a.user_id, a.user_id), a.skip_reason or "no reason given") for a in proposal.skipped]
if notes or skips:
    st.subheader("Notes and skips")
    for who, note in notes:
        st.markdown(f"{plain(who)}: {plain(note)}")
    for who, reason in skips:
        st.markdown(f"{plain(who)} skipped: {plain(reason)}")

lead_note = st.text_input("Note for this decision", key=f"adjudicate.{clip.id}.note")
last_decision()
accept_col, edit_col, back_col = st.columns(3)
accept_plain = accept_col.button("Accept proposal", type="primary", key="adjudicate.accept")
accept_edited = edit_col.button("Accept with my edits", key="adjudicate.accept_edits")
extra = back_col.number_input("More annotations", min_value=1, max_value=10, value=1, key="adjudicate.extra")
send = back_col.button("Send back", key="adjudicate.send_back")

if accept_plain or accept_edited:
    try:
        fresh = adjudication.propose(clip_id=clip.id, emotion_model=emotion_model)
        row = adjudication.accept(
            user=user, proposal=fresh, note=lead_note, seen_version=seen,
            emotion=chosen_emotion if accept_edited else None, clues=edited_clues if accept_edited else None,
            emotion_words=edited_words if accept_edited else None,
        )
        st.session_state.pop(seen_key, None)
        finish(f"Consensus stored for {clip.name} (revision {row.revision}).", clip.id,
               undo={"consensus_id": row.id, "clip_id": clip.id, "clip_name": clip.name, "dataset_id": dataset_id})
    except adjudication.ConsensusConflict as conflict:
        st.error(plain(conflict))
        st.session_state[seen_key] = now
    except (PermissionDenied, ValueError) as error:
        st.error(plain(error))
elif send:
    try:
        overlap = adjudication.send_back(user=user, clip_id=clip.id, extra=int(extra))
        finish(f"{clip.name} sent back: it now needs {overlap} annotations.", clip.id)
    except (PermissionDenied, ValueError) as error:
        st.error(plain(error))
else:
    st.session_state[seen_key] = now

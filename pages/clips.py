"""Clips: a filterable table with thumbnails; open one to play it with its transcript."""

import pandas as pd
import streamlit as st

from annotation.datasets import annotation_summary, clip_references, list_datasets, search_clips
from components.media import show_clip_media, thumbnail_uri
from components.navigation import guard
from components.references import show_references
from components.text import plain
from core.vocabulary import ClipStatus

guard("pages/clips.py")

PAGE_SIZE = 50

st.title("Clips")
datasets = list_datasets()
if not datasets:
    st.info("No datasets yet.")
    st.stop()



def first_page() -> None:
    """A changed filter starts again at page 1."""
    st.session_state.pop("clips_page", None)


names = {d.name: d for d in datasets}
left, middle, right, far = st.columns([3, 2, 3, 2])
dataset = names[left.selectbox("Dataset", list(names), on_change=first_page)]
status = middle.selectbox("Media", ["any"] + [s.value for s in ClipStatus], on_change=first_page)
text = right.text_input("Search name or transcript", on_change=first_page)
kind = far.selectbox("Kind", ["any", "video", "no video"], on_change=first_page)
# Submitted annotations (drafts and skips do not count), up to the dataset's overlap and beyond.
counts = {"any": (None, None), "none": (0, 0)}
counts.update({str(n): (n, n) for n in range(1, max(dataset.overlap, 1))})
counts[f"{max(dataset.overlap, 1)} or more"] = (max(dataset.overlap, 1), None)
CONSENSUS = {"any": None, "with consensus": True, "no consensus": False}
count_column, consensus_column, _ = st.columns([2, 2, 6])
annotations = count_column.selectbox("Annotations", list(counts), key="clips_annotations", on_change=first_page)
consensus = consensus_column.selectbox("Consensus", list(CONSENSUS), key="clips_consensus", on_change=first_page)
page_number = st.session_state.get("clips_page", 0)

rows, total = search_clips(
    dataset_id=dataset.id, status=None if status == "any" else status, text=text,
    has_video={"any": None, "video": True, "no video": False}[kind],
    min_annotations=counts[annotations][0], max_annotations=counts[annotations][1],
    has_consensus=CONSENSUS[consensus], limit=PAGE_SIZE, offset=page_number * PAGE_SIZE)

st.caption(f"{total} clip(s) match" + (" · synthetic demo data" if dataset.is_synthetic else ""))
summary = annotation_summary(clip_ids=[c.id for c in rows])
table = pd.DataFrame([{
    "thumbnail": thumbnail_uri(c.thumbnail_path),
    "name": c.name,
    "status": c.status,
    "annotations": summary.get(c.id, (0, False))[0],
    "consensus": "yes" if summary.get(c.id, (0, False))[1] else "no",
    "duration (s)": round(c.duration, 1) if c.duration else None,
    "language": c.language or "",
    "label given": c.source_emotion or "",
    "transcript": c.transcript[:120],
    "error": c.error or "",
} for c in rows])
COLUMNS = {
    "thumbnail": st.column_config.ImageColumn("", width="small"),
    "name": st.column_config.TextColumn("Clip"),
    "status": st.column_config.TextColumn("Media"),
    "annotations": st.column_config.NumberColumn("Annotations", help="submitted annotations (not drafts or skips)"),
    "consensus": st.column_config.TextColumn("Consensus"),
    "duration (s)": st.column_config.NumberColumn("Duration (s)", format="%.1f"),
    "language": st.column_config.TextColumn("Language"),
    "label given": st.column_config.TextColumn("Label given", help="the label that came with the import"),
    "transcript": st.column_config.TextColumn("Transcript", width="large"),
    "error": st.column_config.TextColumn("Error"),
}
event = st.dataframe(
    table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", row_height=60,
    column_config=COLUMNS, key="clip_table",
) if len(table) else None

pages = max(1, -(-total // PAGE_SIZE))
if pages > 1:
    previous, info, following = st.columns([1, 2, 1])
    if previous.button("← Previous", disabled=page_number == 0):
        st.session_state["clips_page"] = page_number - 1
        st.rerun()
    info.caption(f"Page {page_number + 1} of {pages}")
    if following.button("Next →", disabled=page_number + 1 >= pages):
        st.session_state["clips_page"] = page_number + 1
        st.rerun()

selected = event.selection.rows if event is not None else []
if selected:
    clip = rows[selected[0]]
    st.divider()
    st.subheader(plain(clip.name))
    media_column, info_column = st.columns([3, 2])
    with media_column:
        show_clip_media(clip)
        st.caption("Transcript" + (f" from {plain(clip.transcript_source)}" if clip.transcript_source else "")
                   + (": none" if not clip.transcript else ""))
    with info_column:
        facts = {
            "duration": f"{clip.duration:.2f} s" if clip.duration else "—",
            "size": f"{clip.width}×{clip.height} @ {clip.fps:.0f} fps" if clip.width and clip.fps else "—",
            "audio": "yes" if clip.has_audio else "no",
            "speaker": clip.speaker or "—",
            "language": clip.language or "—",
        }
        # st.table renders Markdown in its cells.
        st.table(pd.DataFrame([(k, plain(v)) for k, v in facts.items()], columns=["", "value"]).set_index(""))
    references = clip_references(clip_id=clip.id)
    if references:
        st.markdown("**Imported labels and reasoning**")
        show_references(references)
else:
    st.caption("Select a row to play the clip.")

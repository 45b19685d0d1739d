"""Datasets & import (lead): create a dataset, import clips, process their media in the background."""

from pathlib import Path

import streamlit as st

from annotation.datasets import (
    WORDS_ONLY,
    DatasetError,
    create_dataset,
    import_into,
    overview,
    retry_errored_clips,
    save_uploads,
    set_transcript_source,
    transcript_source,
)
from annotation.ingest.importer import ImportFailed
from annotation.jobs import enqueue
from components.jobs import job_progress
from components.navigation import guard
from components.text import plain
from core.settings import get_settings
from core.vocabulary import LABEL_SETS

user = guard("pages/datasets.py")
settings = get_settings()
st.title("Datasets & import")

items = overview()

with st.expander("New dataset", expanded=not items), st.form("new_dataset"):
    name = st.text_input("Name")
    label_set = st.selectbox("Label set", [*LABEL_SETS, WORDS_ONLY],
                             format_func=lambda k: f"{k}: {', '.join(LABEL_SETS[k])}" if k in LABEL_SETS
                             else "none: open-vocabulary emotion words only")
    overlap = st.number_input("Annotations per clip (overlap)", min_value=1, max_value=20, value=3)
    language = st.selectbox("Clue language", ["auto", "en", "zh"],
                            help="Also the language speech recognition listens for; auto: Mandarin or English, "
                                 "detected per clip.")
    open_vocabulary = st.checkbox("Open-vocabulary emotion words (a set of any words per clip, scored on the "
                                  "emotion wheel)")
    description = st.text_area("Description")
    if st.form_submit_button("Create", type="primary"):
        try:
            create_dataset(actor=user, name=name, label_set=label_set, overlap=int(overlap),
                           language=language, open_vocabulary=open_vocabulary, description=description)
            st.success(f"Created {plain(name)}.")
            st.rerun()
        except DatasetError as error:
            st.error(plain(error))

if not items:
    st.stop()

by_name = {item.dataset.name: item for item in items}
chosen = by_name[st.selectbox("Dataset", list(by_name))]
counts = chosen.counts
processing = f" ({counts['processing']} processing now)" if counts.get("processing") else ""
st.caption(f"{counts['clips']} clips · {counts['ready']} ready · {counts['pending']} pending{processing} · "
           f"{counts['errors']} errors")

TRANSCRIPT_SOURCES = {
    "best": "best: the given transcript, or on-screen text when it matches the speech better, else speech recognition",
    "given": "given: the subtitle file or manifest/EMER column",
    "asr": "asr: what speech recognition hears",
    "on_screen": "on-screen text: burnt-in subtitles read from the frames",
}
with st.expander("Transcripts"):
    current = transcript_source(chosen.dataset)
    picked = st.selectbox("Transcript source", list(TRANSCRIPT_SOURCES), index=list(TRANSCRIPT_SOURCES).index(current),
                          format_func=TRANSCRIPT_SOURCES.get, key=f"transcript_source_{chosen.dataset.id}")
    st.caption("Whichever text is kept, its words get times from the speech (aligned to speech recognition), so "
               "annotators can click them; speech recognition listens for the dataset's language "
               f"({plain(chosen.dataset.language)}).")
    if st.button("Save transcript source", disabled=picked == current):
        changed = set_transcript_source(actor=user, dataset_id=chosen.dataset.id, source=picked)
        st.success(f"Transcript source saved: {changed} clip(s) updated now, the others follow at their feature "
                   "extraction.")

upload_tab, path_tab = st.tabs(["Upload files", "From a folder or manifest on the server"])
with upload_tab:
    files = st.file_uploader("Videos or audio, with .srt/.vtt subtitles of the same name",
                             accept_multiple_files=True, key="uploads")
    if st.button("Import uploaded files", disabled=not files):
        folder, refused = save_uploads(actor=user, dataset_id=chosen.dataset.id,
                                       files=[(f.name, f.getvalue()) for f in files or []],
                                       uploads_dir=settings.data_dir / "uploads", max_bytes=settings.max_media_bytes)
        for reason in refused:
            st.warning(plain(reason))
        st.session_state["import_source"] = str(folder)
with path_tab:
    server_path = st.text_input("Folder or .csv/.json manifest path")
    st.caption("Readable folders (the import roots): " + ", ".join(f"`{root}`" for root in settings.allowed_import_roots))
    if st.button("Import from path", disabled=not server_path):
        st.session_state["import_source"] = server_path

source = st.session_state.pop("import_source", None)
if source:
    try:
        report = import_into(actor=user, dataset_id=chosen.dataset.id, source=Path(source))
    except (ImportFailed, DatasetError) as error:
        st.error(plain(error))
    else:
        (st.success if not report.errors else st.warning)(plain(report.summary()))
        for error in report.errors:
            where = f"row {error.row}" if error.row else (error.name or "")
            st.markdown(f"- {plain(where)}: {plain(error.reason)}")
        if report.created:
            st.session_state["ingest_job"] = enqueue("ingest", params={"dataset_id": chosen.dataset.id}, user=user)

if counts["pending"] and st.button("Process pending media"):
    st.session_state["ingest_job"] = enqueue("ingest", params={"dataset_id": chosen.dataset.id}, user=user)
if counts["errors"] and st.button("Retry errored clips", help="Process their media again: for files fixed at their "
                                  "source, or failures that were not the file's fault."):
    retried = retry_errored_clips(actor=user, dataset_id=chosen.dataset.id)
    st.session_state["ingest_job"] = enqueue("ingest", params={"dataset_id": chosen.dataset.id}, user=user)
    st.toast(f"{retried} clip(s) queued for processing again.")
if st.session_state.get("ingest_job"):
    st.subheader("Media processing")
    job_progress(st.session_state["ingest_job"])

"""Import into a real database (SQLite and PostgreSQL) and export again from each kind of source."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from annotation.formats.export_service import SourceRef, export_dataset, gather_rows
from annotation.formats.service import import_file
from annotation.permissions import PermissionDenied
from db.models import (
    Annotation,
    Clip,
    Consensus,
    ModelVersion,
    Prediction,
    Reference,
    User,
)
from db.queries.references import list_sources, references_for_source


def test_import_stores_clips_and_references_once(session, dataset, lead, emer_v1):
    report = import_file(session, dataset=dataset, path=emer_v1, media_dir=None, user=lead)
    session.commit()
    assert report.created == 3 and report.references_created == 3
    assert {e.row for e in report.errors} == {5, 6}
    refs = references_for_source(session, dataset_id=dataset.id, source="emer-gt")
    assert [c.name for c, _ in refs] == ["sample_00000001", "sample_00000002", "sample_00000003"]
    assert refs[1][1].clues["facial"] == "她眉头紧锁，嘴角下垂。"

    again = import_file(session, dataset=dataset, path=emer_v1, media_dir=None, user=lead)
    session.commit()
    assert again.created == 0 and again.duplicates == 3
    assert again.references_created == 0 and again.references_unchanged == 3
    assert len(session.exec(select(Reference)).all()) == 3
    assert list_sources(session, dataset_id=dataset.id) == [("emer-gt", 3)]


def test_labels_from_a_second_file_join_existing_clips(session, dataset, lead, merr_coarse, merr_txt):
    import_file(session, dataset=dataset, path=merr_coarse, media_dir=None, user=lead, source="merr-gpt4v")
    report = import_file(session, dataset=dataset, path=merr_txt, media_dir=None, user=lead)
    session.commit()
    assert report.created == 0 and report.references_created == 2
    assert dict(list_sources(session, dataset_id=dataset.id)) == {"merr-gpt4v": 2, "merr-label": 2}


def test_import_needs_a_lead(session, dataset, emer_v1):
    annotator = User(username="ann", password_hash="x", roles=["annotator"])
    session.add(annotator)
    session.commit()
    with pytest.raises(PermissionDenied):
        import_file(session, dataset=dataset, path=emer_v1, media_dir=None, user=annotator)


def test_export_from_reference_consensus_model_and_annotations(session, dataset, lead, emer_v1, tmp_path):
    import_file(session, dataset=dataset, path=emer_v1, media_dir=None, user=lead)
    clips = {c.name: c for c in session.exec(select(Clip))}
    first = clips["sample_00000001"]
    first.meta = {"split": "test"}
    session.add(first)
    annotation = Annotation(clip_id=first.id, user_id=lead.id, emotion="angry", clues={"facial": "frowns"},
                            status="submitted", rating=3)
    session.add(annotation)
    session.flush()
    session.add(Consensus(clip_id=first.id, emotion="angry", clues={"facial": "frowns", "vocal": "loud"},
                          method="majority", source_annotation_ids=[annotation.id], accepted_by_id=lead.id))
    version = ModelVersion(backend="baseline", name="baseline-v1")
    session.add(version)
    session.flush()
    session.add(Prediction(clip_id=clips["sample_00000002"].id, model_version_id=version.id, emotion="sad",
                           clues={"facial": "她低着头。"}))
    session.commit()

    files = export_dataset(session, dataset=dataset, source="reference:emer-gt", format="emer-v1",
                           path=tmp_path / "emer.csv", user=lead)
    assert files[0].read_text(encoding="utf-8-sig").count("sample_0000000") == 3
    assert json.loads(files[-1].read_text())["source"] == "reference:emer-gt"

    test_only = gather_rows(session, dataset_id=dataset.id, source="reference:emer-gt", split="test")
    assert [r.name for r in test_only] == ["sample_00000001"]

    files = export_dataset(session, dataset=dataset, source="consensus", format="consensus-csv",
                           path=tmp_path / "consensus.csv", user=lead)
    text = files[0].read_text(encoding="utf-8-sig")
    assert "majority" in text and "lead" in text

    model_rows = gather_rows(session, dataset_id=dataset.id, source=f"model:{version.id}")
    assert [(r.name, r.emotion) for r in model_rows] == [("sample_00000002", "sad")]
    files = export_dataset(session, dataset=dataset, source=f"model:{version.id}", format="emer-v1",
                           path=tmp_path / "model.csv", user=lead)
    assert "在视频中，她低着头。" in files[0].read_text(encoding="utf-8-sig")

    raw = gather_rows(session, dataset_id=dataset.id, source="annotations")
    assert [(r.name, r.annotator, r.emotion, r.meta["rating"]) for r in raw] == [("sample_00000001", "lead", "angry", 3)]


def test_source_names_parse():
    assert SourceRef.parse("model:3") == SourceRef("model", "3")
    assert str(SourceRef.parse("reference:raw-labels:*")) == "reference:raw-labels:*"
    with pytest.raises(ValueError):
        SourceRef.parse("model:x")


def test_media_found_by_name_is_attached(session, dataset, lead, merr_txt, tmp_path):
    media = tmp_path / "videos"
    media.mkdir()
    (media / "sample_00000002.mp4").write_bytes(b"not really a video, but a file with content")
    report = import_file(session, dataset=dataset, path=merr_txt, media_dir=media, user=lead)
    session.commit()
    clips = {c.name: c for c in session.exec(select(Clip))}
    assert report.created == 2
    assert clips["sample_00000002"].source_path == str((media / "sample_00000002.mp4").resolve())
    assert clips["sample_00000002"].status == "pending"  # media to process
    assert clips["sample_00000003"].source_path is None and clips["sample_00000003"].status == "ready"  # text-only


def test_raw_labels_come_back_per_annotator(session, dataset, lead, raw_labels, tmp_path):
    from annotation.formats import read
    from annotation.formats.evaluate import available_sources, source_labels

    import_file(session, dataset=dataset, path=raw_labels, media_dir=None, user=lead)
    session.commit()
    sources = available_sources(session, dataset_id=dataset.id)
    assert "reference:raw-labels:*" in sources and "reference:raw-labels:bob" in sources
    assert source_labels(session, dataset_id=dataset.id)["reference:raw-labels:*"] == \
        "Imported: raw-labels (every annotator)"
    files = export_dataset(session, dataset=dataset, source="reference:raw-labels:*", format="raw-labels",
                           path=tmp_path / "raw.csv", user=lead)
    _, back = read(files[0])
    assert sorted((r.clip_name, r.meta["annotator"], r.emotion) for r in back.references) == [
        ("clip_a", "alice", "happy"), ("clip_a", "bob", "开心"), ("clip_b", "alice", "sad")]

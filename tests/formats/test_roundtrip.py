"""Every format: read a real-shaped file, write it back, read again: same names, labels and texts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from annotation.formats import FORMATS, detect_format, export_rows, read
from annotation.formats.common import rows_from_parsed
from tests.formats.conftest import EN_REASON, ZH_REASON


def _roundtrip(path: Path, format_name: str, out: Path, **read_kwargs):
    spec, first = read(path, **read_kwargs)
    assert spec.name == format_name
    files = export_rows(format_name, rows_from_parsed(first), out, source="test", split="train")
    sidecar = json.loads(files[-1].read_text(encoding="utf-8"))
    assert sidecar["format"] == format_name and sidecar["source"] == "test" and sidecar["split"] == "train"
    assert detect_format(out).name == format_name
    _, second = read(out, format=format_name)
    return first, second


def _by_name(parsed):
    return {r.clip_name: r for r in parsed.references}


def test_emer_v1_roundtrip(emer_v1, tmp_path):
    first, second = _roundtrip(emer_v1, "emer-v1", tmp_path / "out.csv")
    assert [c.name for c in first.clips] == ["sample_00000001", "sample_00000002", "sample_00000003"]
    assert {e.row for e in first.errors} == {5, 6}
    assert "duplicate" in first.errors[1].reason
    refs = _by_name(first)
    assert refs["sample_00000001"].clues["facial"] == "the man frowns and raises his brows."
    assert refs["sample_00000001"].clues["scene"] == "The office is dim."
    assert refs["sample_00000002"].clues["vocal"] == "她的声音颤抖。"
    assert refs["sample_00000002"].language == "zh"
    assert first.clips[2].transcript == '=HYPERLINK("http://x")'
    # The formula cell is neutralised on disk and restored on reading.
    raw = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in raw
    assert [(c.name, c.emotion, c.transcript) for c in first.clips] == \
        [(c.name, c.emotion, c.transcript) for c in second.clips]
    assert {n: r.reasoning for n, r in refs.items()} == {n: r.reasoning for n, r in _by_name(second).items()}
    assert not second.errors


def test_emer_v2_keeps_both_languages(emer_v2, tmp_path):
    first, second = _roundtrip(emer_v2, "emer-v2", tmp_path / "out.csv")
    assert [c.name for c in first.clips] == ["samplenew_00000001", "samplenew_00000002"]
    assert len(first.errors) == 2
    ref = _by_name(first)["samplenew_00000001"]
    assert ref.language == "en" and ref.clues["vocal"] == "her voice trembles."
    assert ref.translations["zh"]["reasoning"] == ZH_REASON
    assert ref.translations["zh"]["clues"]["facial"] == "她眉头紧锁，嘴角下垂。"
    with (tmp_path / "out.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["chinese"] == ZH_REASON
    assert rows[1]["english"].startswith("'-1")
    for name, r in _by_name(second).items():
        assert r.reasoning == _by_name(first)[name].reasoning
        assert r.translations["zh"]["reasoning"] == _by_name(first)[name].translations["zh"]["reasoning"]


@pytest.mark.parametrize("fixture,format_name", [("merr_fine", "merr-fine"), ("merr_coarse", "merr-coarse")])
def test_merr_json_roundtrip(request, fixture, format_name, tmp_path):
    path = request.getfixturevalue(fixture)
    first, second = _roundtrip(path, format_name, tmp_path / "out.json")
    assert len(first.errors) == 1
    assert [(c.name, c.emotion, c.transcript) for c in first.clips] == \
        [(c.name, c.emotion, c.transcript) for c in second.clips]
    assert {n: r.reasoning for n, r in _by_name(first).items()} == {n: r.reasoning for n, r in _by_name(second).items()}
    written = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    entry = next(iter(written.values()))
    assert entry["AU_list"] == ["AU04", "AU15"] and entry["peak_index"] == 7
    assert ("smp_reason_caption" in entry) == (format_name == "merr-fine")
    assert _by_name(first)[next(iter(written))].spans[0]["frame"] == 7


def test_merr_fine_is_what_emotion_llama_reads(merr_fine, merr_txt, tmp_path):
    """Emotion-LLaMA splits each TXT line on ' ' (name, frames, label) and indexes the JSON by name."""
    _, parsed = read(merr_fine)
    rows = rows_from_parsed(parsed)
    export_rows("merr-fine", rows, tmp_path / "reason.json", source="merr")
    export_rows("merr-txt", rows, tmp_path / "train.txt", source="merr")
    reason = json.loads((tmp_path / "reason.json").read_text())
    lines = [line.strip().split(" ") for line in (tmp_path / "train.txt").read_text().splitlines()]
    for name, frames, label in lines:
        assert reason[name]["smp_reason_caption"] and reason[name]["pseu_emotion"] == label
        int(frames)
    transcripts = {r["name"]: r["sentence"] for r in csv.DictReader(
        (tmp_path / "train.transcription.csv").read_text(encoding="utf-8-sig").splitlines())}
    assert transcripts["sample_00000048"] == "我很害怕。"
    assert transcripts["sample_00000050"] == "'+formula"  # every CSV export neutralises formula cells


def test_merr_txt_roundtrip(merr_txt, tmp_path):
    first, second = _roundtrip(merr_txt, "merr-txt", tmp_path / "out.txt")
    assert [(c.name, c.emotion, c.meta["frame_count"]) for c in first.clips] == \
        [("sample_00000002", "angry", 120), ("sample_00000003", "worried", 98)]
    assert [e.row for e in first.errors] == [3, 4]
    assert [(c.name, c.emotion, c.meta) for c in first.clips] == [(c.name, c.emotion, c.meta) for c in second.clips]


def test_merr_txt_refuses_names_with_spaces(tmp_path):
    from annotation.formats.common import ExportRow

    with pytest.raises(ValueError, match="spaces"):
        export_rows("merr-txt", [ExportRow(name="a b", emotion="happy")], tmp_path / "x.txt", source="t")


def test_mer_factory_folder_roundtrip(mer_factory_dir, tmp_path):
    first, second = _roundtrip(mer_factory_dir, "mer-factory", tmp_path / "factory_out")
    assert sorted(c.name for c in first.clips) == ["clip_en", "clip_zh"]
    assert len(first.errors) == 1 and "not valid JSON" in first.errors[0].reason
    clips = {c.name: c for c in first.clips}
    assert clips["clip_zh"].transcript == "我真的很害怕。"
    refs = _by_name(first)
    assert refs["clip_zh"].clues == {"facial": "她眉头紧锁。", "vocal": "声音颤抖。", "verbal": "她说自己很害怕。",
                                     "scene": "她独自坐在床边。"}  # verbal from the summary's markers
    overall, *peaks = refs["clip_zh"].spans
    assert overall["start"] == 0.83 and overall["frame"] == 25 and overall["label"] == "AU04 (2.40), AU15 (1.10)"
    assert [(p["start"], p["label"]) for p in peaks] == [(0.83, "sad (moderate)"), (2.1, "fear (slight), sad (slight)")]
    span = refs["clip_en"].spans[0]
    assert span["start"] == 1.4 and span["frame"] == 42 and span["aus"] == {"AU12_r": 2.1, "AU06_r": 1.5}
    assert refs["clip_en"].clues["vocal"] == "Calm voice."
    assert (tmp_path / "factory_out.meta.json").exists()
    written = json.loads((tmp_path / "factory_out" / "clip_zh" / "clip_zh_merr_data.json").read_text(encoding="utf-8"))
    assert written["video_id"] == "clip_zh" and written["source_video"] == "/videos/clip_zh.mp4"
    assert written["coarse_descriptions_at_peak"]["subtitles"] == "我真的很害怕。"
    assert {n: (r.reasoning, r.clues, r.spans) for n, r in refs.items()} == \
        {n: (r.reasoning, r.clues, r.spans) for n, r in _by_name(second).items()}
    assert {c.name: c.transcript for c in second.clips} == {n: c.transcript for n, c in clips.items()}


def test_mer2023_labels_roundtrip(mer2023_labels, tmp_path):
    first, second = _roundtrip(mer2023_labels, "mer2023-labels", tmp_path / "labels.csv")
    assert [(c.name, c.emotion) for c in first.clips] == [("sample_3", "happy"), ("sample_4", "worried")]
    assert first.clips[1].meta == {"valence": -1.0, "split": "train"}
    assert [e.row for e in first.errors] == [4, 5]
    assert [(c.name, c.emotion) for c in second.clips] == [(c.name, c.emotion) for c in first.clips]


def test_dfew_labels_roundtrip(dfew_labels, tmp_path):
    first, second = _roundtrip(dfew_labels, "dfew-labels", tmp_path / "fold.csv")
    assert [(c.name, c.emotion, c.meta["split"]) for c in first.clips] == [("00001", "happy", "train"),
                                                                           ("00002", "fear", "train")]
    assert [e.row for e in first.errors] == [4, 5]
    assert "1-7" in first.errors[0].reason
    assert (tmp_path / "fold.csv").read_text(encoding="utf-8-sig").splitlines()[1:] == ["00001,1", "00002,7"]
    assert [(c.name, c.emotion) for c in second.clips] == [(c.name, c.emotion) for c in first.clips]


def test_raw_labels_roundtrip(raw_labels, tmp_path):
    first, second = _roundtrip(raw_labels, "raw-labels", tmp_path / "raw_out.csv")
    assert [c.name for c in first.clips] == ["clip_a", "clip_b"]
    assert [(r.clip_name, r.source, r.emotion) for r in first.references] == [
        ("clip_a", "raw-labels:alice", "happy"), ("clip_a", "raw-labels:bob", "开心"), ("clip_b", "raw-labels:alice", "sad")]
    assert [e.row for e in first.errors] == [5, 6]
    assert [(r.clip_name, r.source, r.emotion) for r in second.references] == \
        [(r.clip_name, r.source, r.emotion) for r in first.references]


@pytest.mark.parametrize("format_name,suffix", [("llava-jsonl", ".jsonl"), ("sharegpt", ".json"),
                                                ("consensus-csv", ".csv")])
def test_instruction_and_consensus_roundtrip(emer_v1, format_name, suffix, tmp_path):
    _, parsed = read(emer_v1)
    rows = rows_from_parsed(parsed)
    for row in rows:
        row.provenance = {"method": "dawid-skene", "revision": 2, "source_annotation_ids": [1, 2, 3],
                          "annotators": ["alice", "bob", "carol"]}
    out = tmp_path / f"out{suffix}"
    export_rows(format_name, rows, out, source="consensus", split="test")
    assert detect_format(out).name == format_name
    _, back = read(out)
    assert [(c.name, c.transcript) for c in back.clips] == [(r.name, r.transcript) for r in rows]
    assert [r.reasoning for r in back.references] == [r.reasoning for r in rows]
    if format_name != "sharegpt":
        assert [r.emotion for r in back.references] == [r.emotion for r in rows]
    if format_name == "consensus-csv":
        assert back.references[0].meta["provenance"]["annotators"] == ["alice", "bob", "carol"]
        assert back.references[0].meta["provenance"]["source_annotation_ids"] == [1, 2, 3]


def test_instruction_prompt_shape(emer_v1, tmp_path):
    _, parsed = read(emer_v1)
    export_rows("llava-jsonl", rows_from_parsed(parsed), tmp_path / "a.jsonl", source="emer-gt")
    first = json.loads((tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()[0])
    human, gpt = first["conversations"]
    assert human["from"] == "human" and human["value"].startswith("<video>\nSubtitle content of the video: Why did")
    assert gpt["from"] == "gpt" and gpt["value"] == EN_REASON
    zh = json.loads((tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()[1])
    assert "视频的字幕内容：我真的很害怕。" in zh["conversations"][0]["value"]
    files = export_rows("sharegpt", rows_from_parsed(parsed), tmp_path / "s.json", source="emer-gt")
    meta = json.loads(files[-1].read_text())
    assert meta["dataset_info"]["cluelab_emer"]["formatting"] == "sharegpt"


def test_every_format_is_registered_with_reader_and_writer():
    assert set(FORMATS) == {"emer-v1", "emer-v2", "merr-coarse", "merr-fine", "merr-txt", "mer-factory",
                            "mer2023-labels", "dfew-labels", "raw-labels", "llava-jsonl", "sharegpt", "consensus-csv",
                            "openset-csv", "openset-npz"}
    assert all(spec.write is not None for spec in FORMATS.values())


def test_unknown_file_is_refused(tmp_path):
    from annotation.formats import UnknownFormat

    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UnknownFormat):
        detect_format(path)


def test_media_is_matched_by_stem(emer_v1, tmp_path):
    media = tmp_path / "media" / "sub"
    media.mkdir(parents=True)
    (media / "sample_00000002.mp4").write_bytes(b"\x00")
    _, parsed = read(emer_v1, media_dir=tmp_path / "media")
    by_name = {c.name: c for c in parsed.clips}
    assert by_name["sample_00000002"].media_path == str(media / "sample_00000002.mp4")
    assert by_name["sample_00000001"].media_path is None  # text-only clip


def test_gb18030_csv_is_read(tmp_path):
    path = tmp_path / "gt-chi.csv"
    path.write_bytes(("names,emotions,subtitles,reasons\nsample_1,担忧,我很害怕。," + ZH_REASON + "\n").encode("gb18030"))
    _, parsed = read(path)
    assert parsed.clips[0].transcript == "我很害怕。"
    assert parsed.references[0].clues["vocal"] == "她的声音颤抖。"


def test_emer_v1_with_both_reason_columns_keeps_both(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_text("names,emotions,chi_reasons,eng_reasons\n"
                    f'sample_1,worried,"{ZH_REASON}","{EN_REASON}"\n', encoding="utf-8")
    _, parsed = read(path)
    ref = parsed.references[0]
    assert ref.reasoning == EN_REASON and ref.language == "en"
    assert ref.translations["zh"]["reasoning"] == ZH_REASON


def test_split_from_file_name():
    from annotation.formats.common import split_from_path

    assert split_from_path(Path("set_1_train.csv")) == "train"
    assert split_from_path(Path("test1-label.csv")) == "test"
    assert split_from_path(Path("labels.csv")) is None


def test_a_named_format_must_match_the_file(emer_v1):
    from annotation.formats import UnknownFormat

    with pytest.raises(UnknownFormat, match="does not look like EMER v2"):
        read(emer_v1, format="emer-v2")

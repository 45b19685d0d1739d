"""The one list of formats ClueLab reads and writes, and the verbs on it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotation.formats import consensus, emer, instruct, labels, mer_factory, merr, openset
from annotation.formats.common import ExportRow, write_sidecar
from annotation.ingest.records import ParsedImport

Reader = Callable[..., ParsedImport]
Writer = Callable[[Sequence[ExportRow], Path], list[Path]]


@dataclass(frozen=True)
class FormatSpec:
    name: str
    title: str
    detect: Callable[[Path], bool]
    read: Reader
    write: Writer | None
    default_source: str
    # File name ending for exports; "/" means the export is a folder.
    suffix: str


# Order matters for detection: the most specific shapes first.
FORMATS: dict[str, FormatSpec] = {spec.name: spec for spec in [
    FormatSpec("emer-v2", "EMER v2 CSV (name, chinese, english)", emer.detect_v2, emer.read_v2, emer.write_v2,
               emer.DEFAULT_SOURCE, ".csv"),
    FormatSpec("emer-v1", "EMER v1 CSV (names, emotions, subtitles, reasons)", emer.detect_v1, emer.read_v1,
               emer.write_v1, emer.DEFAULT_SOURCE, ".csv"),
    FormatSpec("consensus-csv", "Consensus CSV with provenance", consensus.detect, consensus.read, consensus.write,
               "consensus-import", ".csv"),
    FormatSpec("raw-labels", "Per-annotator raw labels CSV (name, annotator, label)", labels.detect_raw,
               labels.read_raw, labels.write_raw, "raw-labels", ".csv"),
    FormatSpec("dfew-labels", "DFEW fold labels CSV (video_name, label 1-7)", labels.detect_dfew, labels.read_dfew,
               labels.write_dfew, "dfew-gt", ".csv"),
    FormatSpec("mer2023-labels", "MER2023 labels CSV (name, label)", labels.detect_mer2023, labels.read_mer2023,
               labels.write_mer2023, "mer2023-gt", ".csv"),
    FormatSpec("openset-csv", "MER2025/2026 open-vocabulary CSV (name, openset)", openset.detect_csv,
               openset.read_csv, openset.write_csv, openset.DEFAULT_SOURCE, ".csv"),
    FormatSpec("openset-npz", "MER2025/2026 open-vocabulary npz (filenames, fileitems)", openset.detect_npz,
               openset.read_npz, openset.write_npz, openset.DEFAULT_SOURCE, ".npz"),
    FormatSpec("merr-fine", "MERR fine-grained JSON (Emotion-LLaMA)", merr.detect_fine, merr.read_json,
               merr.write_fine, merr.DEFAULT_SOURCE, ".json"),
    FormatSpec("merr-coarse", "MERR coarse-grained JSON (Emotion-LLaMA)", merr.detect_coarse, merr.read_json,
               merr.write_coarse, merr.DEFAULT_SOURCE, ".json"),
    FormatSpec("merr-txt", "MERR label list TXT (name frame_count emotion)", merr.detect_txt, merr.read_txt,
               merr.write_txt, "merr-label", ".txt"),
    FormatSpec("mer-factory", "MER-Factory per-clip JSON (file or folder)", mer_factory.detect, mer_factory.read,
               mer_factory.write, mer_factory.DEFAULT_SOURCE, "/"),
    FormatSpec("llava-jsonl", "AffectGPT/LLaVA instruction JSONL", instruct.detect_llava_jsonl,
               instruct.read_llava_jsonl, instruct.write_llava_jsonl, instruct.DEFAULT_SOURCE, ".jsonl"),
    FormatSpec("sharegpt", "ShareGPT JSON for LLaMA-Factory", instruct.detect_sharegpt, instruct.read_sharegpt,
               instruct.write_sharegpt, instruct.DEFAULT_SOURCE, ".json"),
]}


class UnknownFormat(ValueError):
    """The file matches no known format, or a named format does not exist."""


def get_format(name: str) -> FormatSpec:
    try:
        return FORMATS[name]
    except KeyError:
        raise UnknownFormat(f"unknown format {name!r}; known: {', '.join(FORMATS)}") from None


def detect_format(path: str | Path) -> FormatSpec:
    """The first format whose `detect` accepts the file or folder."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    for spec in FORMATS.values():
        if spec.detect(path):
            return spec
    raise UnknownFormat(f"{path.name}: not a format ClueLab knows ({', '.join(FORMATS)})")


def read(path: str | Path, *, media_dir: str | Path | None = None, format: str | None = None,
         source: str | None = None) -> tuple[FormatSpec, ParsedImport]:
    """Parse a file (or a MER-Factory folder); a named format must match the file's shape."""
    if format:
        spec = get_format(format)
        if not Path(path).exists():
            raise FileNotFoundError(f"{path} does not exist")
        if not spec.detect(Path(path)):
            raise UnknownFormat(f"{Path(path).name} does not look like {spec.title}")
    else:
        spec = detect_format(path)
    return spec, spec.read(Path(path), media_dir, source=source or spec.default_source)


def export_rows(format: str, rows: Sequence[ExportRow], path: str | Path, *, source: str,
                split: str | None = None, extra: dict[str, Any] | None = None) -> list[Path]:
    """Write `rows` in `format` at `path` plus a `<path>.meta.json` sidecar; returns every file written."""
    spec = get_format(format)
    if spec.write is None:
        raise UnknownFormat(f"{format} can be read but not written")
    path = Path(path)
    files = spec.write(list(rows), path)
    details = dict(extra or {})
    if format == "sharegpt":
        details["dataset_info"] = instruct.dataset_info(path)
    sidecar_target = path if spec.suffix != "/" else path.with_name(path.name.rstrip("/"))
    details["files"] = [f.name for f in files]
    sidecar = write_sidecar(sidecar_target, format_name=format, source=source, split=split, count=len(rows),
                            extra=details)
    return [*files, sidecar]

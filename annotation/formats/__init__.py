"""Research data formats in and out: EMER, MERR, MER-Factory, label files, instruction data.

Each format module parses into `annotation.ingest.records.ParsedImport` and writes
from `ExportRow`s; `registry` is the one list of them.
"""

from annotation.formats.common import ExportRow
from annotation.formats.registry import (
    FORMATS,
    FormatSpec,
    UnknownFormat,
    detect_format,
    export_rows,
    get_format,
    read,
)

__all__ = ["FORMATS", "ExportRow", "FormatSpec", "UnknownFormat", "detect_format", "export_rows", "get_format", "read"]

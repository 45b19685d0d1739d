"""Saving files a browser sent: names stripped of paths, type and size checked before writing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path


def new_upload_folder(parent: Path) -> Path:
    folder = Path(parent) / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    return folder


def write_uploads(folder: Path, files: Iterable[tuple[str, bytes]], *, allowed_suffixes: Iterable[str],
                  max_bytes: int) -> tuple[list[Path], list[str]]:
    """Write each acceptable file into `folder`; returns the saved paths and a reason per refused file."""
    allowed = {s.lower() for s in allowed_suffixes}
    saved, refused = [], []
    for name, data in files:
        safe = Path(name).name  # never trust a client's path
        suffix = Path(safe).suffix.lower()
        if suffix not in allowed:
            refused.append(f"{safe}: unsupported file type {suffix or '(none)'}")
        elif not data:
            refused.append(f"{safe}: the file is empty")
        elif len(data) > max_bytes:
            refused.append(f"{safe}: over the {max_bytes / 1e6:.0f} MB limit")
        else:
            (folder / safe).write_bytes(data)
            saved.append(folder / safe)
    return saved, refused

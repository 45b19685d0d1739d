"""What every command-line module shares: the console, the acting user, clear failures."""

from __future__ import annotations

import errno
import os
import shutil
import sys

import typer
from rich.console import Console
from sqlmodel import Session

from annotation.permissions import command_line_actor
from db.models import Dataset, User

# Piped output (logs, scripts) gets wide tables instead of truncated cells.
console = Console(width=None if sys.stdout.isatty() else 200)


def cli_actor() -> User:
    """The command line is trusted like an admin (whoever runs it owns the data directory)."""
    return command_line_actor()


# SQLite's words for "the file system refused": the cause is found by looking at the data directory.
_STORAGE_WORDS = ("unable to open database file", "disk i/o error", "database or disk is full",
                  "readonly database", "read-only file system", "no space left")
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def storage_problem(error: BaseException) -> str | None:
    """One line for a person when `error` is the data directory's fault (read-only, not writable, disk full);
    None for anything else (a bug keeps its traceback)."""
    import sqlalchemy as sa

    from core.settings import get_settings

    if isinstance(error, sa.exc.OperationalError):
        text = str(error.orig if error.orig is not None else error).lower()
        if not any(words in text for words in _STORAGE_WORDS):
            return None
        detail = str(error.orig if error.orig is not None else error).strip()
    elif isinstance(error, OSError) and error.errno in _STORAGE_ERRNOS:
        detail = f"{error.strerror}" + (f": {error.filename}" if error.filename else "")
    else:
        return None
    settings = get_settings()
    folder = settings.data_dir
    where = f"the data directory {folder}"
    if not settings.is_sqlite and isinstance(error, sa.exc.OperationalError):
        return f"the database refused the operation ({detail}); nothing was written"
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"{where} is on a read-only file system ({detail}): mount it writable, or point " \
                   "CLUELAB_DATA_DIR at a writable folder (SQLite writes beside the database even to read it)"
        if not os.access(folder, os.W_OK):
            return f"{where} is not writable by this user ({detail}): fix its permissions, or point " \
                   "CLUELAB_DATA_DIR at a writable folder"
        free = shutil.disk_usage(folder).free
    except OSError:
        return f"{where} cannot be used ({detail})"
    if free < 8 * 1024**2 or "full" in detail.lower() or "no space" in detail.lower():
        return f"the disk holding {where} is full ({free // 1024} KB free): nothing was written; free some space " \
               "and run the command again"
    return f"{where} could not be written ({detail}); nothing was written"


def fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=1)


def dataset_or_fail(session: Session, name: str) -> Dataset:
    from db.queries import clips as clip_queries

    row = clip_queries.get_dataset_by_name(session, name=name)
    if row is None:
        fail(f"no dataset named {name!r}")
    return row  # type: ignore[return-value]


class BarProgress:
    """A rich progress bar that speaks the job-progress protocol (set_total, advance, fail_item, log)."""

    def __init__(self, label: str):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), TextColumn("{task.fields[last]}"), console=console)
        self._task = self._bar.add_task(label, total=None, last="")

    def __enter__(self) -> BarProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self._bar.stop()

    def set_total(self, total: int) -> None:
        self._bar.update(self._task, total=total)

    def advance(self, n: int = 1, message: str | None = None) -> None:
        self._bar.update(self._task, advance=n, last=message or "")

    def fail_item(self, name: str, reason: str) -> None:
        self._bar.update(self._task, advance=1)
        self._bar.console.print(f"[red]{name}[/red]: {reason}")

    def log(self, line: str) -> None:
        self._bar.console.print(line, style="dim")

    # The ingest callbacks' shape: (name, error or None) after each item.
    def item_done(self, name: str, error: str | None) -> None:
        if error:
            self.fail_item(name, error)
        else:
            self.advance(message=name)

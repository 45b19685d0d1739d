"""What every command-line module shares: the console, the acting user, clear failures."""

from __future__ import annotations

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

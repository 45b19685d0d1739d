"""What long model work reports to: a job's context, the CLI's progress bar, or nothing."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def set_total(self, total: int) -> None: ...
    def advance(self, n: int = 1, message: str | None = None) -> None: ...
    def fail_item(self, name: str, reason: str) -> None: ...
    def log(self, line: str) -> None: ...


class QuietProgress:
    """Collects failures and log lines; reports nowhere."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.failures: list[tuple[str, str]] = []
        self.lines: list[str] = []

    def set_total(self, total: int) -> None:
        self.total = total

    def advance(self, n: int = 1, message: str | None = None) -> None:
        self.done += n

    def fail_item(self, name: str, reason: str) -> None:
        self.failures.append((name, reason))

    def log(self, line: str) -> None:
        self.lines.append(line)

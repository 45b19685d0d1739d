"""Values a page shows that are slow to build and may be a little old: built once per server process,
then served from memory while a background thread rebuilds them once they are older than `max_age`.

Only the first request for a key waits for the build (the cold start); later ones never do. Keys
name everything the value depends on, the database included.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_LOG = logging.getLogger(__name__)


@dataclass
class _Entry(Generic[T]):
    value: T
    built: float
    rebuilding: bool = False


class RefreshingCache(Generic[T]):
    def __init__(self, build: Callable[..., T], *, max_age: float, name: str, max_entries: int = 64):
        self._build = build
        self.max_age = max_age
        self._name = name
        self._max_entries = max_entries
        self._entries: dict[Hashable, _Entry[T]] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, *args: Any, **kwargs: Any) -> T:
        """The value for `key` (`build(*args, **kwargs)` makes it), rebuilt in the background when old."""
        with self._guard:
            entry = self._entries.get(key)
            stale = entry is not None and not entry.rebuilding and time.monotonic() - entry.built > self.max_age
            if stale:
                entry.rebuilding = True
        if entry is None:
            value = self._build(*args, **kwargs)
            with self._guard:
                if len(self._entries) >= self._max_entries:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[key] = _Entry(value, time.monotonic())
            return value
        if stale:
            threading.Thread(target=self._rebuild, args=(key, args, kwargs), daemon=True,
                             name=f"cluelab-{self._name}").start()
        return entry.value

    def _rebuild(self, key: Hashable, args: tuple, kwargs: dict) -> None:
        try:
            value = self._build(*args, **kwargs)
        except Exception:  # noqa: BLE001 - keep serving the last value; the next request tries again
            _LOG.exception("rebuilding %s %r failed", self._name, key)
            with self._guard:
                if key in self._entries:
                    self._entries[key].rebuilding = False
            return
        with self._guard:
            self._entries[key] = _Entry(value, time.monotonic())

    def update(self, key: Hashable, change: Callable[[T], T]) -> None:
        """Change the cached value in place (a decision taken here shows at once)."""
        with self._guard:
            if key in self._entries:
                self._entries[key].value = change(self._entries[key].value)

    def forget(self, key: Hashable) -> None:
        with self._guard:
            self._entries.pop(key, None)

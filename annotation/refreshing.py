"""Values a page shows that are slow to build and may be a little old: built once per server process,
then served from memory while a background thread rebuilds them once they are older than `max_age`.

Only the first request for a key waits for the build (the cold start); later ones never do. Keys
name everything the value depends on, the database included.

With a `version` function (cheap: a few index lookups, say the dataset's latest submission and newest
consensus), an old value is rebuilt only when its data changed: the background thread first asks the
version and, when it is the one the value was built from, keeps the value (until `max_unchanged_age`,
for changes the version cannot see). So an idle instance never rebuilds, and a busy one rebuilds at most
once per `max_age`.
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
_UNKNOWN = object()


@dataclass
class _Entry(Generic[T]):
    value: T
    built: float
    version: Any = _UNKNOWN
    checked: float = 0.0
    rebuilding: bool = False

    def __post_init__(self) -> None:
        self.checked = self.checked or self.built


class RefreshingCache(Generic[T]):
    def __init__(self, build: Callable[..., T], *, max_age: float, name: str, max_entries: int = 64,
                 version: Callable[..., Hashable] | None = None, max_unchanged_age: float = 3600.0):
        self._build = build
        self.max_age = max_age
        self.max_unchanged_age = max_unchanged_age
        self._version = version
        self._name = name
        self._max_entries = max_entries
        self._entries: dict[Hashable, _Entry[T]] = {}
        self._guard = threading.Lock()
        self.builds = 0  # how many times a value was built (tests, benchmarks)

    def get(self, key: Hashable, *args: Any, **kwargs: Any) -> T:
        """The value for `key` (`build(*args, **kwargs)` makes it), rebuilt in the background when old
        (and, with a `version` function, only when its data changed)."""
        with self._guard:
            entry = self._entries.get(key)
            stale = entry is not None and not entry.rebuilding and time.monotonic() - entry.checked > self.max_age
            if stale:
                entry.rebuilding = True
        if entry is None:
            version = self._version_of(args, kwargs)
            started = time.monotonic()
            value = self._build(*args, **kwargs)
            with self._guard:
                self.builds += 1
                if len(self._entries) >= self._max_entries:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[key] = _Entry(value, started, version, checked=time.monotonic())
            return value
        if stale:
            threading.Thread(target=self._rebuild, args=(key, args, kwargs), daemon=True,
                             name=f"cluelab-{self._name}").start()
        return entry.value

    def _version_of(self, args: tuple, kwargs: dict) -> Any:
        return self._version(*args, **kwargs) if self._version is not None else _UNKNOWN

    def _rebuild(self, key: Hashable, args: tuple, kwargs: dict) -> None:
        try:
            version = self._version_of(args, kwargs)
            with self._guard:
                entry = self._entries.get(key)
                now = time.monotonic()
                if (entry is not None and version is not _UNKNOWN and version == entry.version
                        and now - entry.built < self.max_unchanged_age):
                    entry.checked, entry.rebuilding = now, False  # nothing changed: keep it
                    return
            started = time.monotonic()
            value = self._build(*args, **kwargs)
        except Exception:  # noqa: BLE001 - keep serving the last value; the next request tries again
            _LOG.exception("rebuilding %s %r failed", self._name, key)
            with self._guard:
                if key in self._entries:
                    self._entries[key].rebuilding = False
            return
        with self._guard:
            self.builds += 1
            self._entries[key] = _Entry(value, started, version, checked=time.monotonic())

    def peek(self, key: Hashable) -> T | None:
        """The value held for `key`, if any, without building or refreshing it."""
        with self._guard:
            entry = self._entries.get(key)
            return entry.value if entry is not None else None

    def update(self, key: Hashable, change: Callable[[T], T]) -> None:
        """Change the cached value in place (a decision taken here shows at once)."""
        with self._guard:
            if key in self._entries:
                self._entries[key].value = change(self._entries[key].value)

    def forget(self, key: Hashable) -> None:
        with self._guard:
            self._entries.pop(key, None)

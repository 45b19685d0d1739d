"""RefreshingCache: only the first request waits; an old value is served while a new one is built."""

from __future__ import annotations

import threading
import time

from annotation.refreshing import RefreshingCache


def test_first_request_builds_then_old_values_are_served_while_rebuilt():
    calls: list[int] = []
    release = threading.Event()

    def build(n: int) -> int:
        calls.append(n)
        if len(calls) > 1:
            release.wait(5)  # a slow rebuild
        return len(calls)

    cache = RefreshingCache(build, max_age=0.05, name="test")
    assert cache.get("k", 7) == 1 and calls == [7]
    assert cache.get("k", 7) == 1 and calls == [7]  # fresh: no build
    time.sleep(0.06)
    started = time.monotonic()
    assert cache.get("k", 7) == 1  # stale: the old value at once, a rebuild starts behind it
    assert time.monotonic() - started < 0.5
    assert cache.get("k", 7) == 1  # one rebuild at a time
    release.set()
    deadline = time.monotonic() + 5
    while cache.get("k", 7) != 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.get("k", 7) == 2 and calls == [7, 7]
    cache.update("k", lambda value: value * 10)
    assert cache.get("k", 7) == 20


def test_a_failed_rebuild_keeps_the_last_value():
    outcomes = iter([1, RuntimeError("database gone")])

    def build() -> int:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    cache = RefreshingCache(build, max_age=0.0, name="test")
    assert cache.get("k") == 1
    assert cache.get("k") == 1  # the rebuild fails in the background
    time.sleep(0.2)
    assert cache.get("k") == 1

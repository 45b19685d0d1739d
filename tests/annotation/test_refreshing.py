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


def _wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_with_a_version_an_old_value_is_rebuilt_only_when_its_data_changed():
    data = {"version": 1}
    builds: list[int] = []
    checks: list[int] = []

    def build(dataset_id: int) -> int:
        builds.append(data["version"])
        return data["version"] * 100

    def version(dataset_id: int) -> int:
        checks.append(dataset_id)
        return data["version"]

    cache = RefreshingCache(build, max_age=0.05, name="test", version=version)
    assert cache.get("k", 3) == 100 and builds == [1]
    for _ in range(3):  # old, but nothing changed: the version is asked, nothing is rebuilt
        time.sleep(0.06)
        before = len(checks)
        assert cache.get("k", 3) == 100
        assert _wait_for(lambda before=before: len(checks) > before)
    time.sleep(0.05)
    assert builds == [1] and cache.builds == 1
    data["version"] = 2  # a submission came in
    time.sleep(0.06)
    assert cache.get("k", 3) == 100  # still served at once
    assert _wait_for(lambda: cache.get("k", 3) == 200)
    assert builds == [1, 2] and checks and set(checks) == {3}


def test_an_unchanged_value_is_still_rebuilt_after_max_unchanged_age():
    builds: list[int] = []

    def build() -> int:
        builds.append(1)
        return len(builds)

    cache = RefreshingCache(build, max_age=0.0, name="test", version=lambda: "same", max_unchanged_age=0.1)
    assert cache.get("k") == 1
    assert cache.get("k") == 1
    time.sleep(0.05)
    assert builds == [1]  # checked, unchanged, young
    time.sleep(0.1)
    cache.get("k")
    assert _wait_for(lambda: cache.get("k") == 2)

"""pytest plugin for the benchmarks: wall time of every fixture's set-up and teardown.

Loaded with `-p fixture_timing` (bench/ on PYTHONPATH); writes one JSON object per fixture
instance to the file named by STACKPROBE_FIXTURE_TIMING: name, scope, where it is defined,
set-up and teardown seconds. pytest sets up the fixtures a fixture requests before it, so a
set-up time is the fixture's own; `exclusive_s` still subtracts any set-up nested inside it
(a fixture that calls request.getfixturevalue), so their sum never counts a second twice.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from typing import Any

import pytest

_STACK: list[list[float]] = []  # per fixture being set up: nested set-up seconds so far
_RECORDS: dict[int, dict[str, Any]] = {}


def _where(fixturedef: pytest.FixtureDef[Any]) -> str:
    func = fixturedef.func
    code = getattr(func, "__code__", None)
    return f"{code.co_filename.rsplit('/', 2)[-2]}/{code.co_filename.rsplit('/', 1)[-1]}" if code else "?"


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Generator[None]:
    _STACK.append([0.0])
    started = time.perf_counter()
    try:
        yield
    finally:
        spent = time.perf_counter() - started
        nested = _STACK.pop()[0]
        if _STACK:
            _STACK[-1][0] += spent
        _RECORDS[id(fixturedef)] = {"fixture": fixturedef.argname, "scope": fixturedef.scope,
                                    "where": _where(fixturedef), "setup_s": spent,
                                    "exclusive_s": spent - nested, "teardown_s": 0.0}


def pytest_configure(config: pytest.Config) -> None:
    """Time each fixture's teardown: FixtureDef.finish runs its finalizers (pytest has no hook
    before them, only pytest_fixture_post_finalizer, itself the last finalizer)."""
    from _pytest.fixtures import FixtureDef

    original = FixtureDef.finish
    if getattr(original, "_timed", False):
        return

    def finish(self: FixtureDef[Any], request: Any) -> None:
        record = _RECORDS.pop(id(self), None)
        started = time.perf_counter()
        try:
            original(self, request)
        finally:
            if record is not None:
                record["teardown_s"] = time.perf_counter() - started
                _write(record)

    finish._timed = True  # type: ignore[attr-defined]
    FixtureDef.finish = finish  # type: ignore[method-assign]


def _write(record: dict[str, Any]) -> None:
    path = os.environ.get("STACKPROBE_FIXTURE_TIMING")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in record.items()}) + "\n")


def pytest_sessionfinish(session: pytest.Session) -> None:
    for record in _RECORDS.values():  # fixtures never finalized (the session's own, at exit)
        _write(record)
    _RECORDS.clear()

"""The project's own tests. pytester runs the plugin in throwaway pytest sessions.

`shared_stack`: one copy of the reference stack for the whole session, for tests that only
read it or that put back what they change (`TestStack.defect()`); tests that break a stack
for good start their own with `support.stacks.started_stack()`. Each xdist worker has its own,
paused while the worker runs a module that does not use it: the machine is CPU-bound, and an
idle copy's healthchecks alone took a tenth of a core.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Generator, Iterator

import pytest
from support.engine_lock import engine_use, lock_dir
from support.stacks import TestStack, started_stack

from stackprobe.targets.base import container_ready

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    # A job started in the background by a non-interactive shell (`cmd &`, some CI runners)
    # inherits SIGINT ignored, Python then installs no KeyboardInterrupt handler, and the
    # children the interruption tests signal inherit the ignore too: restore Ctrl-C here.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    config.addinivalue_line("markers", "alone: judges the whole Docker engine; no other Docker test runs meanwhile")


# The modules that take longest, first: `make test` deals whole modules to xdist workers in
# collection order (--dist loadfile --no-loadscope-reorder), and a long one dealt last ends the
# run alone.
LONGEST_FIRST = [
    "tests/e2e/test_chaos_defects_1.py", "tests/e2e/test_backup_suite.py", "tests/e2e/test_foreign_nocache.py",
    "tests/e2e/test_chaos_defects_2.py", "tests/e2e/test_foreign_inline.py", "tests/e2e/test_foreign_proxy.py",
    "tests/e2e/test_chaos_suite.py",
    "tests/deploy/test_deploy_suite.py", "tests/live/test_live_ssh.py", "tests/e2e/test_smoke_defects.py",
    "tests/e2e/test_logs_suite.py", "tests/e2e/test_installed.py", "tests/e2e/test_targets.py",
    "tests/e2e/test_no_observation.py", "tests/e2e/test_parallel_gate.py",
]


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_module(item), len(rank)))
    SHARED.modules = {_module(item) for item in items if "shared_stack" in getattr(item, "fixturenames", ())}


class _Shared:
    """This worker's shared copy, once started; paused while a module that does not use it runs
    (a paused container keeps its state and runs no healthcheck)."""

    def __init__(self) -> None:
        self.stack: TestStack | None = None
        self.modules: set[str] = set()
        self.paused = False

    def changes(self, item: pytest.Item) -> bool:
        return self.stack is not None and (_module(item) not in self.modules) != self.paused

    def want(self, item: pytest.Item) -> None:
        if self.stack is not None and self.changes(item):
            verb = "unpause" if self.paused else "pause"
            for attempt in range(3):  # under load the engine can refuse once ("unable to freeze")
                try:
                    self.stack.compose(verb)
                    break
                except Exception as error:  # not the run's internal error: the copy's tests say what is wrong
                    if attempt == 2:
                        print(f"\nshared copy {self.stack.project}: docker compose {verb} failed: {error}",
                              file=sys.stderr)
                        return
                    time.sleep(1)
            self.paused = not self.paused
            if not self.paused:
                self._ready()

    def _ready(self, within_s: float = 60.0) -> None:
        """Docker 20.10 reports a paused container unhealthy (without running its check) until
        its next check after the unpause: wait for it, as the copy's tests expect it steady."""
        assert self.stack is not None
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if all(container_ready(s.state()) for s in self.stack.target.services().values()):
                return
            time.sleep(0.25)


SHARED = _Shared()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    """On xdist workers, a Docker test shares the engine with the other workers' Docker tests,
    and an `alone` test waits for them to finish and holds them off (support/engine_lock.py)."""
    directory = lock_dir()
    docker = item.get_closest_marker("needs_docker") is not None
    if docker or SHARED.changes(item):  # pausing the shared copy is a Docker call too
        alone = docker and item.get_closest_marker("alone") is not None
        with engine_use(directory, alone=alone) if directory else contextlib.nullcontext():
            SHARED.want(item)
            if docker:
                return (yield)
    return (yield)


@pytest.fixture(scope="session")
def shared_stack() -> Iterator[TestStack]:
    with started_stack() as stack:
        SHARED.stack, SHARED.paused = stack, False
        try:
            yield stack
        finally:
            if SHARED.paused:  # removed as a running copy
                stack.compose("unpause")
            SHARED.stack, SHARED.paused = None, False

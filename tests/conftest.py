"""The project's own tests. pytester runs the plugin in throwaway pytest sessions.

`shared_stack`: one copy of the reference stack for the whole session, for tests that only
read it or that put back what they change (`TestStack.defect()`); tests that break a stack
for good start their own with `support.stacks.started_stack()`.
"""

from __future__ import annotations

import signal
from collections.abc import Generator, Iterator

import pytest
from support.engine_lock import engine_use, lock_dir
from support.stacks import TestStack, started_stack

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    """On xdist workers, a Docker test shares the engine with the other workers' Docker tests,
    and an `alone` test waits for them to finish and holds them off (support/engine_lock.py)."""
    directory = lock_dir()
    if directory is None or item.get_closest_marker("needs_docker") is None:
        return (yield)
    with engine_use(directory, alone=item.get_closest_marker("alone") is not None):
        return (yield)


@pytest.fixture(scope="session")
def shared_stack() -> Iterator[TestStack]:
    with started_stack() as stack:
        yield stack

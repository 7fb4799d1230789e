"""The project's own tests. pytester runs the plugin in throwaway pytest sessions.

`shared_stack`: one copy of the reference stack for the whole session, for tests that only
read it or that put back what they change (`TestStack.defect()`); tests that break a stack
for good start their own with `support.stacks.started_stack()`.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from support.stacks import TestStack, started_stack

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    # A job started in the background by a non-interactive shell (`cmd &`, some CI runners)
    # inherits SIGINT ignored, Python then installs no KeyboardInterrupt handler, and the
    # children the interruption tests signal inherit the ignore too: restore Ctrl-C here.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def shared_stack() -> Iterator[TestStack]:
    with started_stack() as stack:
        yield stack

"""The project's own tests. pytester runs the plugin in throwaway pytest sessions.

`shared_stack`: one copy of the reference stack for the whole session, for tests that only
read it or that put back what they change (`TestStack.defect()`); tests that break a stack
for good start their own with `support.stacks.started_stack()`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.stacks import TestStack, started_stack

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def shared_stack() -> Iterator[TestStack]:
    with started_stack() as stack:
        yield stack

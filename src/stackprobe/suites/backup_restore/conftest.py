"""What the backup suite shares: the stack's host, a scratch directory there, the deployment's
backup/restore commands, one round trip (BKP-01/02/03/04/06/10), the newest backup of the
backup directory (BKP-01/07/08/10), and the throwaway server BKP-09 fails against.

Everything the suite writes is a canary database (dropped afterwards), a scratch directory on
the stack's host (removed afterwards) or a throwaway container (removed afterwards); the
deployment's backup directory is only read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from stackprobe.backup.failures import FailureServer, Prestart
from stackprobe.backup.host import own_docker_client, scratch_dir
from stackprobe.backup.newest import Newest, find_newest
from stackprobe.backup.procedure import Procedure, command_env_file
from stackprobe.backup.roundtrip import RoundTrip, run_roundtrip
from stackprobe.session import control_of
from stackprobe.targets import Target
from stackprobe.targets.host import Host


@pytest.fixture(scope="session")
def stack_host(target: Target) -> Host:
    return target.host


@pytest.fixture(scope="session")
def scratch(stack_host: Host) -> Iterator[str]:
    """A private (0700) scratch directory on the stack's host, removed at the end (and by the
    next run if this one is killed outright)."""
    path = scratch_dir(stack_host)
    try:
        yield path
    finally:
        stack_host.remove_tree(path)


@pytest.fixture(scope="session")
def procedure(target: Target, stack_host: Host, scratch: str) -> Procedure:
    return Procedure(target, stack_host, command_env_file(target, stack_host, scratch))


@pytest.fixture(scope="session")
def failure_prestart(target: Target, stack_host: Host, scratch: str,
                     request: pytest.FixtureRequest) -> Iterator[Prestart | None]:
    """BKP-09's throwaway server, started in the background once the round trip's dump is done
    (when BKP-09 is selected at all), so its start-up overlaps the restore."""
    if not any(control_of(item) == "BKP-09" for item in request.session.items):
        yield None
        return
    prestart = Prestart(lambda: FailureServer(target, stack_host, scratch, docker=own_docker_client(target)))
    try:
        yield prestart
    finally:
        prestart.close()


@pytest.fixture(scope="session")
def roundtrip(target: Target, stack_host: Host, procedure: Procedure, scratch: str,
              failure_prestart: Prestart | None) -> Iterator[RoundTrip]:
    with contextlib.ExitStack() as stack:
        yield run_roundtrip(target, stack_host, procedure, scratch, stack,
                            after_dump=failure_prestart.start if failure_prestart else None)


@pytest.fixture(scope="session")
def newest(target: Target, stack_host: Host, procedure: Procedure, scratch: str) -> Iterator[Newest]:
    with contextlib.ExitStack() as stack:
        yield find_newest(target, stack_host, procedure, scratch, stack)


@pytest.fixture(scope="session")
def failure_server(failure_prestart: Prestart | None) -> FailureServer:
    assert failure_prestart is not None, "BKP-09 is selected, so the server is prepared"
    return failure_prestart.get()

"""What the backup suite shares: the stack's host, a scratch directory there, the deployment's
backup/restore commands (verified by the contract probe before any check uses them), one round
trip (BKP-01/02/03/04/06/10), the newest backup of the backup directory (BKP-01/07/08/10), and the
throwaway server BKP-09 fails against.

Everything the suite writes is a canary database (dropped afterwards), a scratch directory on
the stack's host (removed afterwards) or a throwaway container (removed afterwards); the
deployment's backup directory is only read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackprobe.backup import contract
from stackprobe.backup.failures import FailureServer, Prestart
from stackprobe.backup.host import own_docker_client, scratch_dir
from stackprobe.backup.newest import Newest, find_newest
from stackprobe.backup.procedure import Procedure, command_env_file
from stackprobe.backup.roundtrip import RoundTrip, run_roundtrip
from stackprobe.errors import CommandUnusable
from stackprobe.session import control_of, faults_dir, run
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


CONTRACT_WRITES = pytest.mark.writes(
    "{database}: two canary databases (the contract probe's dump and its restore), dropped afterwards",
    "stack host: a scratch backup directory (0700, removed afterwards)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every backup check depends on the contract probe: --dry-run lists what it writes."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(CONTRACT_WRITES)


@pytest.fixture(scope="session")
def commands(target: Target, stack_host: Host, scratch: str) -> Procedure:
    """The deployment's backup and restore commands, not yet verified (the contract probe's)."""
    return Procedure(target, stack_host, command_env_file(target, stack_host, scratch))


@pytest.fixture(scope="session")
def backup_contract(target: Target, stack_host: Host, commands: Procedure, scratch: str,
                    pytestconfig: pytest.Config) -> contract.Contract:
    """The contract probe, once per session: the commands run once, watched (stackprobe.backup.contract)."""
    reports = run(pytestconfig).settings.report_dir  # written by this run meanwhile, like the faults directory
    own = [str(faults_dir(pytestconfig)), *([str(reports)] if reports else [])]
    found = contract.probe(target, stack_host, commands, scratch, prune=own)
    left = found.left()
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if found.live and left and reporter is not None:  # said once, whatever the checks' outcomes
        reporter.write_line("")
        reporter.write_line(f"stackprobe: the deployment's commands left {len(left)} files outside their places on "
                            f"{stack_host.label}, left as they are (a live deployment's): " + ", ".join(left[:20])
                            + (f" and {len(left) - 20} more" if len(left) > 20 else ""))
    return found


@pytest.fixture(scope="session", autouse=True)
def procedure(backup_contract: contract.Contract, commands: Procedure) -> Procedure:
    """The commands, once the contract probe has seen them keep the suite's contract; otherwise
    every backup check is an ERROR with the probe's one line (before anything is judged)."""
    problem = backup_contract.problem
    if problem:
        raise CommandUnusable(problem, {"backup_contract": backup_contract.summary()})
    return commands


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

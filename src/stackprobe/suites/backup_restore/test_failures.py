"""BKP-09: a backup whose dump fails (wrong password; the database stopped mid-dump) exits
non-zero and leaves nothing named like a good backup. The failures happen on a throwaway
server the backup command is pointed at, never on the stack's own."""

from __future__ import annotations

import posixpath

import pytest

from stackprobe.backup.failures import FailedRun, FailureServer
from stackprobe.backup.procedure import Procedure
from stackprobe.evidence import Evidence
from stackprobe.suites.backup_restore import common
from stackprobe.targets import Target

TIMEOUT_S = 180.0
STREAMING_BYTES = 32 * 1024


def judge(failed: FailedRun, evidence: Evidence) -> None:
    evidence.record("run", failed.summary())
    problems = failed.problems()
    common.require(not problems, "; ".join(problems) + (
        ": with `set -o pipefail` and a check of the dump's trailer before the file gets its final name, "
        "a failed dump leaves nothing behind"))


@pytest.mark.control("BKP-09")
@common.THROWAWAY_SERVER
@pytest.mark.slow
def test_wrong_password_fails_and_leaves_nothing(failure_server: FailureServer, procedure: Procedure,
                                                 scratch: str, evidence: Evidence) -> None:
    evidence.record("server", {"project": failure_server.project, "started_s": round(failure_server.started_s, 2),
                               "failed_start_ups": failure_server.attempts_failed})
    directory = posixpath.join(scratch, "failed-wrong-password")
    with failure_server.wrong_password():
        run = failure_server.backup(procedure, directory, TIMEOUT_S)
    judge(FailedRun("wrong password", run), evidence)


@pytest.mark.control("BKP-09")
@common.THROWAWAY_SERVER
@pytest.mark.slow
def test_database_stopped_mid_dump_fails_and_leaves_nothing(failure_server: FailureServer, procedure: Procedure,
                                                            target: Target, scratch: str, evidence: Evidence) -> None:
    directory = posixpath.join(scratch, "failed-stopped-mid-dump")
    run, note = failure_server.stopped_mid_dump(
        procedure, directory, TIMEOUT_S, started_when=lambda listing: any(e.size >= STREAMING_BYTES for e in listing))
    failed = FailedRun("database stopped mid-dump", run, note)
    common.require(not note, f"inconclusive: {note} ({run.run.describe()})")
    judge(failed, evidence)

"""CHS-08: the stack is steady after every experiment (checked after each, and once more at the end)."""

from __future__ import annotations

import pytest

from stackprobe.errors import ExperimentAborted
from stackprobe.evidence import Evidence
from stackprobe.suites.chaos.conftest import ChaosRun

# experiments may leave the stack changed: in a parallel run, a copy of their own
pytestmark = pytest.mark.isolated


@pytest.mark.control("CHS-08")
@pytest.mark.slow
@pytest.mark.writes("{database}: canary table; {cache}: canary keys")
def test_steady_after_every_experiment(chaos: ChaosRun, evidence: Evidence) -> None:
    if chaos.aborted and not chaos.after:  # a steady state never established is not CHS-08's failure
        raise ExperimentAborted(f"no experiment ran: all {len(chaos.aborted)} were aborted because the steady "
                                "state did not hold before them (see their messages); CHS-08 has nothing to judge")
    final = chaos.steady.wait(chaos.cfg.steady_wait_s)
    left = chaos.injector.store.records()
    evidence.record("after_each_experiment", chaos.after)
    evidence.record("final", final.as_evidence())
    evidence.record("undo_records_left", [r.describe() for r in left])
    problems = [f"after {a['experiment']}: {'; '.join(a['problems'])}" for a in chaos.after if not a["holds"]]
    if not final.holds:
        problems.append(f"at the end: {final.reason()}")
    if left:
        problems.append(f"undo records left: {[r.describe() for r in left]}")
    assert not problems, (f"the stack was not steady after {sum(not a['holds'] for a in chaos.after)} of "
                          f"{len(chaos.after)} experiments: " + " | ".join(problems))

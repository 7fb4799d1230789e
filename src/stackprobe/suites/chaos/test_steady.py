"""CHS-08: the stack is steady after every experiment (checked after each, and once more at the end).

One check per group of experiments: with --parallel each group may run on a copy of its own, and
each copy's experiments are judged on that copy (an experiment of no known group, a user's own,
is judged by every instance that sees it)."""

from __future__ import annotations

import pytest

from stackprobe.errors import ExperimentAborted
from stackprobe.evidence import Evidence
from stackprobe.suites.chaos.conftest import GROUPS, ChaosRun

# experiments may leave the stack changed: in a parallel run, a copy of their own
pytestmark = pytest.mark.isolated


@pytest.mark.control("CHS-08")
@pytest.mark.slow
@pytest.mark.writes("{database}: canary table; {cache}: canary keys")
@pytest.mark.parametrize("group", [pytest.param(g, id=g, marks=pytest.mark.isolated(g)) for g in GROUPS])
def test_steady_after_every_experiment(chaos: ChaosRun, evidence: Evidence, group: str) -> None:
    judged = [a for a in chaos.after if a.get("group") == group or a.get("group") not in GROUPS]
    aborted = [nodeid for nodeid, of in chaos.aborted if of == group or of not in GROUPS]
    if aborted and not judged:  # a steady state never established is not CHS-08's failure
        raise ExperimentAborted(f"no experiment of group {group!r} ran: all {len(aborted)} were aborted because the "
                                "steady state did not hold before them (see their messages); CHS-08 has nothing to "
                                "judge")
    final = chaos.steady.wait(chaos.cfg.steady_wait_s)
    left = chaos.injector.store.records()
    evidence.record("after_each_experiment", judged)
    evidence.record("final", final.as_evidence())
    evidence.record("undo_records_left", [r.describe() for r in left])
    problems = [f"after {a['experiment']}: {'; '.join(a['problems'])}" for a in judged if not a["holds"]]
    if not final.holds:
        problems.append(f"at the end: {final.reason()}")
    if left:
        problems.append(f"undo records left: {[r.describe() for r in left]}")
    assert not problems, (f"the stack was not steady after {sum(not a['holds'] for a in judged)} of "
                          f"{len(judged)} experiments: " + " | ".join(problems))

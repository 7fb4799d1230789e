"""BKP-03: a dump taken while transfers move amounts between two tables restores to a
consistent state (the total is unchanged), and the transfers keep committing meanwhile."""

from __future__ import annotations

import pytest

from stackprobe.backup.roundtrip import RoundTrip
from stackprobe.evidence import Evidence
from stackprobe.suites.backup_restore import common
from stackprobe.targets import Target


@pytest.mark.control("BKP-03")
@common.uses_roundtrip
@pytest.mark.slow
def test_dump_under_writes_is_a_snapshot_and_does_not_stall_writers(roundtrip: RoundTrip, target: Target,
                                                                   evidence: Evidence) -> None:
    cfg, t = target.profile.backup, roundtrip.transfer
    bound = cfg.max_write_stall_s
    evidence.record("transfers", t.summary())
    evidence.record("max_write_stall_s", bound)
    why = roundtrip.why_no_restore()
    common.require(not why, why)
    problems = []
    if t.restored_total is None:
        problems.append("the restored database lacks the transfer tables (see BKP-02)")
    elif t.restored_total != t.expected_total:
        problems.append(
            f"the restored accounts total {t.restored_total}, not {t.expected_total} "
            f"({t.restored_total - t.expected_total:+d}): "
            f"the dump read the two tables at different moments while {t.committed_during} transfers committed, "
            "so it is no snapshot (dump with --single-transaction)")
    if t.stall_s > bound:
        problems.append(
            f"a transfer waited {t.stall_s:.2f} s to commit while the dump ran for {t.dump_s:.2f} s (bound "
            f"{bound:.2f} s, [backup] max_write_stall_s): the dump locks the tables it reads (mysqldump's "
            "default --lock-tables); --single-transaction gives a snapshot without blocking writers")
    if not problems and t.dump_s < bound:
        problems.append(f"inconclusive: the dump read for {t.dump_s:.2f} s, less than the stall bound, even with "
                        f"{t.padding_mb} MB of padding: raise [backup] max_padding_mb")
    if not problems and t.committed_during == 0:
        problems.append(f"inconclusive: no transfer committed during the {t.dump_s:.2f} s dump "
                        f"(writer: {t.writer.stopped_by or 'running'}, errors {t.writer.errors})")
    common.require(not problems, "; ".join(problems))

"""BKP-07: the newest backup in the backup directory is younger than the RPO, intact, of the
right database, and restores into a scratch database (never over live data)."""

from __future__ import annotations

import pytest

from stackprobe.backup.newest import Newest
from stackprobe.evidence import Evidence
from stackprobe.suites.backup_restore import common
from stackprobe.targets import Target


@pytest.mark.control("BKP-07")
@common.reads_newest
def test_newest_backup_younger_than_rpo_and_restorable(newest: Newest, target: Target, evidence: Evidence) -> None:
    evidence.record("newest", newest.summary())
    evidence.record("rpo_s", target.profile.backup.rpo_s)
    if newest.newest is not None:
        evidence.record("backup_size_bytes", newest.newest.size)
    if newest.restore is not None:
        evidence.record("restore_seconds", round(newest.restore.duration_s, 3))
    common.require(not newest.problems, "; ".join(newest.problems))

"""BKP-05: a backup run prunes exactly the backups older than the retention, keeps the rest,
and leaves files that are not backups alone."""

from __future__ import annotations

import posixpath

import pytest

from stackprobe.backup import retention
from stackprobe.backup.procedure import Procedure
from stackprobe.canary import scratch_database
from stackprobe.evidence import Evidence
from stackprobe.suites.backup_restore import common
from stackprobe.targets import Target
from stackprobe.targets.host import Host

CONTENT = b"stackprobe retention probe: not a real backup\n"


@pytest.mark.control("BKP-05")
@common.RETENTION
def test_retention_prunes_exactly_the_expired_backups(target: Target, stack_host: Host, procedure: Procedure,
                                                      scratch: str, evidence: Evidence) -> None:
    cfg = target.profile.backup
    days = cfg.retention_days
    directory = posixpath.join(scratch, "retention")
    stack_host.run(["mkdir", "-p", "-m", "0700", posixpath.join(directory, retention.SUBDIR)])
    now = stack_host.now()
    planted = retention.plan(now, days, cfg.dump_pattern, list(cfg.archive_patterns.values()))
    for item in planted:
        stack_host.write_file(posixpath.join(directory, item.name), CONTENT, 0o600, mtime=now - item.age_s)
    hidden = retention.subdir_plan(now, days, cfg.dump_pattern)
    for item in hidden:
        stack_host.write_file(posixpath.join(directory, retention.SUBDIR, item.name), CONTENT, 0o600,
                              mtime=now - item.age_s)
    before = {e.name: e for e in stack_host.listdir(directory) or []}
    evidence.record("planted", [{"name": p.name, "age_days": round(p.age_s / retention.DAY, 4),
                                 "expected": "kept" if p.keep else "pruned", "why": p.why} for p in planted])
    with scratch_database(lambda: target.mysql_root("")) as database:
        run = procedure.backup(directory, database=database, files=False, retention_days=days)
    evidence.record("backup", run.summary())
    common.require(run.run.exit_code == 0,
                   f"the backup command failed, so retention never ran: {run.run.describe()}")
    after = stack_host.listdir(directory) or []
    evidence.record("left", sorted(e.name for e in after))
    inside = {e.name for e in stack_host.listdir(posixpath.join(directory, retention.SUBDIR)) or []}
    verdict = retention.judge(planted, before, after, {p.name for p in hidden} <= inside, len(run.dumps))
    evidence.record("verdict", verdict.summary())
    common.require(verdict.ok, f"retention of {days} days: " + "; ".join(verdict.problems(days)))

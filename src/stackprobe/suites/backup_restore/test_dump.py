"""BKP-01 (the dump is intact and holds every table) and BKP-10 (backup files are private)."""

from __future__ import annotations

import contextlib

import pytest

from stackprobe.backup import checksums
from stackprobe.backup.contract import Contract
from stackprobe.backup.newest import Newest
from stackprobe.backup.roundtrip import RoundTrip
from stackprobe.canary import is_canary
from stackprobe.evidence import Evidence
from stackprobe.suites.backup_restore import common
from stackprobe.targets import Target
from stackprobe.targets.host import FileEntry

# readable by group or others: what BKP-10 forbids
OPEN_BITS = 0o044


@pytest.mark.control("BKP-01")
@common.uses_roundtrip
def test_backup_writes_an_intact_dump_of_every_table(roundtrip: RoundTrip, target: Target, evidence: Evidence,
                                                     backup_contract: Contract) -> None:
    evidence.record("backup_contract", backup_contract.summary())  # what the probe watched, and saw kept
    run = roundtrip.backup
    evidence.record("backup", run.summary())
    common.require(run.run.exit_code == 0, f"the backup command failed: {run.run.describe()}")
    entry, dump = roundtrip.dump_entry, roundtrip.dump
    if entry is None or dump is None:
        pytest.fail(
            f"the backup command exited 0 but left no file matching {run.dump_pattern!r} in {run.directory} "
            f"(new files: {[e.name for e in run.new_files] or 'none'}): check [backup] dump_pattern",
            pytrace=False)
    evidence.record("backup_size_bytes", entry.size)
    evidence.record("dump", dump.summary())
    with contextlib.closing(target.mysql_root("")) as connection, connection.cursor() as cursor:
        tables = checksums.base_tables(cursor, roundtrip.source)
    problems = dump.problems(database=roundtrip.source, tables=tables)
    if len(run.dumps) > 1:
        problems.append(f"one run wrote {len(run.dumps)} dumps: {[e.name for e in run.dumps]}")
    if entry.size == 0:
        problems.append("the dump is empty")
    common.require(not problems, f"{entry.name}: " + "; ".join(problems))


@pytest.mark.control("BKP-01")
@common.reads_newest
def test_newest_backup_holds_every_table(newest: Newest, target: Target, evidence: Evidence) -> None:
    evidence.record("newest", newest.summary())
    if newest.dump is None or newest.dump.problems(database=newest.database):
        pytest.skip(f"no complete newest backup of {newest.database!r} to read (BKP-07 fails for it: "
                    f"{newest.problems[0] if newest.problems else 'nothing found'})")
    assert newest.newest is not None
    evidence.record("backup_size_bytes", newest.newest.size)
    with contextlib.closing(target.mysql()) as connection, connection.cursor() as cursor:
        # canary tables of checks running meanwhile are not the deployment's
        tables = [t for t in checksums.base_tables(cursor, newest.database) if not is_canary(t)]
    evidence.record("tables_now", tables)
    missing = sorted(set(tables) - set(newest.dump.tables))
    common.require(not missing, (
        f"the newest backup {newest.newest.name} lacks {len(missing)} of the {len(tables)} tables database "
        f"{newest.database!r} has now: {', '.join(missing[:10])} (created since? else the backup command "
        "skips them)"))


def _open_files(entries: list[FileEntry]) -> list[str]:
    return [f"{e.name} ({e.mode:04o})" for e in entries if e.mode & OPEN_BITS]


@pytest.mark.control("BKP-10")
@common.uses_roundtrip
def test_backup_files_are_private(roundtrip: RoundTrip, evidence: Evidence) -> None:
    run = roundtrip.backup
    files = run.new_files
    evidence.record("files", [e.describe() for e in files])
    common.require(files, f"the backup command left no files to judge in {run.directory}: {run.run.describe()}")
    opened = _open_files(list(files))
    common.require(not opened, (
        f"backup files readable by group or others: {', '.join(opened)} (they hold password hashes and "
        "personal data): set umask 077 in the backup command, or chmod 600 what it writes"))


@pytest.mark.control("BKP-10")
@common.reads_newest
def test_backup_directory_files_are_private(newest: Newest, target: Target, evidence: Evidence) -> None:
    cfg = target.profile.backup
    if newest.listing is None:
        pytest.skip(f"no backup directory {newest.directory} (BKP-07 fails for it)")
    artifacts = newest.artifacts([cfg.dump_pattern, *cfg.archive_patterns.values()])
    evidence.record("directory", newest.directory)
    evidence.record("files", [e.describe() for e in artifacts])
    if not artifacts:
        pytest.skip(f"no backup files in {newest.directory} (BKP-07 fails for it)")
    opened = _open_files(list(artifacts))
    common.require(not opened, (
        f"{len(opened)} of {len(artifacts)} backup files in {newest.directory} are readable by group or "
        f"others: {', '.join(opened[:8])}: chmod 600 them and set umask 077 in the backup job"))

"""The backup suite proven on a stack copy: BKP-01..10 all pass on the reference procedure, each
seeded defect under tests/defects/backup/ fails exactly its controls with a message naming it,
and a bad backup directory (missing, a corrupt newest dump, a dump of another database, a stale
one) fails BKP-07 with one readable line, never a traceback.

The suite runs against the shared copy as a live target, as on a production host: it writes
only canary databases, scratch directories and throwaway containers. The copy gets a few
documents and uploads first (the "production data" BKP-06 archives), and a backup directory
filled by the real backup.sh, which the profile names as the deployment's `[backup] dir`.
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import backup_defects
from support.defect_spec import messages_problems
from support.stacks import SUITES, SuiteRun, TestStack

from stackprobe.backup.roundtrip import seed_backend
from stackprobe.canary import canary_name

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]

CONTROLS = {f"BKP-{n:02d}" for n in range(1, 11)}
CASES = backup_defects.cases()
LIGHT = backup_defects.LIGHT


@dataclass
class BackupEnv:
    stack: TestStack
    backups: Path  # the deployment's backup directory, as backup.sh fills it


@pytest.fixture(scope="module")
def backup_env(shared_stack: TestStack, tmp_path_factory: pytest.TempPathFactory) -> BackupEnv:
    seed_backend(shared_stack.target)
    return BackupEnv(shared_stack, shared_stack.backups(tmp_path_factory.mktemp("deployment") / "backups"))


def run_suite(env: BackupEnv, tmp_path: Path, backup: dict[str, Any], *extra: str) -> SuiteRun:
    profile = backup_defects.profile(tmp_path / "profile.toml", {"dir": str(env.backups), **LIGHT, **backup})
    started = time.monotonic()
    run = env.stack.run_suite(f"{SUITES}/backup_restore", report_dir=tmp_path / "reports", profile=profile,
                              extra=list(extra), timeout=600)
    print(f"\nbackup suite run: {time.monotonic() - started:.1f} s, {run.statuses}")
    return run


def checks(run: SuiteRun, control: str) -> list[dict[str, Any]]:
    return list(run.results.get("controls", {}).get(control, {}).get("checks", []))


def test_backup_suite_passes_on_the_reference(backup_env: BackupEnv, tmp_path: Path) -> None:
    run = run_suite(backup_env, tmp_path, {})
    assert run.statuses == dict.fromkeys(sorted(CONTROLS), "passed"), run.tail()
    not_passed = [c["nodeid"] for control in CONTROLS for c in checks(run, control) if c["status"] != "passed"]
    assert not not_passed, f"checks that did not pass (a skip proves nothing): {not_passed}"
    (bkp03,) = checks(run, "BKP-03")
    transfers = bkp03["evidence"]["transfers"]
    assert transfers["writer"]["committed_during_dump"] > 0 and transfers["restored_total"] == transfers[
        "expected_total"], transfers
    print("reference BKP-03:", transfers["attempts"], transfers["writer"])
    _assert_dump_and_restore_evidence(run)
    assert "Traceback" not in run.stdout + run.stderr


def check_named(run: SuiteRun, control: str, function: str) -> dict[str, Any]:
    (found,) = [c for c in checks(run, control) if c["nodeid"].endswith(f"::{function}")]
    return found


def _assert_dump_and_restore_evidence(run: SuiteRun) -> None:
    """What BKP-01/02 record (stackprobe/suites/backup_restore/test_dump.py, test_restore.py): the dump's name and
    size, its gzip integrity, per-table checksums of both sides, and how long backup and restore took."""
    bkp01 = check_named(run, "BKP-01", "test_backup_writes_an_intact_dump_of_every_table")["evidence"]
    backup, dump, size = bkp01["backup"], bkp01["dump"], bkp01["backup_size_bytes"]
    assert backup["exit"] == 0 and backup["duration_s"] > 0, backup
    name = Path(dump["path"]).name
    assert name.startswith("backup_") and name.endswith(".sql.gz"), dump["path"]
    assert isinstance(size, int) and size > 0, bkp01
    assert [f["size"] for f in backup["new_files"] if f["name"] == name] == [size], (name, backup["new_files"])
    assert dump["intact_gzip"] is True and dump["complete"] is True, dump
    assert dump["tables"], dump

    bkp02 = check_named(run, "BKP-02", "test_restore_gives_identical_checksums")["evidence"]
    source, restored = bkp02["checksums_source"], bkp02["checksums_restored"]
    assert source and source == restored, (source, restored)
    assert all(set(sums) == {"rows", "xor", "sum"} for sums in source.values()), source
    assert sum(sums["rows"] for sums in source.values()) > 0, source
    assert set(source) <= set(dump["tables"]), (sorted(source), dump["tables"])
    assert bkp02["restore"]["exit"] == 0 and bkp02["restore_seconds"] > 0, bkp02["restore"]
    print(f"reference BKP-01/02: {name} {size} bytes, backup {backup['duration_s']} s, restore "
          f"{bkp02['restore_seconds']} s, {len(source)} tables checksummed on both sides")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_defect_fails_exactly_its_controls(backup_env: BackupEnv, tmp_path: Path, case: Path) -> None:
    spec = backup_defects.spec_of(case)
    run = run_suite(backup_env, tmp_path, backup_defects.build(case, tmp_path / "defect"))
    expected = set(spec.fails)
    assert set(run.statuses) == CONTROLS, run.tail()
    assert run.failed() == expected, f"{case.name}: expected {sorted(expected)} to fail: {run.statuses}\n{run.tail()}"
    assert all(s == "passed" for c, s in run.statuses.items() if c not in expected), run.statuses
    for control in expected:
        messages = [c["message"] for c in checks(run, control) if c["status"] == "failed"]
        problems = messages_problems(spec, messages)
        assert not problems, f"{case.name}: {control}'s messages miss the defect ({problems}): {messages}"
        print(f"{case.name} {control}: {' '.join(messages)[:400]}")
    assert "Traceback" not in run.stdout + run.stderr


# --- a bad backup directory: BKP-07 (or BKP-08) fails with one line -----------------------------------
def _corrupt_newest(env: BackupEnv, into: Path) -> None:
    shutil.copytree(env.backups, into)
    newest = max(into.glob("backup_*.sql.gz"), key=lambda p: p.stat().st_mtime)
    later = newest.with_name("backup_29991231_235959.sql.gz")
    later.write_bytes(gzip.compress(newest.read_bytes())[:200] + os.urandom(64))  # a gzip header, then garbage
    later.chmod(0o600)  # private like the rest: BKP-10 has nothing to say about it


def _other_database(env: BackupEnv, into: Path) -> None:
    shutil.copytree(env.backups, into)
    other = canary_name()
    with env.stack.target.mysql_root() as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{other}`")
        cursor.execute(f"CREATE TABLE `{other}`.t (id INT PRIMARY KEY)")
    try:
        made = into / "other"
        done = env.stack.script("backup.sh", env={"BACKUP_DIR": str(made), "BACKUP_DATABASE": other,
                                                  "BACKUP_FILES": "0"})
        assert done.returncode == 0, done.stderr
        for dump in made.glob("backup_*.sql.gz"):
            dump.rename(into / "backup_29991231_235959.sql.gz")
        made.rmdir()
    finally:
        with env.stack.target.mysql_root() as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{other}`")


def _stale(env: BackupEnv, into: Path) -> None:
    shutil.copytree(env.backups, into)
    two_days_ago = time.time() - 2 * 86400
    for path in into.iterdir():
        os.utime(path, (two_days_ago, two_days_ago))


BAD = {
    "missing": (None, "BKP-07", "no backup directory"),
    "corrupt_gz": (_corrupt_newest, "BKP-07", "not an intact gzip stream"),
    "other_database": (_other_database, "BKP-07", "is a dump of database"),
    "stale": (_stale, "BKP-07", "older than the RPO"),
    "rto_tighter_than_restore": (shutil.copytree, "BKP-08", "over the RTO"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_backup_directory_fails_one_control_in_one_line(backup_env: BackupEnv, tmp_path: Path,
                                                             case: str) -> None:
    prepare, control, words = BAD[case]
    directory = tmp_path / "backups"
    if prepare is shutil.copytree:
        shutil.copytree(backup_env.backups, directory)
    elif prepare is not None:
        prepare(backup_env, directory)  # type: ignore[operator]
    backup: dict[str, Any] = {"rto_s": 0.01} if case == "rto_tighter_than_restore" else {}
    profile = backup_defects.profile(tmp_path / "profile.toml", {**LIGHT, **backup, "dir": str(directory)})
    run = backup_env.stack.run_suite(f"{SUITES}/backup_restore", report_dir=tmp_path / "reports", profile=profile,
                                     extra=["--nightly"], timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 1, run.tail()
    assert run.failed() == {control}, f"{case}: {run.statuses}\n{run.tail()}"
    (failed,) = [c for c in checks(run, control) if c["status"] == "failed"]
    message = failed["message"]
    print(f"\n{case}: {message}")
    assert words in message and "\n" not in message.strip() and message.startswith("Failed: "), message
    assert "Traceback" not in output, output[-2000:]

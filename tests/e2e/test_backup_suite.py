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

import contextlib
import gzip
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import backup_defects
from support.defect_spec import batch_ids, batch_owners, messages_problems
from support.stacks import REPO, SUITES, SuiteRun, TestStack

from stackprobe.backup.roundtrip import seed_backend
from stackprobe.canary import canary_name

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]

CONTROLS = {f"BKP-{n:02d}" for n in range(1, 11)}
GROUPS = backup_defects.batches()
CONTRACT = [case for case in backup_defects.cases() if backup_defects.spec_of(case).get("errors")]
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


@pytest.mark.parametrize("batch", list(GROUPS), ids=batch_ids(GROUPS))
def test_defects_fail_exactly_their_controls(backup_env: BackupEnv, tmp_path: Path, batch: int) -> None:
    """One suite run with every defect of the batch in its copy of the scripts: exactly the union of
    their controls fails, and each control's failures name the defect that owns it."""
    specs = GROUPS[batch]
    owners = batch_owners(specs)
    by_name = {spec.name: spec for spec in specs}
    run = run_suite(backup_env, tmp_path, backup_defects.build(specs, tmp_path / "defect"))
    assert set(run.statuses) == CONTROLS, run.tail()
    assert run.failed() == set(owners), (
        f"{', '.join(by_name)}: expected {sorted(owners)} to fail: {run.statuses}\n{run.tail()}")
    assert all(s == "passed" for c, s in run.statuses.items() if c not in owners), run.statuses
    for control, name in sorted(owners.items()):
        messages = [c["message"] for c in checks(run, control) if c["status"] == "failed"]
        problems = messages_problems(by_name[name], messages)
        assert not problems, f"{name}: {control}'s messages miss the defect ({problems}): {messages}"
        print(f"{name} {control}: {' '.join(messages)[:400]}")
    assert "Traceback" not in run.stdout + run.stderr


@pytest.mark.parametrize("case", CONTRACT, ids=[c.name for c in CONTRACT])
def test_a_command_that_breaks_the_contract_errors_once(backup_env: BackupEnv, tmp_path: Path, case: Path) -> None:
    _judge_contract_defect(backup_env, tmp_path, case)


# --- a backup command that breaks the suite's contract: one error, its stray files named and kept -----
# Python writes these while the suite's own process imports; nothing the commands do
# .stackprobe: the tool's own state (fault records, the engine's log), which other runs on the
# machine (parallel test workers) write at any time
TREE_SKIP = {"__pycache__", ".hypothesis", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".stackprobe"}


def _tree_state(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every file (size, mtime in ns) and directory (None) under `root`, by relative path."""
    found: dict[str, tuple[int, int] | None] = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in TREE_SKIP]
        here = Path(directory).relative_to(root)
        for name in dirs:
            found[str(here / name)] = None
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                info = (Path(directory) / name).lstat()
                found[str(here / name)] = (info.st_size, info.st_mtime_ns)
    return found


def _judge_contract_defect(env: BackupEnv, tmp_path: Path, case: Path) -> None:
    """The must-show of "commands are verified, not trusted", on a live target: a backup command that
    ignores BACKUP_DIR (it dumps into backups/ of the directory it runs from, the deployment's) stops the
    suite with ONE error naming the stray files; the report and the terminal list them; they are left in
    place (a live deployment's files are never deleted), and the deployment's directory ends as it began
    except for them. This test then removes them itself."""
    spec = backup_defects.spec_of(case)
    deployment = REPO  # the live target's project_dir: the suite runs from the repository root
    began = _tree_state(deployment)
    run = run_suite(env, tmp_path, backup_defects.build([spec], tmp_path / "defect"))
    left: list[str] = []
    try:
        assert run.statuses == dict.fromkeys(sorted(spec.get("errors")), "error"), f"{run.statuses}\n{run.tail()}"
        results = [c for control in spec.get("errors") for c in checks(run, control)]
        messages = {c["message"] for c in results}
        assert len(messages) == 1 and all(c["status"] == "error" for c in results), messages
        (message,) = messages
        assert "\n" not in message and not messages_problems(spec, [message]), message
        print(f"\n{case.name}: {len(results)} checks errored with: {message}")
        evidence = results[0]["evidence"]["backup_contract"]
        left = list(evidence["stray_files_left"])
        assert left and all(Path(p).is_file() and Path(p).is_relative_to(deployment / "backups") for p in left), left
        for path in left:  # named in the one line, in the report and on the terminal
            relative = str(Path(path).relative_to(deployment))
            assert relative in message, (relative, message)
            assert relative in next(run.report_dir.glob("*/controls.html")).read_text()
        assert "left as they are (a live deployment's)" in run.stdout and left[0] in run.stdout, run.tail()
        assert evidence["stray_files_removed"] == [] and evidence["ignored"], evidence
        ended = _tree_state(deployment)
        changed = {p for p in set(began) | set(ended) if began.get(p, "gone") != ended.get(p, "gone")}
        named = {str(Path(p).relative_to(deployment)) for p in left}
        assert changed - {"backups"} == named, (sorted(changed), sorted(named))
        assert "Traceback" not in run.stdout + run.stderr
    finally:  # what the suite left as a live deployment's, the test removes (only what was not there)
        strays = deployment / "backups"
        for path in [*map(Path, left), *(strays.iterdir() if strays.is_dir() else [])]:
            if str(path.relative_to(deployment)) not in began and path.is_file():
                path.unlink()
        if "backups" not in began and (deployment / "backups").is_dir() and not any((deployment / "backups").iterdir()):
            (deployment / "backups").rmdir()


def test_a_backup_command_that_cannot_be_run_errors_every_check_in_one_line(backup_env: BackupEnv,
                                                                            tmp_path: Path) -> None:
    """A script without its execute bit: one line naming it and `chmod +x`, the ERROR of every backup
    check (it once gave ~200-line tracebacks, ERROR on some controls and FAILED on others)."""
    script = tmp_path / "scripts" / "backup.sh"
    script.parent.mkdir()
    shutil.copy(REPO / "stack" / "scripts" / "backup.sh", script)
    shutil.copy(REPO / "stack" / "scripts" / "lib.sh", script.parent / "lib.sh")
    script.chmod(0o644)
    run = run_suite(backup_env, tmp_path, {"command": [str(script)]})
    assert run.statuses == dict.fromkeys(sorted(CONTROLS), "error"), run.tail()
    messages = {c["message"] for control in CONTROLS for c in checks(run, control)}
    assert messages == {f"cannot run [backup] command `{script}`: {script} is not executable: chmod +x {script} "
                        f"(or name its interpreter first in [backup] command, e.g. [\"bash\", \"{script}\", ...])"}, \
        messages
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

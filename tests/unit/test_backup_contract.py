"""The backup suite's contract probe without Docker: the snapshot of a directory tree and its
diff, the watched backup run with small fake scripts on this host (one that honours BACKUP_DIR
and BACKUP_DATABASE, one that writes into its own deployment's directory, one not executable,
one with an interpreter the host lacks), the one-line messages, and a setup error that carries
its evidence into the report."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackprobe.backup.contract import Contract, Watch, message, probe, stray, watched_backup, watched_roots
from stackprobe.backup.procedure import Procedure
from stackprobe.profile import BackupSection, Profile
from stackprobe.targets.host import LocalHost, unrunnable
from stackprobe.targets.snapshot import Changes, compare, take

pytest_plugins = ["pytester"]

CANARY = "stackprobe_canary_abc123_1_deadbeef"
DUMP = (r"""printf -- '-- MySQL dump 10.13\n-- Host: db    Database: %s\n-- ----\n"""
        r"""CREATE TABLE `t` (id int);\n-- Dump completed on 2026-01-01\n' "$1" | gzip -c""")
HONOURS = f"""#!/usr/bin/env bash
set -euo pipefail
dump() {{ {DUMP}; }}
mkdir -p -m 0700 "$BACKUP_DIR"
dump "$BACKUP_DATABASE" > "$BACKUP_DIR/backup_20260101_000000.sql.gz"
"""
# what the real project's `deploy.sh backup` did: its own backups/ next to it, the live database
OWN_DIR = f"""#!/usr/bin/env bash
set -euo pipefail
dump() {{ {DUMP}; }}
here=$(cd -- "$(dirname -- "$0")/.." && pwd)
mkdir -p "$here/backups"
dump live_app > "$here/backups/backup_20260101_000000.sql.gz"
: > "$here/backups/backup_20260101_000001.sql.gz"
echo "last backup: now" >> "$here/config.txt"
"""


# --- the snapshot and its diff ------------------------------------------------------------------
def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_snapshot_names_new_changed_and_removed_files_by_path_and_hash(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.txt": "a", "sub/b.txt": "b", "sub/deep/c.txt": "c", "keep.txt": "k", "we ird\tname": "w"})
    host = LocalHost()
    before = take(host, str(tmp_path))
    assert before.entries["sub/deep/c.txt"].sha256 == "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"
    assert "we ird\tname" in before.entries and not before.truncated
    stat = os.stat(tmp_path / "keep.txt")
    (tmp_path / "keep.txt").write_text("K")  # same size, same mtime: only the hash tells
    os.utime(tmp_path / "keep.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (tmp_path / "sub" / "b.txt").unlink()
    _tree(tmp_path, {"new/dir/x.sql": "x", "a2.txt": "2"})
    (tmp_path / "emptydir").mkdir()
    changes = compare(before, take(host, str(tmp_path)))
    assert changes.new == ("a2.txt", "emptydir", "new/dir/x.sql")  # a new directory's files name it
    assert changes.changed == ("keep.txt",)
    assert changes.removed == ("sub/b.txt",)
    assert changes.topmost_new() == ["a2.txt", "emptydir", "new"]
    assert changes.describe(limit=2) == "a2.txt, emptydir and 3 more"
    assert not compare(before, before)


def test_snapshot_bounds_prune_and_a_missing_root(tmp_path: Path) -> None:
    _tree(tmp_path, {f"top{n}.txt": str(n) for n in range(5)} | {f"d/deep{n}.txt": "x" for n in range(20)}
          | {"data/mysql/ibdata": "db"})
    host = LocalHost()
    before = take(host, str(tmp_path), max_files=10, prune=[str(tmp_path / "data")])
    assert before.truncated and before.total == 5 + 1 + 20 and before.complete_depth == 1
    assert not any(p.startswith("data/") for p in before.entries) and before.pruned == ("data",)
    _tree(tmp_path, {"stray.sql": "dump", "data/mysql/ibdata": "written by the database meanwhile"})
    after = take(host, str(tmp_path), max_files=10, prune=[str(tmp_path / "data")])
    # shallower entries pushed deep ones past the bound: not "removed", only what is comparable
    assert compare(before, after) == Changes(str(tmp_path), ("stray.sql",), (), ())
    assert not take(host, str(tmp_path / "nope")).exists
    _tree(tmp_path, {".cache/tool/state.db": "written by a tool at any time", ".env.local": "A=1"})
    unhidden = take(host, str(tmp_path), hidden_dirs=False)
    assert ".env.local" in unhidden.entries and not any(p.startswith(".cache") for p in unhidden.entries)
    assert ".cache/tool/state.db" in take(host, str(tmp_path)).entries
    hashed = take(host, str(tmp_path), hash_bytes=3)
    sizes = [e.size for e in hashed.entries.values() if e.sha256]
    assert sizes and sum(sizes) <= 3 < sum(e.size for e in hashed.entries.values() if e.kind == "file")


def test_stray_leaves_out_the_allowed_places_and_ignored_globs(tmp_path: Path) -> None:
    host = LocalHost()
    (tmp_path / "scratch").mkdir()
    before = [take(host, str(tmp_path))]
    _tree(tmp_path, {"scratch/backup_1.sql.gz": "x", "logs/app.log": "l", "backups/backup_1.sql.gz": "y"})
    found = stray(before, [take(host, str(tmp_path))], [str(tmp_path / "scratch")], [str(tmp_path / "logs")])
    assert found == [Changes(str(tmp_path), ("backups/backup_1.sql.gz",), (), (), ("backups",))]


# --- the watched backup run ------------------------------------------------------------------------
@dataclasses.dataclass
class Deployment:
    root: Path
    target: Any
    procedure: Procedure
    contract: Contract
    watch: Watch


def _deployment(tmp_path: Path, script: str, mode: int = 0o755, kind: str = "live",
                restore_mode: int = 0o755) -> Deployment:
    root = tmp_path / "deployment"
    _tree(root, {"docker-compose.yml": "services: {}\n", "config.txt": "setting = 1\n", ".env": "A=1\n",
                 "scripts/backup.sh": script, "scripts/restore.sh": "#!/bin/sh\nexit 0\n"})
    (root / "scripts" / "backup.sh").chmod(mode)
    (root / "scripts" / "restore.sh").chmod(restore_mode)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    backup = dataclasses.replace(BackupSection(), command=["scripts/backup.sh"],
                                 restore_command=["scripts/restore.sh", "{file}", "--database", "{database}"])
    target = SimpleNamespace(profile=dataclasses.replace(Profile(), backup=backup), project="proj", project_dir=root,
                             compose_files=[root / "docker-compose.yml"], env={}, env_files=[root / ".env"],
                             kind=kind)
    host = LocalHost()
    procedure = Procedure(target, host, str(root / ".env"))  # type: ignore[arg-type]
    roots = watched_roots(target)  # type: ignore[arg-type]
    found = Contract(list(backup.command), list(backup.restore_command), kind == "live", roots=roots,
                     directory=str(scratch / "contract"), database=CANARY)
    return Deployment(root, target, procedure, found, Watch(host, roots, [str(scratch)], 1000, 1 << 20))


def test_a_command_that_honours_its_variables_keeps_the_contract(tmp_path: Path) -> None:
    d = _deployment(tmp_path, HONOURS)
    assert d.contract.roots == [str(d.root)]  # backups/ (the [backup] dir) lies inside it
    watched_backup(d.contract, d.procedure, LocalHost(), d.watch)
    assert d.contract.backup is not None and d.contract.backup.run.exit_code == 0, d.contract.backup.run
    assert d.contract.dump is not None and d.contract.dump.database == CANARY
    assert d.contract.problem == "" and not d.contract.backup_stray and not d.contract.ignored


def test_a_command_that_writes_into_its_own_directory_is_one_error_naming_what_it_left(tmp_path: Path) -> None:
    d = _deployment(tmp_path, OWN_DIR)
    host = LocalHost()
    began = take(host, str(d.root))
    watched_backup(d.contract, d.procedure, host, d.watch)
    problem = d.contract.problem
    assert "\n" not in problem and "Traceback" not in problem
    assert f"wrote outside the directory it was given: 3 in {d.root}: backups/backup_20260101_000000.sql.gz, " \
           "backups/backup_20260101_000001.sql.gz, config.txt (changed)" in problem, problem
    assert "left in place: a live deployment's files are never deleted here" in problem
    assert f"it ignored BACKUP_DIR (nothing was written to {tmp_path}/scratch/contract)" in problem
    assert f"BACKUP_DATABASE (it dumped 'live_app', not the canary '{CANARY}' it was given)" in problem
    assert d.contract.stray_dumps[0].database == "live_app"
    # the deployment's directory ends as it began except for what the error names
    named = {*d.contract.backup_stray[0].new, *d.contract.backup_stray[0].changed}
    left = compare(began, take(host, str(d.root)))
    assert {*left.new, *left.changed, *left.removed} == named
    summary = d.contract.summary()
    assert summary["stray_files_left"] == [str(d.root / p) for p in sorted(named)]
    json.dumps(summary)  # evidence: plain data


def test_an_ephemeral_copys_stray_files_are_removed_again(tmp_path: Path) -> None:
    from stackprobe.backup.contract import _remove_new

    d = _deployment(tmp_path, OWN_DIR, kind="ephemeral")
    host = LocalHost()
    began = take(host, str(d.root))
    watched_backup(d.contract, d.procedure, host, d.watch)
    d.contract.removed = _remove_new(host, d.contract.backup_stray)
    assert d.contract.removed == [str(d.root / "backups")]
    assert "removed again: an ephemeral copy's" in d.contract.problem
    left = compare(began, take(host, str(d.root)))
    assert left == Changes(str(d.root), (), ("config.txt",), ())  # a changed file cannot be undone: named


@pytest.mark.parametrize("script, mode, words", [
    (HONOURS, 0o644, "is not executable: chmod +x {root}/scripts/backup.sh"),
    ("#!/nonexistent/bin/bash\necho\n", 0o755, "names the interpreter '/nonexistent/bin/bash' in its #! line"),
    ("#!/usr/bin/env no-such-shell-xyz\necho\n", 0o755, "names the interpreter 'no-such-shell-xyz'"),
    ("#!/bin/sh\r\necho\n", 0o755, "has Windows line endings in its #! line"),
    ("echo no shebang\n", 0o755, "has no #! line"),
])
def test_a_command_that_cannot_be_run_is_one_line_with_the_fix(tmp_path: Path, script: str, mode: int,
                                                                 words: str) -> None:
    d = _deployment(tmp_path, script, mode)
    found = probe(d.target, LocalHost(), d.procedure, str(tmp_path / "scratch"))  # no database touched
    assert found.problem == found.unrunnable
    assert found.problem.startswith("cannot run [backup] command `scripts/backup.sh`: "), found.problem
    assert words.format(root=d.root) in found.problem and "\n" not in found.problem
    # run anyway, it is a shell's exit code and one line, not an exception
    done = LocalHost().run([str(d.root / "scripts" / "backup.sh")], cwd=str(d.root))
    assert done.exit_code in {126, 127} and "Traceback" not in done.describe()


def test_a_restore_command_that_cannot_be_run_is_found_before_anything_runs(tmp_path: Path) -> None:
    d = _deployment(tmp_path, HONOURS, restore_mode=0o644)
    found = probe(d.target, LocalHost(), d.procedure, str(tmp_path / "scratch"))
    assert found.problem == (f"cannot run [backup] restore_command `scripts/restore.sh '{{file}}' --database "
                             f"'{{database}}'`: {d.root}/scripts/restore.sh is not executable: chmod +x "
                             f"{d.root}/scripts/restore.sh (or name its interpreter first in [backup] "
                             "restore_command, e.g. [\"bash\", \"scripts/restore.sh\", ...])")
    assert found.backup is None and not (tmp_path / "scratch" / "contract").exists()  # nothing ran


def test_a_missing_command_and_a_runnable_one(tmp_path: Path) -> None:
    host = LocalHost()
    assert "/tmp/no-such-deploy.sh does not exist on this host: fix [deploy] command" in unrunnable(
        host, ["./no-such-deploy.sh", "init"], "/tmp", "[deploy] command")
    assert "is not a program on the PATH" in unrunnable(host, ["no-such-tool-xyz"], "/tmp", "[backup] command")
    assert unrunnable(host, ["bash", "-c", "true"], "/tmp", "[backup] command") == ""
    assert unrunnable(host, ["/usr/bin/env"], "/tmp", "[backup] command") == ""
    assert unrunnable(host, [], "/tmp", "[backup] restore_command") == "[backup] restore_command is empty: " \
                                                                      "name the command to run"


def test_the_message_attributes_each_finding_to_its_command() -> None:
    ignored = ["BACKUP_DIR (nothing was written to /s)"]
    stray_restore = [Changes("/srv/app", ("restore.log",))]
    text = message(["deploy.sh", "backup"], ["restore.sh", "{file}"], [], stray_restore, ignored,
                   ["{database} (it exited 0 ...)"], live=True)
    assert text.startswith("the deployment's commands do not keep the backup suite's contract")
    assert "the backup command `deploy.sh backup` ignored BACKUP_DIR" in text
    assert ("the restore command `restore.sh '{file}'` wrote outside the scratch directory: 1 in /srv/app: "
            "restore.log (left in place") in text
    assert "; it ignored {database}" in text
    assert message(["b"], ["r"], [], [], [], [], live=True) == ""


# --- a command's error carries its evidence into the report --------------------------------------
CHECKS = '''
import pytest
from stackprobe.errors import CommandUnusable

@pytest.fixture(scope="session")
def procedure():
    raise CommandUnusable("the backup command left backups/x.sql.gz",
                          {"backup_contract": {"left": ["backups/x.sql.gz"]}})

@pytest.mark.control("BKP-01")
def test_one(procedure):
    pass

@pytest.mark.control("BKP-02")
def test_two(procedure):
    pass
'''


def test_every_check_needing_the_command_errors_with_the_same_line_and_its_evidence(
        pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_user_checks=CHECKS)
    reports = tmp_path / "reports"
    result = pytester.runpytest("-p", "no:cacheprovider", f"--report-dir={reports}")
    result.assert_outcomes(errors=2)
    assert "Traceback" not in result.stdout.str() and "raise CommandUnusable" not in result.stdout.str()
    (run_dir,) = [p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()]
    controls = json.loads((run_dir / "results.json").read_text())["controls"]
    for control in ("BKP-01", "BKP-02"):
        (check,) = controls[control]["checks"]
        assert check["status"] == "error" and check["message"] == "the backup command left backups/x.sql.gz"
        assert check["evidence"] == {"backup_contract": {"left": ["backups/x.sql.gz"]}}

"""backup.sh and restore.sh: a round trip gives identical tables; failures leave nothing."""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import pymysql
import pytest
from stack_support import Stack, one_line

from stackprobe.backup.checksums import table_checksums

pytestmark = pytest.mark.needs_docker

ARTIFACT_GLOBS = ("backup_*.sql.gz", "uploads_backup_*.tar.gz", "vector_db_backup_*.tar.gz")


def table_columns(conn: pymysql.Connection, database: str) -> list[tuple[object, ...]]:
    """Every column's definition, to compare schemas across databases."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE,"
            " COLUMN_DEFAULT, COLLATION_NAME, COLUMN_KEY, EXTRA FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION",
            (database,),
        )
        return list(cursor.fetchall())


def artifacts(directory: Path) -> list[Path]:
    return sorted(p for pattern in ARTIFACT_GLOBS for p in directory.glob(pattern))


class ArgvWatcher:
    """Samples every process's command line on the host (container processes included)
    while a script runs, to prove no secret is ever passed as an argument."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = [s.encode() for s in secrets]
        self.leaks: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                        argv = handle.read()
                except OSError:
                    continue
                if any(s in argv for s in self.secrets):
                    # the process name only: never the secret itself
                    self.leaks.append(argv.split(b"\0")[0].decode(errors="replace"))
            self.samples += 1
            self._stop.wait(0.005)

    def __enter__(self) -> ArgvWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def seed_data(stack: Stack) -> list[str]:
    """A few documents (utf8mb4, newlines, quotes), uploads and a user; returns upload names."""
    base = stack.backend_url
    marker = uuid.uuid4().hex[:8]
    for n, content in enumerate(
        ["plain ascii text", "ünïcödé 漢字 🎉 'quotes' \"double\" \\ backslash", "multi\nline\ttab"]
    ):
        response = httpx.post(
            f"{base}/api/v1/documents",
            json={"title": f"backup {marker} {n}", "content": f"{content} {marker}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
    stored = []
    for name, data in [("notes.txt", b"hello uploads\n"), ("blob.bin", os.urandom(2048))]:
        response = httpx.put(f"{base}/api/v1/uploads/{marker}-{name}", content=data, timeout=30)
        assert response.status_code == 201, response.text
        stored.append(response.json()["stored_as"])
    response = httpx.post(
        f"{base}/api/v1/users",
        json={"username": f"user_{marker}", "password": "correct horse battery"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return stored


def drop_database(stack: Stack, name: str) -> None:
    with stack.mysql(root=True, database="") as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def test_backup_then_restore_gives_identical_tables(stack: Stack, tmp_path: Path) -> None:
    uploads = seed_data(stack)
    backup_dir = tmp_path / "backups"
    secrets = [stack.values[k] for k in ("MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "REDIS_PASSWORD")]

    with ArgvWatcher(secrets) as watcher:
        result = stack.script("backup.sh", extra_env={"BACKUP_DIR": str(backup_dir)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert watcher.samples > 0 and not watcher.leaks, f"secret on a command line: {watcher.leaks}"

    # One of each artifact, 0600 in a 0700 directory, nothing else left behind.
    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700
    files = sorted(backup_dir.iterdir())
    found = artifacts(backup_dir)
    assert files == found, f"unexpected files: {[p.name for p in files]}"
    assert [len(list(backup_dir.glob(g))) for g in ARTIFACT_GLOBS] == [1, 1, 1]
    for path in found:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path.name} is not 0600"
        assert path.name in result.stdout, f"{path.name} not reported"
    dump = next(backup_dir.glob("backup_*.sql.gz"))
    text = gzip.decompress(dump.read_bytes()).decode()
    assert text.rstrip().splitlines()[-1].startswith("-- Dump completed")
    with tarfile.open(next(backup_dir.glob("uploads_backup_*.tar.gz"))) as archive:
        names = archive.getnames()
    for stored_as in uploads:
        assert f"uploads/{stored_as}" in names
    with tarfile.open(next(backup_dir.glob("vector_db_backup_*.tar.gz"))) as archive:
        assert any(n.endswith("chroma.sqlite3") for n in archive.getnames())

    live = stack.values["MYSQL_DATABASE"]
    assert "restore_check" not in stack.databases()
    try:
        with ArgvWatcher(secrets) as watcher:
            restored = stack.script("restore.sh", str(dump), timeout=120)
        assert restored.returncode == 0, restored.stderr
        assert not watcher.leaks, f"secret on a command line: {watcher.leaks}"
        assert "restore_check" in stack.databases()
        with stack.mysql(root=True, database="") as conn:
            before = table_checksums(conn, live)
            after = table_checksums(conn, "restore_check")
            assert table_columns(conn, "restore_check") == table_columns(conn, live)
        assert {"documents", "uploads", "users", "alembic_version"} <= set(before)
        assert before["documents"][0] >= 3 and before["uploads"][0] >= 2
        assert after == before
    finally:
        drop_database(stack, "restore_check")


def test_restore_refuses_the_live_database(stack: Stack, tmp_path: Path) -> None:
    dump = tmp_path / "tiny.sql.gz"
    dump.write_bytes(gzip.compress(b"-- MariaDB dump\nSELECT 1;\n-- Dump completed on today\n"))
    live = stack.values["MYSQL_DATABASE"]
    result = stack.script("restore.sh", str(dump), "--database", live, timeout=60)
    assert result.returncode == 2
    assert one_line(result.stderr).startswith("error: refusing to restore over the live database")


@pytest.mark.parametrize("case", ["missing", "corrupt", "truncated", "incomplete"])
def test_restore_rejects_bad_files_before_touching_the_database(
    stack: Stack, tmp_path: Path, case: str
) -> None:
    target = f"restore_neg_{uuid.uuid4().hex[:8]}"
    path = tmp_path / "backup_bad.sql.gz"
    rows = b"".join(
        b"INSERT INTO t VALUES ('%s');\n" % os.urandom(8).hex().encode() for _ in range(2000)
    )
    if case == "corrupt":  # a gzip header, then garbage
        path.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(512))
    elif case == "truncated":  # a gzip stream cut in the middle
        compressed = gzip.compress(b"-- dump\n" + rows + b"-- Dump completed on today\n")
        path.write_bytes(compressed[: len(compressed) // 2])
    elif case == "incomplete":  # intact gzip of a dump that stops early
        path.write_bytes(gzip.compress(b"-- dump\n" + rows))
    result = stack.script("restore.sh", str(path), "--database", target, timeout=60)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    expected = {
        "missing": f"error: backup file not found: {path}",
        "corrupt": f"error: corrupt backup file: {path} (gzip: ",
        "truncated": f"error: corrupt backup file: {path} (gzip: unexpected end of file)",
        "incomplete": f"error: incomplete backup file: {path} (",
    }[case]
    assert line.startswith(expected), line
    assert target not in stack.databases()


def test_failed_backup_wrong_database_leaves_nothing(stack: Stack, tmp_path: Path) -> None:
    backup_dir = tmp_path / "backups"
    result = stack.script(
        "backup.sh",
        extra_env={"BACKUP_DIR": str(backup_dir), "BACKUP_DATABASE": "no_such_database"},
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert list(backup_dir.iterdir()) == [], "a failed backup left files behind"


def test_failed_backup_mysql_stopped_leaves_nothing(stack: Stack, tmp_path: Path) -> None:
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir(mode=0o700)
    stack.compose("stop", "mysql", check=True, timeout=60)
    try:
        result = stack.script("backup.sh", extra_env={"BACKUP_DIR": str(backup_dir)}, timeout=60)
    finally:
        stack.compose("up", "-d", "--wait", "mysql", check=True, timeout=180)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert list(backup_dir.iterdir()) == [], "a failed backup left files behind"
    stack.wait_healthy(timeout=60)


def test_retention_prunes_old_backups_and_keeps_new_ones(stack: Stack, tmp_path: Path) -> None:
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir(mode=0o700)
    day = 24 * 3600
    now = time.time()
    ages = {
        "backup_20000101_000000.sql.gz": 40,
        "uploads_backup_20000101_000000.tar.gz": 40,
        "vector_db_backup_20000101_000000.tar.gz": 40,
        "backup_20000201_000000.sql.gz": 20,
        "notes_20000101.sql.gz": 40,  # not a backup.sh name: never touched
    }
    for name, days in ages.items():
        path = backup_dir / name
        path.write_bytes(b"x")
        os.utime(path, (now - days * day, now - days * day))

    result = stack.script(
        "backup.sh", extra_env={"BACKUP_DIR": str(backup_dir), "BACKUP_FILES": "0"}, timeout=60
    )
    assert result.returncode == 0, result.stderr
    left = {p.name for p in backup_dir.iterdir()}
    old = {n for n, days in ages.items() if days == 40 and not n.startswith("notes_")}
    assert old.isdisjoint(left), f"not pruned: {old & left}"
    assert {"backup_20000201_000000.sql.gz", "notes_20000101.sql.gz"} <= left
    assert (
        len([n for n in left if n.startswith("backup_") and not n.startswith("backup_2000")]) == 1
    )
    assert all(not n.startswith(".") for n in left), f"temporary files left: {left}"

    # A shorter retention, from the environment.
    result = stack.script(
        "backup.sh",
        extra_env={
            "BACKUP_DIR": str(backup_dir),
            "BACKUP_FILES": "0",
            "BACKUP_RETENTION_DAYS": "10",
        },
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert not (backup_dir / "backup_20000201_000000.sql.gz").exists()
    assert (backup_dir / "notes_20000101.sql.gz").exists()

"""Backup + restore + verify, as the backup suite does it, against the raw round trip.

On one throwaway copy of the reference stack, for generated datasets of 50, 100 and 200 MB of
table data (a canary database each, dropped afterwards):

- raw: `mysqldump | gzip > file`, then `gunzip -c file | mysql` into a second database, both
  through `docker compose exec` with the same mysqldump options the stack's backup.sh uses;
- procedure: the stack's backup.sh and restore.sh alone (no verification);
- suite: the stack's backup.sh (BACKUP_DATABASE, BACKUP_FILES=0), then what the suite's round
  trip does (`stackprobe.backup.roundtrip.restore_and_verify`): restore.sh into a scratch
  database while the dump is inspected on the host (intact gzip, trailer, database, every table)
  and the source's per-table checksums are computed, then the restored side's checksums.

Prints per size the wall times of each phase, the ratios suite / raw and procedure / raw (the
scripts' own checks: restore.sh reads the dump three times before restoring it), what
verification adds to the wall clock (suite - procedure, goal: no more than 25 % of the raw round
trip) and its work, and writes a record to bench/results/.
The two round trips alternate (raw first, then suite, per size) on the same data in the same run.

Usage: .venv/bin/python bench/backup_roundtrip.py [--sizes 50,100,200]
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from record import Stopwatch, machine, write_record
from support.stacks import TestStack, started_stack

from stackprobe.backup import checksums
from stackprobe.backup.procedure import Procedure
from stackprobe.backup.roundtrip import restore_and_verify
from stackprobe.canary import scratch_database
from stackprobe.targets.host import LocalHost

MB = 1024 * 1024
DUMP_OPTIONS = "--single-transaction --routines --triggers --events --hex-blob --default-character-set=utf8mb4"
DIGITS = ("(SELECT 0 n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL "
          "SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)")
NUMBERS = (f"SELECT d1.n + 10 * d2.n + 100 * d3.n + 1000 * d4.n + 10000 * d5.n + 100000 * d6.n AS x "
           f"FROM {DIGITS} d1, {DIGITS} d2, {DIGITS} d3, {DIGITS} d4, {DIGITS} d5, {DIGITS} d6")
DOC_BODY = 2048  # bytes of text per document row
BLOB_BYTES = 1024


def generate(stack: TestStack, database: str, size_mb: int) -> dict[str, Any]:
    """Documents (text, JSON, datetimes, 4-byte characters) and blobs, ~70/30 by bytes, made
    server-side. Returns the table data size as the server counts it."""
    docs = int(size_mb * MB * 0.7 / (DOC_BODY + 200))
    blobs = int(size_mb * MB * 0.3 / (BLOB_BYTES + 16))
    body = "CONCAT(" + ", ".join(f"MD5(x * {k + 3} + {k})" for k in range(DOC_BODY // 32 - 1)) + ", '😀 漢字 ünï')"
    blob = "UNHEX(CONCAT(" + ", ".join(f"MD5(x * {k + 7} + {k})" for k in range(BLOB_BYTES // 16)) + "))"
    with contextlib.closing(stack.target.mysql_root(database)) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE docs (id INT PRIMARY KEY, title VARCHAR(200) NOT NULL, body TEXT NOT NULL, "
                       "meta JSON NULL, created DATETIME(6) NOT NULL, score DECIMAL(12,4) NULL) "
                       "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
        cursor.execute("CREATE TABLE blobs (id INT PRIMARY KEY, data BLOB NOT NULL) ENGINE=InnoDB")
        cursor.execute(f"INSERT INTO docs SELECT x, CONCAT('document ', x, ' ', MD5(x)), {body}, "
                       f"JSON_OBJECT('n', x, 'tag', MD5(x + 1), 'nested', JSON_ARRAY(x, 'é')), "
                       f"TIMESTAMPADD(MICROSECOND, x * 1234567, '2020-01-01 00:00:00'), IF(x % 7 = 0, NULL, x / 3) "
                       f"FROM ({NUMBERS}) s WHERE x < {docs}")
        cursor.execute(f"INSERT INTO blobs SELECT x, {blob} FROM ({NUMBERS}) s WHERE x < {blobs}")
        connection.commit()
        cursor.execute("ANALYZE TABLE docs, blobs")
        cursor.fetchall()
        cursor.execute("SELECT (SELECT SUM(LENGTH(title) + LENGTH(body) + LENGTH(meta) + 16) FROM docs) + "
                       "(SELECT SUM(LENGTH(data) + 4) FROM blobs), "
                       "(SELECT SUM(DATA_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s)",
                       (database,))
        payload, data_length = cursor.fetchone()
    return {"rows": {"docs": docs, "blobs": blobs}, "payload_bytes": int(payload),
            "innodb_data_length_bytes": int(data_length)}


def compose_exec(stack: TestStack, script: str, database: str) -> list[str]:
    """`docker compose exec -T mysql sh -c SCRIPT sh DATABASE`: the root password comes from the
    container's environment through MYSQL_PWD, as in backup.sh, never a command line."""
    return stack.compose_command("exec", "-T", "mysql", "sh", "-c", script, "sh", database)


def raw_round_trip(stack: TestStack, source: str, target: str, workdir: Path) -> dict[str, float]:
    dump = workdir / "raw.sql.gz"
    dump_script = ('dump=$(command -v mysqldump || command -v mariadb-dump); '
                   f'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec "$dump" -uroot {DUMP_OPTIONS} "$1"')
    load_script = ('client=$(command -v mysql || command -v mariadb); '
                   'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec "$client" -uroot --default-character-set=utf8mb4 "$1"')
    clock = Stopwatch()
    pipeline = f"{shlex.join(compose_exec(stack, dump_script, source))} | gzip -c > {shlex.quote(str(dump))}"
    subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True, cwd=stack.compose_files[0].parent)
    dumped = clock()
    with contextlib.closing(stack.target.mysql_root("")) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{target}` CHARACTER SET utf8mb4")
    clock = Stopwatch()
    pipeline = f"gunzip -c {shlex.quote(str(dump))} | {shlex.join(compose_exec(stack, load_script, target))}"
    subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True, cwd=stack.compose_files[0].parent)
    restored = clock()
    size = dump.stat().st_size
    dump.unlink()
    return {"dump_s": dumped, "restore_s": restored, "total_s": round(dumped + restored, 2), "dump_bytes": size}


def suite_round_trip(stack: TestStack, source: str, target: str, workdir: Path) -> dict[str, Any]:
    """What the suite's round trip does (`stackprobe.backup.roundtrip.restore_and_verify`)."""
    host = LocalHost()
    procedure = Procedure(stack.target, host, str(stack.env_file))
    clock = Stopwatch()
    run = procedure.backup(str(workdir / "suite"), database=source, files=False)
    backup_s = clock()
    if run.run.exit_code != 0 or len(run.dumps) != 1:
        raise SystemExit(f"backup.sh failed: {run.run.describe()}")
    clock = Stopwatch()
    checked = restore_and_verify(procedure, host, lambda: stack.target.mysql_root(""), run.path(run.dumps[0]),
                                 source, target)
    restore_and_verify_s = clock()
    if checked.restore.exit_code != 0:
        raise SystemExit(f"restore.sh failed: {checked.restore.describe()}")
    problems = checked.dump.problems(database=source, tables=sorted(checked.source_sums))
    problems += checksums.differences(checked.source_sums, checked.restored_sums)
    if problems:
        raise SystemExit(f"the round trip is not faithful: {problems}")
    t = {k: round(v, 2) for k, v in checked.timings.items()}
    return {"backup_s": backup_s, "restore_s": t["restore_s"], "inspect_s": t["inspect_s"],
            "checksum_source_s": t["source_s"], "checksum_restored_s": t["restored_s"],
            "restore_and_verify_s": restore_and_verify_s,
            # the verification's own work (the dump inspection and the source's checksums run
            # while restore.sh runs, the restored side's after it)
            "verify_work_s": round(t["inspect_s"] + t["source_s"] + t["restored_s"], 2),
            "total_s": round(backup_s + restore_and_verify_s, 2),
            "dump_bytes": run.dumps[0].size, "tables_identical": len(checked.source_sums)}


def procedure_restore(stack: TestStack, dump: str, target: str) -> float:
    """restore.sh alone, nothing running beside it: the procedure without the suite's verification."""
    procedure = Procedure(stack.target, LocalHost(), str(stack.env_file))
    clock = Stopwatch()
    done = procedure.restore(dump, target)
    if done.exit_code != 0:
        raise SystemExit(f"restore.sh failed: {done.describe()}")
    return clock()


def measure(stack: TestStack, size_mb: int) -> dict[str, Any]:
    connect = lambda: stack.target.mysql_root("")  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="bench-bkp-") as work, scratch_database(connect) as source, \
            scratch_database(connect, create=False) as raw_target, \
            scratch_database(connect, create=False) as plain_target, \
            scratch_database(connect, create=False) as suite_target:
        clock = Stopwatch()
        data = generate(stack, source, size_mb)
        data["generate_s"] = clock()
        raw = raw_round_trip(stack, source, raw_target, Path(work))
        suite = suite_round_trip(stack, source, suite_target, Path(work))
        # the same dump restored by restore.sh alone: the procedure's round trip without verification
        dump = next((Path(work) / "suite").glob("backup_*.sql.gz"))
        plain_restore_s = procedure_restore(stack, str(dump), plain_target)
    procedure_s = round(suite["backup_s"] + plain_restore_s, 2)
    verification_s = round(suite["total_s"] - procedure_s, 2)
    figures = {"size_mb": size_mb, "data": data, "raw": raw, "suite": suite,
               "procedure": {"backup_s": suite["backup_s"], "restore_s": plain_restore_s, "total_s": procedure_s},
               "ratio_suite_to_raw": round(suite["total_s"] / raw["total_s"], 3),
               "ratio_procedure_to_raw": round(procedure_s / raw["total_s"], 3),
               # what verification adds to the wall clock: the suite's round trip minus the same
               # backup.sh + restore.sh without it (contention with the restore included)
               "verification_added_s": verification_s,
               "verification_share_of_raw": round(verification_s / raw["total_s"], 3),
               "verification_work_share_of_raw": round(suite["verify_work_s"] / raw["total_s"], 3)}
    print(f"{size_mb:>4} MB table data ({data['payload_bytes'] / MB:.0f} MB payload, "
          f"{data['innodb_data_length_bytes'] / MB:.0f} MB InnoDB, dump {raw['dump_bytes'] / MB:.0f} MB gz): "
          f"raw {raw['total_s']:.1f} s (dump {raw['dump_s']:.1f}, restore {raw['restore_s']:.1f}) | "
          f"backup.sh + restore.sh {procedure_s:.1f} s ({suite['backup_s']:.1f} + {plain_restore_s:.1f}) | "
          f"suite {suite['total_s']:.1f} s (restore.sh {suite['restore_s']:.1f} beside inspect "
          f"{suite['inspect_s']:.1f} + source checksums {suite['checksum_source_s']:.1f}, then restored checksums "
          f"{suite['checksum_restored_s']:.1f}) | suite/raw {figures['ratio_suite_to_raw']:.2f}, scripts/raw "
          f"{figures['ratio_procedure_to_raw']:.2f}; verification adds {verification_s:.1f} s = "
          f"{100 * figures['verification_share_of_raw']:.1f} % of raw (work: "
          f"{100 * figures['verification_work_share_of_raw']:.1f} %)", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,100,200", help="MB of table data per dataset")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    at_start = machine()
    started = time.monotonic()
    with started_stack() as stack:
        results = [measure(stack, size) for size in sizes]
    largest = max(results, key=lambda r: r["size_mb"])
    smallest = min(results, key=lambda r: r["size_mb"])
    figures = {
        "sizes": results,
        "goal": "verification (dump inspection + checksums of both databases) adds <= 25 % to the raw round "
                "trip's wall clock",
        "verification_share_of_raw_at_largest": largest["verification_share_of_raw"],
        "ratio_suite_to_raw_at_largest": largest["ratio_suite_to_raw"],
        "goal_met": largest["verification_share_of_raw"] <= 0.25,
        "growth": {
            "from_mb": smallest["size_mb"], "to_mb": largest["size_mb"],
            "raw_s": [smallest["raw"]["total_s"], largest["raw"]["total_s"]],
            "suite_s": [smallest["suite"]["total_s"], largest["suite"]["total_s"]],
            "verification_added_s": [r["verification_added_s"] for r in results],
            "verify_work_s": [r["suite"]["verify_work_s"] for r in results],
            "verify_work_s_per_100mb": [round(100 * r["suite"]["verify_work_s"] / r["size_mb"], 2) for r in results],
            "sizes_mb": [r["size_mb"] for r in results],
        },
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(f"verification adds {100 * figures['verification_share_of_raw_at_largest']:.1f} % of the raw round trip "
          f"at {largest['size_mb']} MB (goal <= 25 %: {'met' if figures['goal_met'] else 'NOT met'}); "
          f"suite/raw {figures['ratio_suite_to_raw_at_largest']:.2f}")
    write_record("backup_roundtrip", figures, at_start)


if __name__ == "__main__":
    main()

"""The backup suite's library without Docker: checksum SQL, dump inspection, retention against the
real `find`, the stall measure, the dataset strategies, listings, the command environment, and
the seeded defects' edits."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import os
import random
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from support import backup_defects
from support.defect_spec import batch_ids, batch_owners

from stackprobe import keyed
from stackprobe.backup import archives, checksums, dataset, retention, transfers
from stackprobe.backup.dumpfile import INSPECT_SCRIPT, parse_inspection
from stackprobe.backup.procedure import BackupRun, Procedure
from stackprobe.commands import CommandRun
from stackprobe.profile import BackupSection, Profile, load_profile
from stackprobe.targets.host import FileEntry, LocalHost, parse_find_listing

REPO = Path(__file__).resolve().parents[2]


# --- checksums ------------------------------------------------------------------------------------
def test_row_hash_encodes_every_column_unambiguously() -> None:
    sql = checksums.row_hash_sql(["id", "we`ird"])
    assert "`we``ird`" in sql  # identifiers quoted, backticks doubled
    assert sql.count("IS NULL, _binary'N'") == 2  # NULL is its own token, not an empty string
    assert sql.count("CONCAT(_binary'V', LENGTH(") == 2  # length-prefixed: no separator ambiguity
    assert sql.startswith("CAST(CONV(LEFT(SHA1(CONCAT(")
    assert sql.index("`id`") < sql.index("`we``ird`")  # ordinal order kept


def test_checksum_sql_counts_and_two_order_independent_aggregates() -> None:
    sql = checksums.checksum_sql("db", "t", ["a"])
    assert sql.startswith("SELECT COUNT(*), COALESCE(BIT_XOR(h), 0), COALESCE(SUM(h), 0) FROM (SELECT ")
    assert sql.count("SHA1(") == 1  # computed once per row, aggregated twice
    assert "FROM `db`.`t` LIMIT 18446744073709551615) hashed" in sql
    with pytest.raises(ValueError):
        checksums.row_hash_sql([])


def test_checksum_differences_name_the_table_and_what_changed() -> None:
    before = {"a": checksums.TableChecksum(3, 1, 2), "b": checksums.TableChecksum(2, 5, 6),
              "c": checksums.TableChecksum(1, 1, 1)}
    after = {"a": checksums.TableChecksum(3, 1, 2), "b": checksums.TableChecksum(2, 7, 8),
             "d": checksums.TableChecksum(0, 0, 0)}
    assert checksums.differences(before, after) == [
        "table b: same 2 rows, different content", "table c (1 rows) is missing after the restore",
        "table d appeared after the restore (0 rows)"]
    assert checksums.differences(before, {**before, "a": checksums.TableChecksum(0, 0, 0)}) == [
        "table a: 3 rows -> 0 rows"]


# --- dump files -----------------------------------------------------------------------------------
DUMP = """-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: localhost    Database: app
-- ------------------------------------------------------
/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS `users`;
CREATE TABLE `users` (
  `id` int(11) NOT NULL
);
INSERT INTO `users` VALUES (1);
CREATE TABLE `we``ird` (`id` int);
-- Dump completed on 2026-12-01 21:00:00
"""


def inspect_text(tmp_path: Path, name: str, data: bytes) -> Any:
    path = tmp_path / name
    path.write_bytes(data)
    done = LocalHost().run(["bash", "-c", INSPECT_SCRIPT, "inspect", str(path)])
    return parse_inspection(str(path), done.exit_code, done.stdout, done.stderr)


def test_dump_inspection_reads_header_tables_and_trailer(tmp_path: Path) -> None:
    info = inspect_text(tmp_path, "backup_1.sql.gz", gzip.compress(DUMP.encode()))
    assert info.intact and info.complete and info.database == "app"
    assert info.tables == ["users", "we`ird"] and not info.database_statements
    assert info.problems(database="app", tables=["users", "we`ird"]) == []
    assert info.problems(database="app", tables=["users", "orders"]) == [
        "1 of 2 tables are not in it: orders"]
    assert info.problems(database="other") == ["it is a dump of database 'app' (its header), not of 'other'"]


@pytest.mark.parametrize(("case", "expected"), [
    ("corrupt", "not an intact gzip stream (gzip: "),
    ("binary", "not an intact gzip stream (gzip: "),  # bytes that are no text come out first
    ("truncated", "not an intact gzip stream (gzip: unexpected end of file"),
    ("incomplete", "incomplete: the last line is"),
    ("databases", "it switches database itself ('USE `app`;'"),
    ("plain", ""),
])
def test_dump_inspection_problems_are_one_line_each(tmp_path: Path, case: str, expected: str) -> None:
    text = DUMP.encode()
    data = {
        "corrupt": b"\x1f\x8b\x08\x00" + os.urandom(300),
        "binary": gzip.compress(bytes(range(128, 256)) * 40)[:300] + os.urandom(64),
        "truncated": gzip.compress(text + os.urandom(4000).hex().encode())[:600],
        "incomplete": gzip.compress(text.rsplit(b"-- Dump", 1)[0]),
        "databases": gzip.compress(text.replace(b"DROP TABLE", b"USE `app`;\nDROP TABLE", 1)),
        "plain": text,
    }[case]
    info = inspect_text(tmp_path, "backup_1.sql" if case == "plain" else "backup_1.sql.gz", data)
    problems = info.problems(database="app")
    if not expected:
        assert problems == [] and info.complete
        return
    assert len(problems) == 1 and problems[0].startswith(expected), problems
    assert "\n" not in problems[0] and str(tmp_path) not in problems[0]


# --- listings -------------------------------------------------------------------------------------
def test_find_listing_parses_like_the_local_listing(tmp_path: Path) -> None:
    (tmp_path / "backup_1.sql.gz").write_bytes(b"x" * 5)
    (tmp_path / "backup_1.sql.gz").chmod(0o640)
    (tmp_path / "sub").mkdir()
    done = subprocess.run(["find", str(tmp_path), "-mindepth", "1", "-maxdepth", "1", "-printf",
                           r"%f\t%s\t%T@\t%m\t%y\n"], capture_output=True, text=True, check=True)
    remote = parse_find_listing(done.stdout + "a line\twith too few fields\n")
    local = LocalHost().listdir(str(tmp_path))
    assert local is not None
    assert [(e.name, e.mode, e.kind) for e in remote] == [(e.name, e.mode, e.kind) for e in local] == [
        ("backup_1.sql.gz", 0o640, "file"), ("sub", 0o755 & ~_umask(), "dir")]
    assert remote[0].size == 5 and math.isclose(remote[0].mtime, local[0].mtime, abs_tol=0.01)
    assert LocalHost().listdir(str(tmp_path / "nope")) is None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- retention: the plan against the real find -------------------------------------------------------
@pytest.mark.parametrize("days", [0, 1, 7, 30])
def test_retention_plan_matches_the_runbooks_find(tmp_path: Path, days: int) -> None:
    """Plant the plan's files, run the runbook's own `find -mtime +N -delete`: exactly the files
    the plan expects to go are gone, the rest (boundary files, strangers, the subdirectory) stay."""
    cfg = BackupSection()
    now = time.time()
    planted = retention.plan(now, days, cfg.dump_pattern, list(cfg.archive_patterns.values()))
    (tmp_path / retention.SUBDIR).mkdir()
    hidden = retention.subdir_plan(now, days, cfg.dump_pattern)
    for item in planted:
        path = tmp_path / item.name
        path.write_bytes(b"x")
        os.utime(path, (now - item.age_s, now - item.age_s))
    for item in hidden:
        path = tmp_path / retention.SUBDIR / item.name
        path.write_bytes(b"x")
        os.utime(path, (now - item.age_s, now - item.age_s))
    host = LocalHost()
    before = {e.name: e for e in host.listdir(str(tmp_path)) or []}
    names = [word for p in [cfg.dump_pattern, *cfg.archive_patterns.values()] for word in ("-o", "-name", p)][1:]
    subprocess.run(["find", str(tmp_path), "-maxdepth", "1", "-type", "f", "(", *names, ")",
                    "-mtime", f"+{days}", "-delete"], check=True)
    after = host.listdir(str(tmp_path)) or []
    assert {p.name for p in planted if p.keep} | {retention.SUBDIR} == {e.name for e in after}
    assert any(not p.keep for p in planted) and any("boundary" in p.why and p.keep for p in planted)
    # the new backup is counted by the caller: pretend one was written
    verdict = retention.judge(planted, before, after, subdir_intact=True, new_dumps=1)
    assert verdict.ok, verdict.summary()


def test_retention_verdicts_name_what_went_wrong(tmp_path: Path) -> None:
    cfg = BackupSection()
    now = time.time()
    planted = retention.plan(now, 30, cfg.dump_pattern, list(cfg.archive_patterns.values()))
    entries = {p.name: FileEntry(p.name, 1, now - p.age_s, 0o600, "file") for p in planted}
    everything_gone = retention.judge(planted, entries, [], subdir_intact=True, new_dumps=1)
    assert everything_gone.pruned_too_early and everything_gone.strangers_touched and not everything_gone.not_pruned
    assert everything_gone.problems(30)[0].startswith("deleted ")
    nothing_gone = retention.judge(planted, entries, list(entries.values()), subdir_intact=False, new_dumps=0)
    assert nothing_gone.not_pruned and nothing_gone.new_backup_missing
    problems = " ".join(nothing_gone.problems(30))
    assert "kept" in problems and "older than 30 days" in problems and "subdirectory" not in problems
    assert nothing_gone.strangers_touched[-1].name == retention.SUBDIR + "/"


# --- transfers --------------------------------------------------------------------------------------
def test_longest_stall_is_judged_on_transfers_overlapping_the_dump() -> None:
    commits = [transfers.Commit(0.0, 0.01), transfers.Commit(0.5, 3.2), transfers.Commit(3.3, 3.31),
               transfers.Commit(9.0, 9.9)]
    assert transfers.longest_stall(commits, (1.0, 3.0)) == pytest.approx(2.7)  # waited out the whole dump
    assert transfers.longest_stall(commits, (3.25, 3.4)) == pytest.approx(0.01)
    assert transfers.longest_stall([], (0.0, 1.0)) == 0.0
    assert transfers.committed_within(commits, (1.0, 3.5)) == 2
    # the server's own figure wins: a call delayed on the way (an SSH tunnel) waited 0.01 s in the server
    delayed = [transfers.Commit(1.0, 2.5, server_s=0.01)]
    assert transfers.longest_stall(delayed, (1.0, 3.0)) == pytest.approx(0.01)


def test_padding_rows_and_fill_statement() -> None:
    rows = transfers.rows_for(16)
    assert 16 * 1024 * 1024 / rows == pytest.approx(transfers.FILLER_BYTES + 24, rel=1e-3)
    (statement,) = transfers.fill_sql(rows, first_id=7)
    assert f"WHERE x < {rows}" in statement and "SELECT x + 7," in statement
    assert statement.count("MD5(") == transfers.FILLER_BYTES // 32
    assert transfers.rows_for(0) == transfers.ROWS_B


# --- the dataset ------------------------------------------------------------------------------------
ZONES = (*dataset.OFFSETS, "Europe/Berlin")
STRATEGIES = dataset.row_strategies(ZONES)


def _fits(table: str, row: dict[str, Any]) -> None:
    if table == "edge_text":
        assert row["v"] is None or len(row["v"]) <= 255
        assert row["t"] is None or len(row["t"].encode("utf-8")) <= 65535
        assert row["c"] is None or len(row["c"]) <= 12
        for value in (row["v"], row["t"], row["c"]):
            assert value is None or isinstance(value.encode("utf-8"), bytes)  # no lone surrogates
    elif table == "edge_blob":
        assert row["fb"] is None or len(row["fb"]) <= 16
        assert row["vb"] is None or len(row["vb"]) <= 300
    elif table == "edge_json":
        assert row["j"] is None or json.loads(row["j"]) is not ...
    elif table == "edge_num":
        if row["d"] is not None:
            digits, exponent = row["d"].as_tuple().digits, int(row["d"].as_tuple().exponent)
            assert exponent >= -30 and len(digits) + exponent <= 35
        if row["u"] is not None:
            assert 0 <= row["u"] < 2**64
        assert row["f"] is None or (math.isfinite(row["f"]) and str(row["f"]) != "-0.0")
    elif table == "edge_time":
        assert row["zone"] in ZONES
        if row["ts"] is not None:  # inside TIMESTAMP's range in every zone's wall clock
            assert dt.datetime(1970, 1, 2) <= row["ts"] <= dt.datetime(2038, 1, 18)
        if row["tm"] is not None:
            assert abs(row["tm"]) <= dt.timedelta(hours=838, minutes=59, seconds=59)


@pytest.mark.parametrize("table", sorted(STRATEGIES))
def test_generated_rows_fit_their_columns(table: str) -> None:
    @settings(max_examples=60, deadline=None, database=None)
    @given(STRATEGIES[table])
    def check(row: dict[str, Any]) -> None:
        _fits(table, row)

    check()


def test_dataset_is_reproducible_from_its_seed_and_covers_the_edge_cases() -> None:
    one = dataset.generate(1234, rows=12, large_row_bytes=2000, zones=ZONES)
    two = dataset.generate(1234, rows=12, large_row_bytes=2000, zones=ZONES)
    assert one.rows == two.rows and one.summary()["seed"] == 1234
    rows = one.rows
    assert all(len(rows[t]) >= 12 for t in STRATEGIES)
    fixed = dataset.fixed_rows(ZONES, 2000, random.Random(1234))
    for table in STRATEGIES:  # the generated rows; the fixed ones sit at the limits on purpose
        for row in rows[table][len(fixed[table]):]:
            _fits(table, row)
    blobs = [r["b"] for r in rows["edge_blob"] if r["b"]]
    assert any(set(b) == set(range(256)) for b in blobs), "a blob with every byte value"
    texts = [r["v"] for r in rows["edge_text"] if r["v"]]
    assert any(any(ord(ch) > 0xFFFF for ch in t) for t in texts), "4-byte utf8mb4 characters"
    assert any(r["v"] is None for r in rows["edge_text"]) and any(r["v"] == "" for r in rows["edge_text"])
    assert {r["zone"] for r in rows["edge_time"]} >= set(ZONES), "TIMESTAMPs written from every zone"
    assert all(len(r["b"]) >= 2000 for r in rows["edge_large"]), "large rows"
    assert dataset._sql_value("tm", -dt.timedelta(hours=838, minutes=59, seconds=59)) == "-838:59:59.000000"
    assert dataset._sql_value("dt", dt.datetime(1000, 1, 1, 0, 0, 0, 5)) == "1000-01-01 00:00:00.000005"


def test_ddl_is_ascii() -> None:
    """A dump that mangles characters must change data (BKP-02), not break the restore."""
    for text in [*dataset.TABLES.values(), *dataset.OBJECTS.values()]:
        assert text.isascii(), text


# --- the procedure's environment ----------------------------------------------------------------------
def _target(profile: Profile, env_files: int = 1) -> Any:
    return SimpleNamespace(profile=profile, project="proj", project_dir=Path("/srv/stack"),
                           compose_files=[Path("/srv/stack/a.yml"), Path("/srv/stack/b.yml")],
                           env={"MYSQL_DATABASE": "app"}, env_files=[Path("/srv/stack/.env")] * env_files,
                           database_name=lambda: "app")  # the live database ([database] database_env)


def test_commands_get_the_profiles_variables_and_relative_paths_resolve() -> None:
    procedure = Procedure(_target(Profile()), LocalHost(), "/srv/stack/.env")
    env = procedure.environment("/tmp/x", database="canary", files=False, retention_days=30)
    assert env == {"BACKUP_DIR": "/tmp/x", "BACKUP_DATABASE": "canary", "BACKUP_FILES": "0",
                   "BACKUP_RETENTION_DAYS": "30", "STACK_ENV_FILE": "/srv/stack/.env",
                   "COMPOSE_FILE": "/srv/stack/a.yml:/srv/stack/b.yml", "COMPOSE_PROJECT_NAME": "proj"}
    assert "BACKUP_DATABASE" not in procedure.environment("/tmp/x")  # the scheduled job's own default
    assert procedure.resolve(["stack/scripts/backup.sh"]) == ["/srv/stack/stack/scripts/backup.sh"]
    assert procedure.resolve(["/opt/backup", "-x"]) == ["/opt/backup", "-x"]
    assert procedure.resolve(["backup-tool"]) == ["backup-tool"]  # found on PATH
    with pytest.raises(ValueError, match="live database"):
        procedure.restore("/tmp/x/backup.sql.gz", "app")


def test_backup_run_tells_new_files_and_what_looks_like_a_backup() -> None:
    old = FileEntry("backup_1.sql.gz", 10, 1.0, 0o600, "file")
    run = BackupRun(CommandRun(["b"], 1, 0.1, "", ""), "/d", (old,),
                    (old, FileEntry("backup_2.sql.gz", 20, 2.0, 0o600, "file"),
                     FileEntry(".backup_2.sql.gz.x.tmp", 0, 2.0, 0o600, "file"),
                     FileEntry("uploads_backup_2.tar.gz", 5, 2.0, 0o600, "file")),
                    "backup_*.sql.gz", {"uploads": "uploads_backup_*.tar.gz"})
    assert [e.name for e in run.dumps] == ["backup_2.sql.gz"]
    assert [e.name for e in run.looks_like_backups()] == ["backup_2.sql.gz", "uploads_backup_2.tar.gz"]
    assert run.path(run.dumps[0]) == "/d/backup_2.sql.gz"


def test_every_backup_key_is_documented_in_the_production_example() -> None:
    example = (REPO / "profiles" / "production.example.toml").read_text()
    section = example.split("\n[backup]", 1)[1].split("\n[", 1)[0]
    for key in BackupSection.__dataclass_fields__:
        assert f"\n{key} = " in section, f"[backup] {key} is not in profiles/production.example.toml"
    assert load_profile(REPO / "profiles" / "production.example.toml").backup == BackupSection()


# --- BKP-06: the archives compared with the live stack ----------------------------------------------
LIVE_IDS = [f"doc-{n}" for n in range(10)]  # QUERIES_K answers: past the five a message used to show
LIVE_DISTANCES = [0.1 * n for n in range(10)]


def _answers(ids: list[str], distances: list[float], query: str = "backups") -> archives.Answers:
    return archives.Answers(len(ids), {query: archives.QueryAnswer(ids, distances)})


def _vector_problem(ids: list[str], distances: list[float], tolerance: float = 1e-6) -> str:
    (problem,) = archives.answer_differences(_answers(LIVE_IDS, LIVE_DISTANCES), _answers(ids, distances),
                                             tolerance)
    assert problem.startswith("query 'backups': ") and "\n" not in problem, problem
    return problem


def test_identical_answers_and_distances_within_tolerance_are_no_difference() -> None:
    live = _answers(LIVE_IDS, LIVE_DISTANCES)
    assert archives.answer_differences(live, _answers(list(LIVE_IDS), list(LIVE_DISTANCES))) == []
    nudged = [d + 5e-7 for d in LIVE_DISTANCES]  # float32 noise, under the 1e-6 tolerance
    assert archives.answer_differences(live, _answers(list(LIVE_IDS), nudged)) == []
    assert archives.answer_differences(_answers([], []), _answers([], [])) == []


def test_answer_differences_name_a_missing_id() -> None:
    problem = _vector_problem(LIVE_IDS[:7] + LIVE_IDS[8:], LIVE_DISTANCES[:9])
    assert "1 ids missing after the restore: doc-7" in problem and "only after" not in problem


def test_answer_differences_name_an_extra_id() -> None:
    problem = _vector_problem([*LIVE_IDS, "stranger"], [*LIVE_DISTANCES, 1.5])
    assert "1 ids only after the restore: stranger" in problem and "missing" not in problem


def test_answer_differences_name_a_replaced_id_both_ways() -> None:
    problem = _vector_problem([*LIVE_IDS[:9], "stranger"], LIVE_DISTANCES)
    assert "ids missing after the restore: doc-9" in problem and "ids only after the restore: stranger" in problem


def test_answer_differences_name_a_reordered_result() -> None:
    ids = list(LIVE_IDS)
    ids[6], ids[7] = ids[7], ids[6]
    problem = _vector_problem(ids, LIVE_DISTANCES)
    assert "the same ids in another order, from rank 7: doc-7, doc-6" in problem, problem
    assert "doc-6, doc-7, doc-8, doc-9 live" in problem and "missing" not in problem


def test_answer_differences_name_a_distance_beyond_tolerance() -> None:
    distances = list(LIVE_DISTANCES)
    distances[8] += 1e-3
    problem = _vector_problem(list(LIVE_IDS), distances)
    assert "1 distances differ by more than 1e-06: doc-8 0.801 after the restore, 0.8 live" in problem, problem
    # the same gap within a looser tolerance is the same answer
    assert archives.answer_differences(_answers(LIVE_IDS, LIVE_DISTANCES), _answers(LIVE_IDS, distances),
                                       tolerance=1e-2) == []
    # NaN is never close to anything
    assert "doc-0 nan after the restore" in _vector_problem(list(LIVE_IDS), [math.nan, *LIVE_DISTANCES[1:]])


def test_answer_differences_say_a_missing_query_or_malformed_distances_without_raising() -> None:
    live = archives.Answers(None, {"a": archives.QueryAnswer(["x"], [0.5]), "b": archives.QueryAnswer(["y"], [0.7])})
    restored = archives.Answers(1, {"a": archives.QueryAnswer(["x"], [0.5])})
    assert archives.answer_differences(live, restored) == ["query 'b': no answer from the restored store"]
    short = archives.Answers(1, {"a": archives.QueryAnswer(["x"], []), "b": archives.QueryAnswer(["y"], [0.7])})
    assert archives.answer_differences(live, short) == ["query 'a': 0 distances after the restore, 1 live, for 1 ids"]


def test_answer_differences_list_every_differing_query() -> None:
    live = archives.Answers(None, {"a": archives.QueryAnswer(["x", "y"], [0.1, 0.2]),
                                   "b": archives.QueryAnswer(["z"], [0.3])})
    restored = archives.Answers(2, {"a": archives.QueryAnswer(["y", "x"], [0.1, 0.2]),
                                    "b": archives.QueryAnswer(["z"], [0.4])})
    assert [p.split(":")[0] for p in archives.answer_differences(live, restored)] == ["query 'a'", "query 'b'"]


DIGESTS = {"a.txt": "1" * 64, "sub/b.bin": "2" * 64, "c.bin": "3" * 64}


def test_digest_differences_none_when_the_same_files_come_back() -> None:
    assert archives.digest_differences(DIGESTS, dict(DIGESTS)) == []
    assert archives.digest_differences({}, {}) == []


def test_digest_differences_name_missing_changed_and_extra_files() -> None:
    live = {"a.txt": "1", "b.txt": "2", "c.txt": "3"}
    restored = {"b.txt": "2", "c.txt": "x", "d.txt": "4"}
    assert keyed.changes(live, restored) == [("a.txt", "gone"), ("c.txt", "changed"), ("d.txt", "new")]
    assert archives.digest_differences(live, restored) == [
        "1 files missing from the restored archive: a.txt", "1 files differ after the restore: c.txt",
        "1 files in the archive that the live directory does not have: d.txt"]


def test_digest_differences_name_a_missing_file() -> None:
    restored = {k: v for k, v in DIGESTS.items() if k != "sub/b.bin"}
    assert archives.digest_differences(DIGESTS, restored) == [
        "1 files missing from the restored archive: sub/b.bin"]


def test_digest_differences_name_a_changed_file() -> None:
    assert archives.digest_differences(DIGESTS, {**DIGESTS, "c.bin": "4" * 64}) == [
        "1 files differ after the restore: c.bin"]


def test_digest_differences_name_an_extra_file() -> None:
    assert archives.digest_differences(DIGESTS, {**DIGESTS, "stray.tmp": "5" * 64}) == [
        "1 files in the archive that the live directory does not have: stray.tmp"]


def test_digest_differences_say_each_kind_once_with_counts() -> None:
    live = {**DIGESTS, **{f"m{n}": "6" * 64 for n in range(7)}}
    restored = {"a.txt": "0" * 64, "sub/b.bin": "2" * 64, "new": "7" * 64}
    missing, changed, extra = archives.digest_differences(live, restored)
    assert missing.startswith("8 files missing from the restored archive: c.bin, m0, m1, m2, m3")
    assert changed == "1 files differ after the restore: a.txt"
    assert extra == "1 files in the archive that the live directory does not have: new"


# --- the seeded defects ----------------------------------------------------------------------------------
BATCHES = backup_defects.batches()


@pytest.mark.parametrize("case", backup_defects.cases(), ids=[c.name for c in backup_defects.cases()])
def test_every_defect_edits_the_real_script_exactly_once(case: Path, tmp_path: Path) -> None:
    spec = backup_defects.spec_of(case)
    judged = [*spec.fails, *spec.get("errors", [])]  # failed, or errored by the contract probe
    assert judged and set(judged) <= {f"BKP-{n:02d}" for n in range(1, 11)}
    # a contract defect runs alone, every other one in a batch
    assert bool(spec.get("errors")) != (spec.get("batch") is not None), spec.name
    _assert_runnable(backup_defects.build([spec], tmp_path))


@pytest.mark.parametrize("batch", list(BATCHES), ids=batch_ids(BATCHES))
def test_a_batchs_defects_share_one_copy_of_the_scripts(batch: int, tmp_path: Path) -> None:
    """Disjoint controls, every edit applied once on top of the batch's others, no [backup] key set twice."""
    specs = BATCHES[batch]
    batch_owners(specs)
    keys = backup_defects.build(specs, tmp_path)
    _assert_runnable(keys)
    for spec in specs:
        for edit in spec.get("edit", []):
            assert edit["new"] in Path(keys[backup_defects.COMMAND_KEYS[edit["file"]]][0]).read_text(), spec.name
        assert spec.get("profile", {}).items() <= keys.items(), spec.name


def test_a_batch_refuses_two_defects_that_edit_one_text(tmp_path: Path) -> None:
    """Two defects whose edits take the same line cannot share a copy: building says so, naming the second."""
    first, second = (backup_defects.spec_of(backup_defects.cases()[0].parent / name)
                     for name in ("dump_skip_lock_tables", "dump_without_single_transaction"))
    with pytest.raises(AssertionError, match=r"dump_without_single_transaction: .* occurs 0 times .*another batch"):
        backup_defects.build([first, second], tmp_path)


def _assert_runnable(keys: dict[str, Any]) -> None:
    for key in ("command", "restore_command"):
        if key in keys:
            script = Path(keys[key][0])
            assert os.access(script, os.X_OK)
            done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr


def test_seeded_defects_cover_the_backup_controls() -> None:
    covered = {c for case in backup_defects.cases() for c in backup_defects.spec_of(case).fails}
    # BKP-07 and BKP-08 by an RPO and an RTO the stack cannot meet (a `profile`, no script edit)
    assert covered == {f"BKP-{n:02d}" for n in range(1, 11)}


def test_scratch_directories_of_killed_runs_are_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stackprobe.backup.host import SCRATCH_PREFIX, scratch_dir
    from stackprobe.canary import RUNNER

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid whose process is gone
    dead = tmp_path / f"{SCRATCH_PREFIX}{RUNNER}-{gone.pid}-abc"
    other_runner = tmp_path / f"{SCRATCH_PREFIX}ffffff-{gone.pid}-abc"
    alive = tmp_path / f"{SCRATCH_PREFIX}{RUNNER}-1-abc"  # pid 1 lives
    for path in (dead, other_runner, alive):
        path.mkdir()
    made = Path(scratch_dir(LocalHost()))
    assert made.parent == tmp_path and made.name.startswith(f"{SCRATCH_PREFIX}{RUNNER}-{os.getpid()}-")
    assert (made.stat().st_mode & 0o777) == 0o700
    assert not dead.exists() and other_runner.exists() and alive.exists()


def test_reader_errors_become_one_line_without_paths() -> None:
    """gzip can print several messages for one corrupt stream (seen: a crc error, then a length
    error, each naming the file); the problem is still one line naming no host path."""
    stderr = ("gzip: /srv/backups/backup_1.sql.gz: invalid compressed data--crc error\r\n\x85"
              "gzip: /srv/backups/backup_1.sql.gz: invalid compressed data--length error\n\x00")
    info = parse_inspection("/srv/backups/backup_1.sql.gz", 1, "", stderr)
    (problem,) = info.problems(database="app")
    assert problem == ("not an intact gzip stream (gzip: invalid compressed data--crc error "
                       "gzip: invalid compressed data--length error)")

"""One backup and one restore that BKP-01/02/03/04/06/10 all judge.

A canary database holds the edge-case dataset, its objects and the two transfer tables; the
deployment's backup command dumps it (and archives uploads/ and vector_db/) into a scratch
directory while the transfer writer runs; the restore command restores the dump into a second
canary database. Both databases are dropped at the end, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stackprobe.api_write import stores_documents, upload_file, write_document
from stackprobe.backup import checksums, dataset, schema, transfers
from stackprobe.backup.archives import Answers, live_answers
from stackprobe.backup.dumpfile import DumpInfo, inspect_dump
from stackprobe.backup.procedure import BackupRun, Procedure
from stackprobe.canary import scratch_database
from stackprobe.commands import CommandRun
from stackprobe.targets.base import Target
from stackprobe.targets.host import FileEntry, Host

QUERIES_K = 10


@dataclass
class LiveFiles:
    """What the live backend has: answers to the probe queries, and the uploads by SHA-256."""

    answers: Answers
    uploads: dict[str, str]

    def summary(self) -> dict[str, Any]:
        return {"answers": self.answers.summary(), "uploads": len(self.uploads)}


@dataclass
class TransferOutcome:
    expected_total: int
    rows_a: int
    padding_mb: int
    window: tuple[float, float]
    window_from: str  # "process list" (the dump's own statements) or "command" (its whole run)
    origin: float
    writer: transfers.WriterReport
    reads: dict[str, Any]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    restored_total: int | None = None

    @property
    def dump_s(self) -> float:
        return self.window[1] - self.window[0]

    @property
    def stall_s(self) -> float:
        return transfers.longest_stall(self.writer.commits, self.window)

    @property
    def committed_during(self) -> int:
        return transfers.committed_within(self.writer.commits, self.window)

    def summary(self) -> dict[str, Any]:
        return {"expected_total": self.expected_total, "restored_total": self.restored_total,
                "rows_acct_a": self.rows_a, "padding_mb": self.padding_mb,
                "dump_window_s": round(self.dump_s, 3), "window_from": self.window_from,
                "dump_reads": self.reads, "writer": self.writer.summary(self.window), "attempts": self.attempts}


@dataclass
class RoundTrip:
    source: str
    restored: str
    data: dataset.Dataset
    backup: BackupRun
    transfer: TransferOutcome
    dump_entry: FileEntry | None = None
    dump: DumpInfo | None = None
    restore: CommandRun | None = None
    source_tables: list[str] = field(default_factory=list)
    source_sums: dict[str, checksums.TableChecksum] = field(default_factory=dict)
    restored_sums: dict[str, checksums.TableChecksum] = field(default_factory=dict)
    source_objects: dict[str, schema.SchemaObject] = field(default_factory=dict)
    restored_objects: dict[str, schema.SchemaObject] = field(default_factory=dict)
    files_before: LiveFiles | None = None
    files_after: LiveFiles | None = None
    seeded: dict[str, Any] = field(default_factory=dict)

    @property
    def dump_path(self) -> str | None:
        return self.backup.path(self.dump_entry) if self.dump_entry else None

    @property
    def restored_ok(self) -> bool:
        return self.restore is not None and self.restore.exit_code == 0

    def why_no_restore(self) -> str:
        """One line: why there is no restored database to judge (empty when there is one)."""
        if self.backup.run.exit_code != 0:
            return f"the backup command failed: {self.backup.run.describe()}"
        if self.dump_entry is None:
            return (f"the backup command left no file matching {self.backup.dump_pattern!r} in "
                    f"{self.backup.directory}")
        if self.restore is None:
            return "the dump was not restored"
        if self.restore.exit_code != 0:
            return f"the restore command failed: {self.restore.describe()}"
        return ""


def probe_queries(target: Target) -> list[str]:
    return [target.profile.vector_store.query_text, "backup restore round trip", "stackprobe 漢字 😀 canary"]


def live_files(target: Target) -> LiveFiles:
    backend = target.service(target.profile.services.backend)
    uploads_dir = target.profile.backup.archive_sources.get("uploads", "")
    return LiveFiles(live_answers(target, probe_queries(target), QUERIES_K),
                     backend.file_digests(uploads_dir) if uploads_dir else {})


def seed_backend(target: Target) -> dict[str, Any]:
    """Documents (rows + vectors) and uploads, so a throwaway copy has something to archive
    (the profile's API writes). Only ever called on an ephemeral target whose backup archives files."""
    base, client = target.backend_url, target.http()
    marker = secrets.token_hex(4)
    texts = ["backup restore round trip, plain text", "漢字 ünïcödé 😀 emoji 𝄞 music",
             "stackprobe vector store probe document", "another document about backups"]
    writes = stores_documents(target.profile.absent)  # else the files are the uploads alone
    docs = [write_document(client, base, target.profile.chaos, f"{text} {marker}") for text in texts] if writes else []
    uploads = [upload_file(client, base, target.profile.deploy, f"{marker}-{name}", data)
               for name, data in [("notes.txt", b"uploaded notes\n"), ("all-bytes.bin", bytes(range(256)) * 4),
                                  ("random.bin", os.urandom(4096))]]
    return {"documents": docs, "uploads": uploads}


@dataclass
class Verification:
    """A dump restored into a scratch database and compared with its source."""

    dump: DumpInfo
    restore: CommandRun
    source_sums: dict[str, checksums.TableChecksum]
    source_objects: dict[str, schema.SchemaObject]
    restored_sums: dict[str, checksums.TableChecksum] = field(default_factory=dict)
    restored_objects: dict[str, schema.SchemaObject] = field(default_factory=dict)
    restored_tables: set[str] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)


def restore_and_verify(procedure: Procedure, host: Host, connect: Callable[[], Any], dump_path: str,
                       source: str, restored: str, tables: list[str] | None = None) -> Verification:
    """Restore `dump_path` into `restored` with the deployment's restore command and compare.

    What needs no restored database (the dump read on the host, the source's checksums and
    objects) runs in a second thread while the restore runs, on connections of its own; only the
    restored side's checksums come after it. `tables` limits the checksums (default: all)."""
    side: dict[str, Any] = {}

    def source_side() -> None:
        try:
            started = time.monotonic()
            side["dump"] = inspect_dump(host, dump_path)
            side["inspect_s"] = time.monotonic() - started
            started = time.monotonic()
            with contextlib.closing(connect()) as connection:
                side["sums"] = checksums.table_checksums(connection, source, tables)
                side["objects"] = schema.schema_objects(connection, source)
            side["source_s"] = time.monotonic() - started
        except BaseException as error:  # re-raised below, in the caller's thread
            side["error"] = error

    thread = threading.Thread(target=source_side, name="stackprobe-verify-source", daemon=True)
    started = time.monotonic()
    thread.start()
    restore = procedure.restore(dump_path, restored)
    restore_s = time.monotonic() - started
    thread.join()
    if "error" in side:
        raise side["error"]
    found = Verification(side["dump"], restore, side["sums"], side["objects"])
    if restore.exit_code == 0:
        began = time.monotonic()
        with contextlib.closing(connect()) as connection:
            with connection.cursor() as cursor:
                found.restored_tables = set(checksums.base_tables(cursor, restored))
            wanted = [t for t in (tables if tables is not None else sorted(found.restored_tables))
                      if t in found.restored_tables]
            found.restored_sums = checksums.table_checksums(connection, restored, wanted)
            found.restored_objects = schema.schema_objects(connection, restored)
        found.timings["restored_s"] = time.monotonic() - began
    found.timings.update(inspect_s=side["inspect_s"], source_s=side["source_s"], restore_s=restore_s,
                         wall_s=time.monotonic() - started)
    return found


def run_roundtrip(target: Target, host: Host, procedure: Procedure, scratch: str,
                  stack: contextlib.ExitStack, after_dump: Callable[[], None] | None = None) -> RoundTrip:
    """The round trip; `after_dump` is called once the dump is taken (the writer stopped), for
    work that may overlap the restore but must not disturb the dump's measurements."""
    cfg = target.profile.backup
    connect_root = target.mysql_root
    source = stack.enter_context(scratch_database(lambda: connect_root("")))
    restored = stack.enter_context(scratch_database(lambda: connect_root(""), create=False))
    draw_seed = secrets.randbits(32)
    with contextlib.closing(connect_root(source)) as connection:
        with connection.cursor() as cursor:
            zones = dataset.available_zones(cursor)
            dataset.create_objects(cursor)
        data = dataset.generate(draw_seed, cfg.dataset_rows, cfg.large_row_bytes, zones)
        dataset.insert(connection, data)
        padding = cfg.padding_mb
        rows_a = transfers.rows_for(padding)
        expected = transfers.create_accounts(connection, rows_a)
        with connection.cursor() as cursor:
            source_tables = [t for t in checksums.base_tables(cursor, source)
                             if t not in (transfers.ACCOUNTS_A, transfers.ACCOUNTS_B)]

    with_files = (bool(cfg.archive_patterns) and bool(cfg.files_var)
                  and "file_archives" not in target.profile.absent.parts)
    seeded = seed_backend(target) if target.kind == "ephemeral" and with_files else {}
    before = live_files(target) if with_files else None

    attempts: list[dict[str, Any]] = []
    rng = random.Random(draw_seed)
    for attempt in range(1, 6):
        directory = posixpath.join(scratch, f"roundtrip-{attempt}")
        writer = transfers.TransferWriter(lambda: connect_root(source), rows_a, cfg.writer_interval_s,
                                          cfg.writer_max_transactions, cfg.writer_max_seconds, rng)
        origin = time.monotonic()
        with writer.running() as report, transfers.DumpWatcher(lambda: connect_root(""), source) as watcher:
            began = time.monotonic()
            run = procedure.backup(directory, database=source, files=with_files or None)
            ended = time.monotonic()
        window = watcher.window()
        outcome = TransferOutcome(expected, rows_a, padding, window or (began, ended),
                                  "process list" if window else "command", origin, report, watcher.summary(origin))
        attempts.append({"padding_mb": padding, "dump_window_s": round(outcome.dump_s, 3),
                         "command_s": round(ended - began, 3), "exit": run.run.exit_code,
                         "committed_during": outcome.committed_during})
        # again, longer: a dump too short to judge, or one no transfer committed during although
        # none waited on a lock (the writer's connection held up on a busy host: nothing was seen)
        unseen = outcome.committed_during == 0 and outcome.stall_s <= cfg.max_write_stall_s
        grow = (run.run.exit_code == 0 and (outcome.dump_s < cfg.min_dump_s or unseen)
                and padding * 2 <= cfg.max_padding_mb)
        if not grow:
            break
        host.remove_tree(directory)
        with contextlib.closing(connect_root(source)) as connection:
            more = transfers.rows_for(padding)
            expected = transfers.grow_accounts(connection, rows_a, more)
            rows_a += more
            padding *= 2
    outcome.attempts = attempts
    if after_dump is not None:
        after_dump()
    trip = RoundTrip(source, restored, data, run, outcome, source_tables=source_tables, files_before=before,
                     seeded=seeded)
    trip.files_after = live_files(target) if with_files else None
    dumps = sorted(run.dumps, key=lambda e: e.mtime)
    if dumps:
        trip.dump_entry = dumps[-1]
    if trip.dump_path and run.run.exit_code == 0:
        checked = restore_and_verify(procedure, host, lambda: connect_root(""), trip.dump_path, source, restored,
                                     source_tables)
        trip.dump, trip.restore = checked.dump, checked.restore
        trip.source_sums, trip.source_objects = checked.source_sums, checked.source_objects
        trip.restored_sums, trip.restored_objects = checked.restored_sums, checked.restored_objects
        if {transfers.ACCOUNTS_A, transfers.ACCOUNTS_B} <= checked.restored_tables:
            with contextlib.closing(connect_root("")) as connection:
                outcome.restored_total = transfers.total(connection, restored)
    else:
        if trip.dump_path:
            trip.dump = inspect_dump(host, trip.dump_path)
        with contextlib.closing(connect_root("")) as connection:
            trip.source_sums = checksums.table_checksums(connection, source, source_tables)
            trip.source_objects = schema.schema_objects(connection, source)
    return trip

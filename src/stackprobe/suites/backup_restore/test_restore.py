"""BKP-02 (the restore gives back identical tables), BKP-04 (routines, triggers, events, views
come back as defined) and BKP-08 (restoring the newest backup fits the RTO)."""

from __future__ import annotations

import pytest

from stackprobe.backup import checksums, schema
from stackprobe.backup.newest import Newest
from stackprobe.backup.roundtrip import RoundTrip
from stackprobe.evidence import Evidence
from stackprobe.suites.backup_restore import common
from stackprobe.targets import Target

OBJECT_KINDS = ("view", "function", "procedure", "trigger", "event")


@pytest.mark.control("BKP-02")
@common.uses_roundtrip
def test_restore_gives_identical_checksums(roundtrip: RoundTrip, evidence: Evidence) -> None:
    evidence.record("dataset", roundtrip.data.summary())
    evidence.record("checksums_source", checksums.as_evidence(roundtrip.source_sums))
    if roundtrip.restore is not None:
        evidence.record("restore", roundtrip.restore.summary())
        evidence.record("restore_seconds", round(roundtrip.restore.duration_s, 3))
    why = roundtrip.why_no_restore()
    common.require(not why, why)
    evidence.record("checksums_restored", checksums.as_evidence(roundtrip.restored_sums))
    problems = checksums.differences(roundtrip.source_sums, roundtrip.restored_sums)
    # tables on both sides, by definition (a missing or extra table is said above)
    both = {k for k in set(roundtrip.source_objects) & set(roundtrip.restored_objects) if k.startswith("table ")}
    problems += schema.object_differences({k: roundtrip.source_objects[k] for k in both},
                                          {k: roundtrip.restored_objects[k] for k in both}, ("table",))
    common.require(not problems, (
        f"restoring {roundtrip.dump_entry.name if roundtrip.dump_entry else 'the dump'} did not give the "
        f"tables back: {'; '.join(problems[:8])} (dataset seed {roundtrip.data.seed}: check the dump's "
        "--default-character-set=utf8mb4 and --hex-blob, and what the restore command feeds mysql)"))


@pytest.mark.control("BKP-04")
@common.uses_roundtrip
def test_routines_triggers_events_included(roundtrip: RoundTrip, evidence: Evidence) -> None:
    source_counts = schema.counts(roundtrip.source_objects)
    evidence.record("objects_source", {k: source_counts[k] for k in OBJECT_KINDS})
    absent = [k for k in OBJECT_KINDS if not source_counts.get(k)]
    common.require(not absent, f"the canary database has no {', '.join(absent)} to compare: cannot judge")
    why = roundtrip.why_no_restore()
    common.require(not why, why)
    restored_counts = schema.counts(roundtrip.restored_objects)
    evidence.record("objects_restored", {k: restored_counts[k] for k in OBJECT_KINDS})
    problems = schema.object_differences(roundtrip.source_objects, roundtrip.restored_objects, OBJECT_KINDS)
    evidence.record("differences", problems)
    common.require(not problems, (
        f"after the restore: {'; '.join(problems)}: dump with --routines --triggers --events "
        "(mysqldump leaves routines and events out by default)"))


@pytest.mark.control("BKP-08")
@common.reads_newest
def test_restore_of_newest_backup_within_rto(newest: Newest, target: Target, evidence: Evidence) -> None:
    rto = target.profile.backup.rto_s
    evidence.record("newest", newest.summary())
    if not newest.restored or newest.restore is None or newest.newest is None:
        pytest.skip(f"nothing restored to time (BKP-07 fails: {newest.problems[0] if newest.problems else '?'})")
    seconds = newest.restore.duration_s
    evidence.record("backup_size_bytes", newest.newest.size)
    evidence.record("restore_seconds", round(seconds, 3))
    evidence.record("rto_s", rto)
    common.require(seconds <= rto, (
        f"restoring {newest.newest.name} ({newest.newest.size} bytes) into a scratch database took {seconds:.1f} s, "
        f"over the RTO of {rto:.0f} s ([backup] rto_s): make restores faster (smaller dumps, faster disks) or "
        "agree a longer RTO"))

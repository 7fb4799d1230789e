"""BKP-06: the uploads/ and vector_db/ archives round-trip: restored into a scratch directory,
the files have the live hashes and a Chroma query over the restored store answers like the live
backend (same ids, same distances)."""

from __future__ import annotations

import posixpath

import pytest

from stackprobe.backup import archives
from stackprobe.backup.roundtrip import QUERIES_K, RoundTrip, probe_queries
from stackprobe.evidence import Evidence
from stackprobe.suites.backup_restore import common
from stackprobe.targets import Target
from stackprobe.targets.host import Host


@pytest.mark.control("BKP-06")
@common.uses_roundtrip
@common.THROWAWAY_BACKEND
@pytest.mark.slow
def test_vector_store_and_uploads_archives_round_trip(roundtrip: RoundTrip, target: Target, stack_host: Host,
                                                      scratch: str, evidence: Evidence) -> None:
    cfg = target.profile.backup
    before, after = roundtrip.files_before, roundtrip.files_after
    if before is None or after is None:
        pytest.skip("[backup] archive_patterns or files_var is empty: the backup command archives no files")
    evidence.record("live", before.summary())
    if roundtrip.seeded:
        evidence.record("seeded", roundtrip.seeded)
    empty = not before.uploads and not any(a.ids for a in before.answers.results.values())
    if empty:
        pytest.skip("the live backend has no documents and no uploads: nothing to compare")
    if (before.uploads, before.answers.summary()) != (after.uploads, after.answers.summary()):
        pytest.skip("the live uploads or vector store changed while the backup ran: nothing fixed to compare")
    run = roundtrip.backup
    common.require(run.run.exit_code == 0, f"the backup command failed: {run.run.describe()}")
    found = run.archives
    evidence.record("archives", {k: [e.describe() for e in v] for k, v in found.items()})
    missing = [f"{k} ({cfg.archive_patterns[k]!r})" for k, v in found.items() if len(v) != 1]
    common.require(not missing, f"the backup run did not leave exactly one archive of {', '.join(missing)} "
                                f"in {run.directory}")
    root = posixpath.join(scratch, "restored-archives")
    problems: list[str] = []
    for (entry,) in found.values():
        extracted = archives.extract(stack_host, run.path(entry), root)
        if extracted.exit_code != 0:
            problems.append(f"{entry.name} does not unpack: {extracted.describe()}")
    common.require(not problems, "; ".join(problems))
    if "uploads" in found:
        restored = archives.host_digests(stack_host, posixpath.join(root, posixpath.basename(
            cfg.archive_sources["uploads"])))
        evidence.record("uploads_restored", len(restored or {}))
        if restored is None:
            problems.append("the uploads archive holds no uploads/ directory")
        else:
            problems += [f"uploads: {p}" for p in archives.digest_differences(before.uploads, restored)]
    if "vector_db" in found:
        store = posixpath.join(root, posixpath.basename(cfg.archive_sources["vector_db"]))
        answers, error = archives.restored_answers(target, store, probe_queries(target), QUERIES_K)
        if answers is None:
            problems.append(f"a Chroma query over the restored vector store failed: {error}")
        else:
            evidence.record("restored_answers", answers.summary())
            problems += [f"vector store: {p}" for p in archives.answer_differences(before.answers, answers)]
    common.require(not problems, "after restoring the archives: " + "; ".join(problems))

"""LOG-02 and LOG-03 from one experiment: bounded concurrent traffic with unique request ids
until the log rotated more than LOG_BACKUP_COUNT times, then every retained file read back."""

from __future__ import annotations

import pytest

from stackprobe.evidence import Evidence
from stackprobe.logs import account_ids, check_rotation
from stackprobe.logs_rotation import RotationExperiment
from stackprobe.targets import Target


@pytest.mark.control("LOG-02")
@pytest.mark.destructive
@pytest.mark.slow
def test_rotation_at_max_bytes_keeps_backup_count(rotation_experiment: RotationExperiment,
                                                  evidence: Evidence) -> None:
    run, policy = rotation_experiment, rotation_experiment.policy
    evidence.record("experiment", run.summary())
    report = check_rotation(run.files, policy.base, policy.max_bytes, policy.backup_count)
    evidence.record("rotation", report.summary())
    assert run.rotations > policy.backup_count, (
        f"the traffic stopped ({run.traffic[-1].stopped_by}) after about {int(run.written_bytes)} bytes, "
        f"{run.rotations:.1f} rotations of {policy.max_bytes} bytes; more than {policy.backup_count} are needed: "
        "raise [logs] traffic_max_seconds or lower LOG_MAX_BYTES on the copy")
    assert not report.violations, "; ".join(report.violations)
    if policy.backup_count > 0:
        assert report.backups, (
            f"no backup {policy.base}.1 after about {int(run.written_bytes)} bytes ({run.rotations:.1f} x "
            f"LOG_MAX_BYTES): the handler does not rotate at LOG_MAX_BYTES")


@pytest.mark.control("LOG-03")
@pytest.mark.destructive
@pytest.mark.slow
def test_no_record_lost_or_duplicated_across_rotation(target: Target, rotation_experiment: RotationExperiment,
                                                      evidence: Evidence) -> None:
    run, cfg = rotation_experiment, target.profile.logs
    evidence.record("experiment", run.summary())
    account = account_ids(run.files, cfg.request_id_pattern, run.sent, run.oldest_rotated_away,
                          cfg.access_log_lag_s, base=run.policy.base)
    evidence.record("ids", {**account.summary(), "oldest_file_rotated_away": run.oldest_rotated_away,
                            "backups": run.backups})
    assert run.calibration_lines_found and account.retained, (
        f"none of {account.acknowledged} acknowledged requests is in the log files by its id "
        f"([logs] request_id_pattern {cfg.request_id_pattern!r}): the access log must carry "
        f"{cfg.request_id_header}")
    problems = []
    if account.lost_from_middle:
        problems.append(
            f"{len(account.lost_from_middle)} acknowledged ids lost from the middle of the retained log "
            f"(first: seq {account.lost_from_middle[:5]}; lowest retained seq {account.lowest_retained_seq})")
    if account.out_of_order:
        first = account.out_of_order[0]
        problems.append(
            f"{len(account.out_of_order)} lines written into an older file after a newer one had lines "
            f"(seq {first[1]} in {first[0]} was sent after seq {first[3]} in {first[2]} was acknowledged): "
            "two files are written at once, so a rotation deletes a file that is still being written")
    if account.duplicated:
        problems.append(f"{len(account.duplicated)} ids logged more than once (first: "
                        f"{', '.join(f'{k} x{v}' for k, v in list(account.duplicated.items())[:3])})")
    assert not problems, (
        "; ".join(problems) + f" — of {account.acknowledged} acknowledged requests, {account.retained} retained, "
        f"{len(account.lost_with_rotation)} went with the rotated-away oldest file: several processes rotate "
        "the file without a lock (use a process-safe rotating handler)")

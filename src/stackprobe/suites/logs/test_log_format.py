"""LOG-01: the log file is where the profile says (or the service's standard output, with [absent]
parts log_file), and every line is in the documented format."""

from __future__ import annotations

import secrets
import time

import pytest

from stackprobe.evidence import Evidence
from stackprobe.logs import check_format
from stackprobe.logs_policy import LogPolicy, current_log, log_service, read_logs
from stackprobe.targets import Target


@pytest.mark.control("LOG-01")
@pytest.mark.nightly
def test_log_file_where_configured_lines_in_format(target: Target, log_policy: LogPolicy,
                                                   evidence: Evidence) -> None:
    cfg = target.profile.logs
    evidence.record("log", log_policy.describe())
    marker = f"spx-log01-{secrets.token_hex(6)}"
    query = {cfg.marker_query_param: marker} if cfg.marker_query_param else None
    status = target.http().get(target.health_url, headers={cfg.request_id_header: marker}, params=query).status_code
    service = log_service(target, log_policy)
    waited, seen = time.monotonic(), ""
    while time.monotonic() - waited < cfg.appear_within_s:
        current = current_log(service, log_policy)
        seen = next((line for line in current.splitlines() if marker in line), "")
        if seen:
            break
        time.sleep(0.2)
    evidence.record("marker_request", {"id": marker, "health_status": status, "line": seen,
                                       "found_after_s": round(time.monotonic() - waited, 2) if seen else None})
    files = read_logs(target, log_policy)
    names = [f.name for f in files]
    if not seen:  # a worker may still write to a file rotated a moment ago: the log is every file
        holder = next((f for f in files if marker in f.text), None)
        seen = next((line for line in holder.lines if marker in line), "") if holder else ""
        evidence.record("marker_found_in", holder.name if holder else None)
    assert log_policy.stdout or log_policy.base in names, (
        f"no log file {log_policy.file} in {log_policy.service} (the directory holds {names or 'nothing'}): "
        f"log to the configured path ({log_policy.sources['file']})")
    assert seen, (
        f"a health request with {cfg.request_id_header}: {marker}"
        f"{f' (and ?{cfg.marker_query_param}={marker})' if query else ''} did not appear in {log_policy.where} "
        f"within {cfg.appear_within_s} s: the service does not log its requests, with their id, where the profile "
        "says ([logs] file; [absent] parts log_file for standard output; [logs] marker_query_param for an access "
        "log without request ids)")
    report = check_format(files, cfg.line_pattern, cfg.continuation_pattern)
    evidence.record("format", report.summary())
    evidence.record("line_pattern", cfg.line_pattern)
    assert report.records > 0, f"no line of {', '.join(names)} is in the documented format"
    assert not report.violations, (
        f"{len(report.violations)} of {sum(report.lines.values())} lines are not in the documented format "
        f"([logs] line_pattern), e.g. {report.violations[0]}")

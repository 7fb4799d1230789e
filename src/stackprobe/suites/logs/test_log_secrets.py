"""LOG-05: no secret value of the stack in any log line: the log files and `docker logs`.

Only distinctive values are searched for ([secrets] search_min_length, search_min_entropy_bits):
a weak one would match by accident, and SEC-01/02 report it as too weak to search for. Secrets the
run does not know are found by their form (detect-secrets' detectors, checks/pattern_scan.py),
bounded by [secrets] pattern_scan_max_bytes and pattern_scan_timeout_s."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from stackprobe.checks.pattern_scan import ScanCut, scan_lines
from stackprobe.checks.policies import secret_policy
from stackprobe.evidence import Evidence
from stackprobe.logs_policy import LogPolicy, read_logs
from stackprobe.redact import REDACTOR
from stackprobe.targets import Target


def secret_lines(source: str, text: str, searched: Callable[[str], bool]) -> list[str]:
    """`source:line: NAMES` for every line that holds a known secret value `searched` accepts
    (values never shown)."""
    if not REDACTOR.labels_in(text, searched):
        return []
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if names := REDACTOR.labels_in(line, searched):
            found.append(f"{source}:{number}: {', '.join(sorted(names))}: {REDACTOR.redact(line)[:200]}")
    return found


@pytest.mark.control("LOG-05")
@pytest.mark.nightly
def test_no_secret_values_in_logs(target: Target, log_policy: LogPolicy, evidence: Evidence, profile: Any) -> None:
    assert len(REDACTOR) > 0, "no secret value is known (env file, containers' environments): nothing to look for"
    searched = secret_policy(profile.secrets).is_distinctive
    bounds = profile.secrets
    deadline = time.monotonic() + bounds.pattern_scan_timeout_s
    found: list[str] = []
    scanned: dict[str, int] = {}
    logs = [] if log_policy.stdout else [(f"{log_policy.service}:{log.name}", log.text)
                                         for log in read_logs(target, log_policy)]
    logs += [(f"docker logs {name}", service.logs()) for name, service in sorted(target.services().items())]
    cut = ""
    for source, text in logs:
        scanned[source] = len(text.splitlines())
        found += secret_lines(source, text, searched)
        try:
            found += [str(hit) for hit in scan_lines(text.splitlines(), source, deadline=deadline,
                                                     max_bytes=bounds.pattern_scan_max_bytes)]
        except ScanCut:
            cut = cut or source
    evidence.record("scanned_lines", scanned)
    evidence.record("secret_values_known", len(REDACTOR))
    evidence.record("findings", found[:20])
    assert sum(scanned.values()) > 0, (
        f"no log line to search: {', '.join(scanned) or 'no log source'} held none, so LOG-05 cannot rule out a "
        "secret in the logs; check that the stack logs where the profile's [logs] says")
    assert not cut, (f"the pattern scan stopped at its time bound in {cut}, so a secret in the logs is not ruled "
                     "out: raise [secrets] pattern_scan_timeout_s in the profile")
    assert not found, (
        f"{len(found)} log lines hold a secret value, e.g. {found[0]}: never log URLs or settings with "
        "credentials; redact secrets in a logging filter")

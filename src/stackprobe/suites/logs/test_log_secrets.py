"""LOG-05: no secret value of the stack in any log line: the log files and `docker logs`."""

from __future__ import annotations

import re

import pytest

from stackprobe.evidence import Evidence
from stackprobe.logs_policy import LogPolicy, read_logs
from stackprobe.redact import REDACTOR
from stackprobe.targets import Target

_LABEL = re.compile(r"«redacted:([^»]+)»")


def secret_lines(source: str, text: str) -> list[str]:
    """`source:line: NAMES` for every line that holds a known secret value (values never shown)."""
    if REDACTOR.redact(text) == text:
        return []
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        cleaned = REDACTOR.redact(line)
        if cleaned != line:
            names = sorted(set(_LABEL.findall(cleaned)))
            found.append(f"{source}:{number}: {', '.join(names)}: {cleaned[:200]}")
    return found


@pytest.mark.control("LOG-05")
@pytest.mark.nightly
def test_no_secret_values_in_logs(target: Target, log_policy: LogPolicy, evidence: Evidence) -> None:
    assert len(REDACTOR) > 0, "no secret value is known (env file, containers' environments): nothing to look for"
    found: list[str] = []
    scanned: dict[str, int] = {}
    for log in read_logs(target, log_policy):
        scanned[f"{log_policy.service}:{log_policy.directory}/{log.name}"] = len(log.lines)
        found += secret_lines(f"{log_policy.service}:{log.name}", log.text)
    for name, service in sorted(target.services().items()):
        text = service.logs()
        scanned[f"docker logs {name}"] = len(text.splitlines())
        found += secret_lines(f"docker logs {name}", text)
    evidence.record("scanned_lines", scanned)
    evidence.record("secret_values_known", len(REDACTOR))
    evidence.record("findings", found[:20])
    assert not found, (
        f"{len(found)} log lines hold a secret value, e.g. {found[0]}: never log URLs or settings with "
        "credentials; redact secrets in a logging filter")

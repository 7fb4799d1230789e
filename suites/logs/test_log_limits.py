"""LOG-06 on the compose files: every service's Docker log driver bounded."""

from __future__ import annotations

import pytest

from stackprobe.checks import Finding
from stackprobe.evidence import Evidence
from suites.conftest import assert_control_clean


@pytest.mark.control("LOG-06")
@pytest.mark.nightly
def test_log_driver_bounded(config_findings: list[Finding], evidence: Evidence) -> None:
    assert_control_clean("LOG-06", config_findings, evidence)

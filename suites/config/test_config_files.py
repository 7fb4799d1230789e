"""ENV-01..03, SEC-01..07, CMP-01 on the files: the env file and the compose files as compose
renders them. No Docker engine needed."""

from __future__ import annotations

import pytest

from stackprobe.checks import Finding
from stackprobe.evidence import Evidence
from suites.conftest import assert_control_clean

FILE_CONTROLS = ["ENV-01", "ENV-02", "ENV-03", "SEC-01", "SEC-02", "SEC-03", "SEC-04", "SEC-05",
                 "SEC-06", "SEC-07", "CMP-01"]


@pytest.mark.nightly
@pytest.mark.parametrize("control", [pytest.param(c, marks=pytest.mark.control(c), id=c)
                                     for c in FILE_CONTROLS])
def test_config_files(control: str, config_findings: list[Finding], evidence: Evidence) -> None:
    assert_control_clean(control, config_findings, evidence)

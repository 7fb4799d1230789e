"""ENV-01, ENV-03, SEC-01..03, SEC-06, SEC-07 on what the running containers actually have:
their environments, published ports and healthchecks as `docker inspect` shows them, the
arguments of every process inside them, and the layers of every service image."""

from __future__ import annotations

import pytest

from stackprobe.checks import ConfigCheck
from stackprobe.checks.runner import ENV_FILE_CONTROLS
from stackprobe.evidence import Evidence
from stackprobe.inspect import ImageReport, InEffect
from stackprobe.suites.conftest import assert_control_clean

CONTAINER_CONTROLS = ["ENV-01", "ENV-03", "SEC-01", "SEC-02", "SEC-03", "SEC-06"]


@pytest.mark.nightly
@pytest.mark.parametrize("control", [pytest.param(c, marks=pytest.mark.control(c), id=c)
                                     for c in CONTAINER_CONTROLS])
def test_config_in_effect(control: str, in_effect: InEffect, evidence: Evidence, config_check: ConfigCheck) -> None:
    if config_check.no_env_file and control in ENV_FILE_CONTROLS:  # ENV-01: no env file to compare with
        pytest.skip(config_check.no_env_file)
    evidence.record("in_effect", in_effect.evidence(control))
    assert_control_clean(control, in_effect.findings, evidence)


@pytest.mark.nightly
@pytest.mark.control("SEC-07")
def test_no_secret_in_healthchecks_or_process_arguments(in_effect: InEffect, evidence: Evidence) -> None:
    evidence.record("in_effect", in_effect.evidence("SEC-07"))
    assert_control_clean("SEC-07", in_effect.findings, evidence)


@pytest.mark.nightly
@pytest.mark.control("SEC-07")
def test_no_env_file_or_secret_baked_into_images(image_reports: list[ImageReport], evidence: Evidence) -> None:
    evidence.record("images", [report.evidence() for report in image_reports])
    assert_control_clean("SEC-07", [f for report in image_reports for f in report.findings], evidence)

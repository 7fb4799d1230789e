"""LOG-06: every service's Docker log driver bounded, in the compose files and in effect."""

from __future__ import annotations

import pytest

from stackprobe.checks import Finding, compose_policy
from stackprobe.checks.inspected import check_log_limits_in_effect, model_from_inspect
from stackprobe.evidence import Evidence
from stackprobe.suites.conftest import assert_control_clean
from stackprobe.targets import Target


@pytest.mark.control("LOG-06")
@pytest.mark.nightly
def test_log_driver_bounded(config_findings: list[Finding], evidence: Evidence) -> None:
    assert_control_clean("LOG-06", config_findings, evidence)


@pytest.mark.control("LOG-06")
@pytest.mark.nightly
def test_log_driver_bounded_in_effect(target: Target, evidence: Evidence) -> None:
    """What the containers were created with (HostConfig.LogConfig), whatever the files say."""
    inspected = {name: service.inspect() for name, service in sorted(target.services().items())}
    evidence.record("log_config_in_effect", {name: spec["logging"]
                                             for name, spec in model_from_inspect(inspected)["services"].items()})
    findings = check_log_limits_in_effect(inspected, compose_policy(target.profile))
    assert_control_clean("LOG-06", findings, evidence)

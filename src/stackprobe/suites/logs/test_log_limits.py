"""LOG-06: every service's Docker log driver bounded, in the compose files and in effect."""

from __future__ import annotations

from typing import Any

import pytest

from stackprobe.checks import ComposePolicy, Finding, check_log_limits
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
    model: dict[str, dict[str, Any]] = {"services": {}}
    for name, service in sorted(target.services().items()):
        config = service.inspect()["HostConfig"].get("LogConfig") or {}
        model["services"][name] = {"logging": {"driver": config.get("Type", ""),
                                               "options": config.get("Config") or {}}}
    evidence.record("log_config_in_effect", model["services"])
    findings = check_log_limits(model, ComposePolicy())
    assert_control_clean("LOG-06", findings, evidence)

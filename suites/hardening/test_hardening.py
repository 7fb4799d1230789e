"""HRD-01..10, each proven twice by the same rule: on the compose files as compose renders them
(and the Dockerfiles they build), and in effect (`docker inspect` of every container, its image's
config and history). Read-only both ways, so nightly runs include them."""

from __future__ import annotations

import pytest

from stackprobe.checks.hardening_runner import HardeningCheck
from stackprobe.evidence import Evidence
from suites.conftest import assert_control_clean

HRD_CONTROLS = [f"HRD-{n:02d}" for n in range(1, 11)]


def _controls() -> list[pytest.ParameterSet]:
    return [pytest.param(c, marks=pytest.mark.control(c), id=c) for c in HRD_CONTROLS]


@pytest.mark.nightly
@pytest.mark.parametrize("control", _controls())
def test_hardening_files(control: str, hardening_files: HardeningCheck, evidence: Evidence) -> None:
    evidence.record("compose", hardening_files.evidence())
    assert_control_clean(control, hardening_files.findings, evidence)


@pytest.mark.nightly
@pytest.mark.parametrize("control", _controls())
def test_hardening_in_effect(control: str, hardening_in_effect: HardeningCheck, evidence: Evidence) -> None:
    evidence.record("in_effect", hardening_in_effect.evidence())
    assert_control_clean(control, hardening_in_effect.findings, evidence)

"""HRD-01..10, each proven twice by the same rule: on the compose files as compose renders them
(and the Dockerfiles they build), and in effect (`docker inspect` of every container, its image's
config and history). Read-only both ways, so nightly runs include them."""

from __future__ import annotations

import pytest

from stackprobe.absence import NOT_APPLICABLE
from stackprobe.checks.hardening_runner import HardeningCheck
from stackprobe.evidence import Evidence
from stackprobe.suites.conftest import assert_control_clean

HRD_CONTROLS = [f"HRD-{n:02d}" for n in range(1, 11)]


def _controls() -> list[pytest.ParameterSet]:
    return [pytest.param(c, marks=pytest.mark.control(c), id=c) for c in HRD_CONTROLS]


def _proven(check: HardeningCheck, request: pytest.FixtureRequest) -> HardeningCheck:
    """The check, or an error at set-up for a control it could not prove (one line: hadolint
    missing names its install step), or not applicable for one with nothing to judge; the other
    controls keep their verdicts."""
    control = request.node.callspec.params["control"]
    if control in check.unproven:
        pytest.fail(check.unproven[control], pytrace=False)
    if control in check.not_applicable:
        pytest.skip(f"{NOT_APPLICABLE}: {check.not_applicable[control]}")
    return check


@pytest.fixture
def files(hardening_files: HardeningCheck, request: pytest.FixtureRequest) -> HardeningCheck:
    return _proven(hardening_files, request)


@pytest.fixture
def in_effect(hardening_in_effect: HardeningCheck, request: pytest.FixtureRequest) -> HardeningCheck:
    return _proven(hardening_in_effect, request)


@pytest.mark.nightly
@pytest.mark.parametrize("control", _controls())
def test_hardening_files(control: str, files: HardeningCheck, evidence: Evidence) -> None:
    evidence.record("compose", files.evidence())
    assert_control_clean(control, files.findings, evidence)


@pytest.mark.nightly
@pytest.mark.parametrize("control", _controls())
def test_hardening_in_effect(control: str, in_effect: HardeningCheck, evidence: Evidence) -> None:
    evidence.record("in_effect", in_effect.evidence())
    assert_control_clean(control, in_effect.findings, evidence)

"""The smoke suite's fixtures: one outage experiment (stackprobe.chaos.outage) feeds HLT-03 and HLT-04."""

from __future__ import annotations

import pytest

from stackprobe.chaos.outage import OutageObservation, not_healthy_before, observe_outage
from stackprobe.errors import StackprobeUsageError
from stackprobe.faults import Injector
from stackprobe.metrics import ScrapeError, scrape
from stackprobe.safety import skip_unless_destructive_allowed
from stackprobe.settings import RunSettings
from stackprobe.targets import Target


@pytest.fixture(scope="module")
def outages(target: Target, stackprobe_settings: RunSettings, fault_injector: Injector,
            ) -> dict[str, OutageObservation]:
    """One outage per dependency, through the run's fault injector (HLT-03/04 share it)."""
    skip_unless_destructive_allowed(stackprobe_settings, "stops dependencies")
    health = target.profile.health
    for service in health.dependency_services.values():
        reason = fault_injector.guard.refusal("stop", service)
        if reason:
            pytest.skip(reason)
    if problem := not_healthy_before(target, health.recover_within_s):
        pytest.fail(problem, pytrace=False)
    window = max(health.outage_window_s, health.reflect_within_s * 2)
    return {
        dependency: observe_outage(target, fault_injector, dependency, service, window)
        for dependency, service in health.dependency_services.items()
    }


@pytest.fixture
def metrics_text(target: Target) -> str:
    """One scrape of the metrics URL. An endpoint where nothing answers (or whose port is not
    published) is an error of the checks that need it, in one line: they never compared a counter."""
    try:
        return scrape(target.http(), target.metrics_url)
    except (ScrapeError, StackprobeUsageError) as error:
        pytest.fail(f"could not scrape: {error}", pytrace=False)

"""The chaos suite's machinery: refusals before anything is touched, the steady state before and
after every experiment, the fault injector, and the services each experiment breaks.

- Collection: on a live target, faults need --allow-destructive and every service an
  experiment breaks must be in [safety] destructive_services; a run that selects only chaos
  experiments without --allow-destructive is refused (one line, usage error); mixed with other
  suites, the experiments are skipped with the reason (the plugin's rule for `destructive`).
- Session: every service an experiment names must be a service of the project (checked before
  the first fault); one canary table and key prefix for the steady-state writes.
- Each experiment: the steady state must hold before (else ABORTED, with the reason), and is
  checked again after (CHS-08 judges those checks).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stackprobe.chaos.probes import Backend, Canary, HttpAnswer
from stackprobe.chaos.steady import SteadyReport, SteadyState
from stackprobe.errors import ExperimentAborted
from stackprobe.faults import FaultGuard, Injector, RecordStore, parse_fault_spec
from stackprobe.profile import Profile
from stackprobe.settings import RunSettings
from stackprobe.targets import Target

HERE = Path(__file__).resolve().parent
PLANNED = pytest.StashKey[list[tuple[str, str, str]]]()  # (nodeid, fault kind, service)


def _settings(config: pytest.Config) -> RunSettings:
    from stackprobe.plugin import SETTINGS

    return config.stash[SETTINGS]


def dependency_of(profile: Profile, service: str) -> str:
    """The health dependency name that reports `service` ([health] dependency_services)."""
    for name, svc in profile.health.dependency_services.items():
        if svc == service:
            return name
    return ""


def dependency_service(profile: Profile, dependency: str) -> str:
    return profile.health.dependency_services[dependency]


# --- parametrisation: which services each experiment breaks ------------------------------
FROZEN_IDS = {"pause": "paused", "slow": "slowed"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    profile = _settings(metafunc.config).profile
    roles = profile.services
    chaos = profile.chaos
    if "crash_service" in metafunc.fixturenames:
        services = chaos.crash_services or [roles.database, roles.cache, roles.backend]
        metafunc.parametrize("crash_service", [pytest.param(s, id=s, marks=pytest.mark.faults(f"crash:{s}"))
                                               for s in services])
    if "durable_service" in metafunc.fixturenames:
        services = [roles.database] + ([roles.cache] if profile.redis.persistence != "none" else [])
        metafunc.parametrize("durable_service", [pytest.param(s, id=s, marks=pytest.mark.faults(f"crash:{s}"))
                                                 for s in services])
    if "frozen" in metafunc.fixturenames:
        params = []
        for dependency in chaos.freeze_dependencies:
            service = dependency_service(profile, dependency)
            params += [pytest.param((dependency, mode), id=f"{dependency}-{FROZEN_IDS[mode]}",
                                    marks=pytest.mark.faults(f"{mode}:{service}")) for mode in chaos.freeze_faults]
        metafunc.parametrize("frozen", params)
    if "partition_dependency" in metafunc.fixturenames:
        metafunc.parametrize("partition_dependency", [
            pytest.param(d, id=d, marks=pytest.mark.faults(f"partition:{dependency_service(profile, d)}"))
            for d in chaos.partition_dependencies])


# --- collection: refusals, and CHS-08 last -------------------------------------------------
ORDER = ("CHS-02", "CHS-05", "CHS-06", "CHS-07", "CHS-03", "CHS-04", "CHS-01", "CHS-08")


def _control(item: pytest.Item) -> str:
    marker = item.get_closest_marker("control")
    return str(marker.args[0]) if marker and marker.args else ""


def _is_chaos(item: pytest.Item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


def planned_faults(item: pytest.Item, settings: RunSettings) -> list[tuple[str, str]]:
    from stackprobe.dryrun import _placeholders, _specs

    found = []
    for spec in _specs(item, "faults", _placeholders(settings), settings.target):
        kind, services = parse_fault_spec(spec)
        found += [(kind, s) for s in services]
    return found


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = _settings(config)
    chaos_items = [i for i in items if _is_chaos(i)]
    planned = [(i.nodeid, kind, svc) for i in chaos_items for kind, svc in planned_faults(i, settings)]
    config.stash[PLANNED] = planned
    # After every other suite of the session (their checks must see a stack nobody broke: CTR-01
    # fails on recent restarts), in a fixed order, gentlest first: outages of the database that
    # judge the backend's own pooled clients (CHS-02, 05, 06), the backend crash under load
    # (CHS-07), the cache outage (CHS-03), then crashes (CHS-04, CHS-01) and the verdict (CHS-08).
    # A backend that fails CHS-03 stays broken until it restarts: run earlier, it would fail the
    # others for CHS-03's reason.
    if chaos_items:
        rank = {c: n for n, c in enumerate(ORDER)}
        ordered = sorted(chaos_items, key=lambda i: rank.get(_control(i), len(ORDER)))
        items[:] = [i for i in items if i not in chaos_items] + ordered
    if settings.target != "live" or not planned or settings.dry_run:
        return
    where = settings.host or "this host"
    if not settings.allow_destructive:
        if len(chaos_items) == len(items):
            kinds = ", ".join(sorted({kind for _, kind, _ in planned}))
            raise pytest.UsageError(
                f"stackprobe: refusing the chaos suite on live project {settings.project_name!r} ({where}): its "
                f"experiments inject faults ({kinds}) and live targets need --allow-destructive (and the services in "
                "[safety] destructive_services); nothing was touched")
        return  # mixed with other suites: the plugin skips them as destructive
    guard = FaultGuard("live", settings.project_name or "", True,
                       tuple(settings.profile.safety.destructive_services), where, settings.profile.source)
    for nodeid, kind, service in planned:
        reason = guard.refusal(kind, service)
        if reason:
            raise pytest.UsageError(f"stackprobe: {reason} ({nodeid}); nothing was touched")


# --- the session ---------------------------------------------------------------------------
@dataclass
class ChaosRun:
    target: Target
    settings: RunSettings
    injector: Injector
    steady: SteadyState
    backend: Backend
    canary: Canary
    after: list[dict[str, Any]] = field(default_factory=list)  # steady state after each experiment

    @property
    def cfg(self) -> Any:
        return self.target.profile.chaos


@pytest.fixture(scope="session")
def chaos(target: Target, stackprobe_settings: RunSettings, pytestconfig: pytest.Config) -> Iterator[ChaosRun]:
    from stackprobe.plugin import _stop, faults_dir

    known = set(target.services())
    for nodeid, kind, service in pytestconfig.stash.get(PLANNED, []):
        if service not in known:  # before any fault: an unknown name is bad input
            _stop(pytestconfig, f"stackprobe: refusing {kind} of {service!r} ({nodeid}): it is not a service of "
                                f"project {target.project!r} (it runs: {', '.join(sorted(known)) or 'nothing'}); "
                                f"check [services] and [chaos] in profile {target.profile.source}; nothing was touched")
    backend = Backend(target)
    canary_objects = Canary(target)
    steady = SteadyState(target, canary_objects, backend)
    cfg = target.profile.chaos
    injector = Injector(target, FaultGuard(target.kind, target.project, stackprobe_settings.allow_destructive,
                                           tuple(target.profile.safety.destructive_services), target.label,
                                           target.profile.source),
                        RecordStore(faults_dir(pytestconfig), target.label, target.project),
                        steady=lambda timeout: steady.wait(timeout), heal_timeout_s=cfg.heal_timeout_s,
                        prefix=cfg.host_command_prefix)
    canary_objects.create()
    run = ChaosRun(target, stackprobe_settings, injector, steady, backend, canary_objects)
    try:
        yield run
    finally:
        canary_objects.drop()


@pytest.fixture
def experiment(chaos: ChaosRun, request: pytest.FixtureRequest, evidence: Any) -> Iterator[ChaosRun]:
    """The steady state must hold before the experiment (else it is aborted, not failed), and is
    checked after it for CHS-08."""
    before = chaos.steady.wait(chaos.cfg.steady_wait_s)
    evidence.record("steady_before", before.as_evidence())
    if not before.holds:
        raise ExperimentAborted(f"steady state does not hold before the experiment (waited {before.waited_s:.0f} s, "
                                f"[chaos] steady_wait_s): {before.reason()}; the experiment was not run")
    chaos.injector.last_healed = None
    yield chaos
    # the last fault's undo waited for the steady state already: that check is the one after the
    # experiment (a fresh one when no fault ran, or its report is not a SteadyReport)
    after = chaos.injector.last_healed
    if not isinstance(after, SteadyReport):
        after = chaos.steady.wait(min(chaos.cfg.steady_wait_s, chaos.cfg.heal_timeout_s))
    chaos.after.append({"experiment": request.node.nodeid, **after.as_evidence()})


# --- observing health while a dependency is out ---------------------------------------------
@dataclass
class Outage:
    """Health answers seen while a dependency was out (times from the fault, in seconds)."""

    dependency: str
    service: str
    answers: list[dict[str, Any]] = field(default_factory=list)
    reflected_after_s: float | None = None  # first non-2xx naming the dependency
    max_latency_s: float = 0.0
    slow: int = 0  # answers (or timeouts) slower than degraded_latency_s
    healthy_after_reflect: int = 0  # 2xx answers after health had reflected the outage

    def summary(self) -> dict[str, Any]:
        statuses: dict[str, int] = {}
        for answer in self.answers:
            statuses[str(answer["status"])] = statuses.get(str(answer["status"]), 0) + 1
        return {"dependency": self.dependency, "service": self.service, "answers": len(self.answers),
                "statuses": statuses, "reflected_after_s": self.reflected_after_s,
                "max_latency_s": round(self.max_latency_s, 3), "slower_than_budget": self.slow,
                "healthy_after_reflect": self.healthy_after_reflect, "first_answers": self.answers[:8]}


def observe_health(chaos: ChaosRun, dependency: str, service: str, since: float, duration_s: float) -> Outage:
    """GET health every poll interval for `duration_s` (a new request even while earlier ones are
    out, at most 4 at a time), each bounded by degraded_latency_s + 1 s."""
    cfg = chaos.cfg
    budget = cfg.degraded_latency_s
    healthy_value = chaos.target.profile.health.healthy_value
    seen = Outage(dependency, service)
    lock = threading.Lock()
    answers: list[HttpAnswer] = []

    def ask() -> None:
        answer = chaos.backend.health(budget + 1.0)
        with lock:
            answers.append(answer)

    deadline = time.monotonic() + duration_s
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="stackprobe-outage")
    in_flight: list[Any] = []
    try:
        while time.monotonic() < deadline:
            in_flight = [f for f in in_flight if not f.done()]
            if len(in_flight) < 4:
                in_flight.append(pool.submit(ask))
            time.sleep(cfg.poll_interval_s)
        for future in in_flight:  # the last answers, each bounded by its own timeout
            future.exception(timeout=budget + 2)
    finally:  # on Ctrl-C/SIGTERM: straight on to the undo, the requests end by their timeouts
        pool.shutdown(wait=False, cancel_futures=True)
    with lock:
        collected = list(answers)  # answers still out now come too late to count
    for answer in sorted(collected, key=lambda a: a.started):
        latency = answer.latency_s
        seen.max_latency_s = max(seen.max_latency_s, latency)
        if latency > budget or (answer.status == 0 and "Timeout" in answer.error):
            seen.slow += 1
        state = (answer.body.get("services") or {}).get(dependency) if answer.body else None
        reflected = answer.status != 0 and not 200 <= answer.status < 300 and state != healthy_value
        at = round(answer.ended - since, 3)
        if reflected and seen.reflected_after_s is None:
            seen.reflected_after_s = at
        elif 200 <= answer.status < 300 and seen.reflected_after_s is not None:
            seen.healthy_after_reflect += 1
        seen.answers.append({"at_s": at, "status": answer.status, "latency_s": round(latency, 3),
                             "dependency": state, **({"error": answer.error} if answer.error else {})})
    return seen


def outage_problems(chaos: ChaosRun, seen: Outage, *, must_reflect: bool) -> list[str]:
    cfg = chaos.cfg
    problems = []
    if not seen.answers:
        problems.append("no health answer was recorded during the outage")
    if seen.slow:
        problems.append(f"health answered slower than {cfg.degraded_latency_s:g} s (or not at all) {seen.slow} "
                        f"times of {len(seen.answers)} while {seen.service} was out (max "
                        f"{seen.max_latency_s:.1f} s): a probe without a bound hangs the endpoint")
    if must_reflect:
        reflect = chaos.target.profile.health.reflect_within_s
        if seen.reflected_after_s is None:
            problems.append(f"health stayed 2xx for the whole outage ({len(seen.answers)} answers in "
                            f"{cfg.outage_s:g} s): it does not reflect {seen.dependency} ({seen.service}) being down")
        elif seen.reflected_after_s > reflect + cfg.poll_interval_s:
            problems.append(f"health took {seen.reflected_after_s:.2f} s to answer non-2xx for {seen.dependency} "
                            f"(within {reflect:g} s expected, [health] reflect_within_s)")
        if seen.healthy_after_reflect:
            problems.append(f"health answered 2xx {seen.healthy_after_reflect} times while {seen.service} was still "
                            "down, after it had reflected the outage")
    return problems

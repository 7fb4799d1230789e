"""The chaos suite's machinery: refusals before anything is touched, the steady state before and
after every experiment, the fault injector, and the services each experiment breaks.

- Collection: on a live target, faults need --allow-destructive and every service an
  experiment breaks must be in [safety] destructive_services; a run that selects only chaos
  experiments without --allow-destructive is refused (one line, usage error); mixed with other
  suites, the experiments are skipped with the reason (the plugin's rule for `destructive`).
- Session: every service an experiment names must be a service of the project (checked before
  the first fault); one canary table and key prefix for the steady-state writes.
- Each experiment: the steady state must hold before (else ABORTED, with the reason), and is
  checked again after (CHS-08 judges those checks), with the backend's data path (a write read
  back through its API where allowed): broken after an experiment that did not judge it, it is
  CHS-08's finding. An experiment whose backend did not recover its data path fails (or CHS-08
  does), and the backend is restarted after it (where the guard allows), so that the experiments
  after it are not failed by the same broken backend.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stackprobe import session
from stackprobe.activation import isolated_group
from stackprobe.chaos.health_watch import dependency_service
from stackprobe.chaos.probes import Backend, Canary
from stackprobe.chaos.recovery import DataPathWatch
from stackprobe.chaos.steady import SteadyReport, SteadyState
from stackprobe.errors import ExperimentAborted, StackprobeUsageError
from stackprobe.faults import FaultGuard, Injector, parse_fault_spec
from stackprobe.safety import destructive_refusal, marker_specs
from stackprobe.settings import RunSettings
from stackprobe.targets import Target

HERE = Path(__file__).resolve().parent
PLANNED = pytest.StashKey[list[tuple[str, str, str]]]()  # (nodeid, fault kind, service)


def _settings(config: pytest.Config) -> RunSettings:
    return session.settings(config)


# --- parametrisation: which services each experiment breaks ------------------------------
FROZEN_IDS = {"pause": "paused", "slow": "slowed"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    profile = _settings(metafunc.config).profile
    roles = profile.services
    chaos = profile.chaos
    if "crash_service" in metafunc.fixturenames:
        services = chaos.crash_services or [s for s in (roles.database, roles.cache, roles.backend) if s]
        metafunc.parametrize("crash_service", [pytest.param(s, id=s, marks=pytest.mark.faults(f"crash:{s}"))
                                               for s in services])
    if "durable_service" in metafunc.fixturenames:
        services = [roles.database] + ([roles.cache] if roles.cache and profile.redis.persistence != "none" else [])
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
    found = []
    for spec in marker_specs(item, "faults", settings):
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
    if destructive_refusal(settings):
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


# --- groups: with --parallel, each on a copy of its own (about the same length on the reference
# stack: the crashes of CHS-01 against the dependency faults and durability experiments) --------
RECOVERY = "recovery"
FAULTS = "faults"
GROUPS = (FAULTS, RECOVERY)


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
    # experiments whose steady state never held before (node id, group)
    aborted: list[tuple[str, str | None]] = field(default_factory=list)
    # set by an experiment whose backend did not recover its data path by itself (its finding)
    data_path_broken: bool = False

    @property
    def cfg(self) -> Any:
        return self.target.profile.chaos


@pytest.fixture(scope="session")
def chaos(target: Target, stackprobe_settings: RunSettings, pytestconfig: pytest.Config,
          fault_injector: Injector) -> Iterator[ChaosRun]:
    known = set(target.services())
    for nodeid, kind, service in pytestconfig.stash.get(PLANNED, []):
        if service not in known:  # before any fault: an unknown name is bad input
            session.stop(pytestconfig, f"stackprobe: refusing {kind} of {service!r} ({nodeid}): it is not a service of "
                                f"project {target.project!r} (it runs: {', '.join(sorted(known)) or 'nothing'}); "
                                f"check [services] and [chaos] in profile {target.profile.source}; nothing was touched")
    backend = Backend(target)
    canary_objects = Canary(target)
    steady = SteadyState(target, canary_objects, backend)
    # the run's injector; while the experiments run, each undo waits for the steady state
    fault_injector.steady = lambda timeout: steady.wait(timeout)
    canary_objects.create()
    run = ChaosRun(target, stackprobe_settings, fault_injector, steady, backend, canary_objects)
    try:
        yield run
    finally:
        fault_injector.steady = None
        canary_objects.drop()


@pytest.fixture
def experiment(chaos: ChaosRun, request: pytest.FixtureRequest, evidence: Any) -> Iterator[ChaosRun]:
    """The steady state must hold before the experiment (else it is aborted, not failed), and is
    checked after it for CHS-08."""
    before = chaos.steady.wait(chaos.cfg.steady_wait_s)
    evidence.record("steady_before", before.as_evidence())
    if not before.holds:
        chaos.aborted.append((request.node.nodeid, isolated_group(request.node)))
        raise ExperimentAborted(f"steady state does not hold before the experiment (waited {before.waited_s:.0f} s, "
                                f"[chaos] steady_wait_s): {before.reason()}; the experiment was not run")
    chaos.injector.last_healed = None
    chaos.data_path_broken = False
    yield chaos
    reported, chaos.data_path_broken = chaos.data_path_broken, False
    left, healed = _backend_data_path_after(chaos, reported)
    # the last fault's undo waited for the steady state already: that check is the one after the
    # experiment (a fresh one when no fault ran, or its report is not a SteadyReport)
    after = chaos.injector.last_healed
    if not isinstance(after, SteadyReport):
        after = chaos.steady.wait(min(chaos.cfg.steady_wait_s, chaos.cfg.heal_timeout_s))
    entry = {"experiment": request.node.nodeid, "group": isolated_group(request.node), **after.as_evidence(),
             **({"backend_data_path": healed} if healed else {})}
    if left:  # a broken data path that the experiment did not judge: CHS-08's finding
        entry["holds"], entry["problems"] = False, [*entry["problems"], left]
    chaos.after.append(entry)


def _backend_data_path_after(chaos: ChaosRun, reported: bool) -> tuple[str, str]:
    """After each experiment the backend's data path must work (within dependency_recovery_s):
    returns (the finding when it does not and the experiment did not report it, e.g. CHS-04
    crashes MySQL and writes through its own connection; what was done about it).

    A backend whose data path did not recover stays broken until it restarts, so it is restarted
    (a stop and its undo, through the run's injector and guard, which waits for the steady
    state): each later experiment then judges its own fault, not this one's. When the
    experiment already waited dependency_recovery_s for it and reported it broken, one more
    try's time is enough before the restart: a second full wait only prolongs the outage."""
    cfg = chaos.cfg
    path = DataPathWatch(chaos.backend, cfg.poll_interval_s, cfg.degraded_latency_s)
    window = cfg.degraded_latency_s if reported else cfg.dependency_recovery_s
    if path.run(deadline=time.monotonic() + window) is not None:
        return "", ("worked again after the experiment (slow, not broken): not restarted" if reported else "")
    left = "" if reported else path.problem(f"the {cfg.dependency_recovery_s:g} s after the experiment")
    backend = chaos.target.profile.services.backend
    try:
        with chaos.injector.stopped(backend):
            pass
    except StackprobeUsageError as refused:  # e.g. a live backend outside destructive_services
        return left, f"still broken, not restarted ({refused}): later experiments meet the broken backend"
    return left, f"still broken after the experiment: restarted {backend}"



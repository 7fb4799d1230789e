"""The chaos suite's test bench: a copy of the reference stack per test module, the suite run
against it as a live target with --allow-destructive (as on a production host), with short
outage windows and one trial, and what "steady" means seen from outside the suite.

The seeded defects (tests/defects/chaos/) are run in batches: defects that break disjoint
controls and services share one suite run, which must fail exactly the union, every failed
check naming its own defect. Backend patches of one batch are mounted side by side
(support/backend_patch.py), so they share the backend. The batches are dealt to SHARDS, one test module each
(tests/e2e/test_chaos_defects_*.py), so they run beside each other on copies of their own.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from stackprobe.faults import RecordStore, UndoRecord
from stackprobe.faults.kinds import QDISC_HANDLE
from support import backend_patch
from support.defect_spec import Defect, batch_ids, batch_owners, batches, cases, load, messages_problems
from support.stacks import REFERENCE_PROFILE, REPO, SUITES, TestStack, started_stack

CONTROLS = {f"CHS-0{n}" for n in range(1, 9)}
DEFECTS_DIR = REPO / "tests" / "defects" / "chaos"
DEFECTS = cases("chaos")
FAULTS_DIR = REPO / ".stackprobe" / "faults"
# short windows and one trial: the defaults (profiles/production.example.toml) are for production;
# the recovery bound stays at the SLO (a MySQL restart beside two other workers took over 10 s);
# polling at 0.1 s, half as many requests: nothing here judges the figures' precision
CHAOS = {"trials": "1", "poll_interval_s": "0.1", "outage_s": "2.0", "writer_crash_after_s": "3.5",
         "steady_wait_s": "20.0",
         "heal_timeout_s": "60.0", "dependency_recovery_s": "30.0", "api_write_on_live": "true",
         "writer_crash_after_writes": "25",
         "writer_after_recovery_writes": "25", "load_after_recovery_s": "2.0"}
DESTRUCTIVE = ["mysql", "redis", "backend"]


def profile_file(tmp_path: Path, chaos_extra: str = "", destructive: list[str] = DESTRUCTIVE) -> Path:
    """The reference profile plus [chaos] (CHAOS, then `chaos_extra` lines `key = value` on top)."""
    chaos = dict(CHAOS)
    for line in chaos_extra.strip().splitlines():
        key, _, value = line.partition("=")
        chaos[key.strip()] = value.strip()
    path = tmp_path / "profile.toml"
    path.write_text(REFERENCE_PROFILE.read_text() + "\n[chaos]\n" + "".join(f"{k} = {v}\n" for k, v in chaos.items())
                    + f"\n[safety]\ndestructive_services = {json.dumps(destructive)}\n")
    return path


@pytest.fixture(scope="module")
def chaos_stack() -> Iterator[TestStack]:
    """A copy of its own for each module that uses it."""
    with started_stack() as stack:
        yield stack


def records_of(stack: TestStack) -> list[UndoRecord]:
    return RecordStore(FAULTS_DIR, "this host", stack.project).records()


def unsteady(stack: TestStack) -> list[str]:
    """What is not steady now, seen from outside the suite (Docker and the host)."""
    target = stack.target
    problems = []
    for name, service in sorted(target.services().items()):
        attrs = service.inspect()
        state = attrs["State"]
        health = (state.get("Health") or {}).get("Status", "none")
        if not state.get("Running") or state.get("Restarting"):
            problems.append(f"{name} stopped ({state.get('Status')})")
            continue
        if state.get("Paused"):
            problems.append(f"{name} paused")
        if health != "healthy":
            problems.append(f"{name} {health}")
        networks = attrs["NetworkSettings"].get("Networks") or {}
        if not networks or any(name not in (n.get("Aliases") or []) for n in networks.values()):
            problems.append(f"{name} disconnected or without its alias: {sorted(networks)}")
        shown = subprocess.run(["nsenter", "-t", str(state["Pid"]), "-n", "tc", "qdisc", "show"],
                               capture_output=True, text=True)
        if QDISC_HANDLE in shown.stdout:
            problems.append(f"{name} slowed: {shown.stdout.strip()}")
    if left := records_of(stack):
        problems.append(f"undo records left: {[r.describe() for r in left]}")
    return problems


def results_of(report_dir: Path) -> dict[str, Any]:
    found = sorted(report_dir.glob("*/results.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(found[-1].read_text()) if found else {}


def messages(results: dict[str, Any], control: str) -> list[str]:
    return [c["message"] for c in results.get("controls", {}).get(control, {}).get("checks", [])
            if c["status"] != "passed"]


def spec_of(defect: Path) -> Defect:
    return load(defect, "chaos")


# Defects that break disjoint controls (and services) share one suite run: the run must fail
# exactly the union of their controls, and every failed check must carry the message of the
# defect whose control it is, so no defect hides behind another's failure.
GROUPS = batches(spec_of(d) for d in DEFECTS)
BATCHES = list(GROUPS)


# two shards of about the same length: the batches are numbered so that alternate ones add up alike
SHARDS = (BATCHES[0::2], BATCHES[1::2])


def shard_test(shard: int) -> Callable[[TestStack, int, Path], None]:
    """The defects test over SHARDS[shard], for the module that runs that shard on its copy."""
    @pytest.mark.needs_docker
    @pytest.mark.slow
    @pytest.mark.parametrize("batch", SHARDS[shard], ids=batch_ids({b: GROUPS[b] for b in SHARDS[shard]}))
    def test_chaos_defects_fail_exactly_their_controls(chaos_stack: TestStack, batch: int, tmp_path: Path) -> None:
        check_batch(chaos_stack, batch, tmp_path)
    return test_chaos_defects_fail_exactly_their_controls


def check_batch(chaos_stack: TestStack, batch: int, tmp_path: Path) -> None:
    """One batch of defects in place, the chaos suite run: exactly their controls fail, each
    naming its own defect, and the copy is steady afterwards."""
    specs = {spec.name: spec for spec in GROUPS[batch]}
    owners = batch_owners(GROUPS[batch])
    patched = backend_patch.patches(list(specs.values()))
    # each other defect recreates its services with its own override: no two may share one
    own = backend_patch.own_overrides(list(specs.values()))
    services = [s for spec, _ in own for s in spec["services"]] + (["backend"] if patched else [])
    assert len(services) == len(set(services)), f"batch {batch}: two defects replace one service: {services}"
    overrides = [override for _, override in own]
    with ExitStack() as undo:
        for spec, override in own:
            undo.enter_context(chaos_stack.defect(override, *spec["services"]))
        if patches := backend_patch.override(patched, tmp_path):  # every backend patch of the batch at once
            overrides.append(patches)
            undo.enter_context(chaos_stack.defect(patches, "backend"))
        run = chaos_stack.run_suite(f"{SUITES}/chaos", report_dir=tmp_path / "reports", overrides=overrides,
                                    extra=["--allow-destructive"],
                                    profile=profile_file(tmp_path, batch_profile(specs)))
    assert set(run.statuses) == CONTROLS, f"not every chaos control ran: {run.statuses}\n{run.tail()}"
    failed = {c for c, s in run.statuses.items() if s != "passed"}
    assert failed == set(owners), (
        f"{', '.join(specs)}: expected exactly {sorted(owners)} to fail, got {sorted(failed)} ({run.statuses})"
        f"\n{run.tail(6000)}")
    for control, name in owners.items():
        found = messages(run.results, control)
        assert found and not messages_problems(specs[name], found), (
            f"{control} failed without naming defect {name}: {messages_problems(specs[name], found)}")
    assert unsteady(chaos_stack) == []


def batch_profile(specs: dict[str, Defect]) -> str:
    """Narrower than the reference run, to stay in the test budget: CHS-01 crashes Redis only, and
    CHS-05 slows the database only in the batch whose defect is about CHS-05; then each defect's
    own [profile] (the [chaos] keys it needs to show, e.g. a longer outage)."""
    freeze = '["pause", "slow"]' if any("CHS-05" in s.fails for s in specs.values()) else '["pause"]'
    lines = ['crash_services = ["redis"]', f"freeze_faults = {freeze}"]
    for spec in specs.values():
        lines += [f"{key} = {json.dumps(value)}" for key, value in (spec.get("profile") or {}).items()]
    return "\n".join(lines)



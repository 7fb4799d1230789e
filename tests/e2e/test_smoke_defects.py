"""Seeded smoke defects: on each, `stackprobe/suites/smoke` fails exactly the controls its defect.toml names.

Every defect is applied to one shared copy of the reference stack and put back afterwards:
a compose override recreates only the services it changes (`services`), a backend defect
mounts a small patch (`defect_patch.py`, loaded by `_patch/sitecustomize.py`) over the real
backend, and a state defect runs compose `commands` and their `undo`. The suite then runs
against the copy as a live target with --allow-destructive (HLT-03/04 stop dependencies).

defect.toml (support.defect_spec): description, fails, messages, and may_fail (controls allowed
to fail as well, with the reason in a comment), services, override, wait (default true),
settle_s, observe_s (CTR-01's window), commands/undo, profile_extra (TOML appended to the
reference profile).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from support.defect_spec import Defect, cases, load, messages_problems
from support.stacks import REFERENCE_PROFILE, SUITES, SuiteRun, TestStack

# Grouped by the services they replace: consecutive defects on the same service replace each
# other directly, without recreating the reference in between (TestStack.defect(defer_reset)).
DEFECTS = sorted(cases("smoke"), key=lambda p: (load(p).get("services", []), p.name))
SMOKE_CONTROLS = {"HLT-01", "HLT-02", "HLT-03", "HLT-04", "MET-01", "MET-02", "MET-03", "CTR-01",
                  "CTR-02", "CTR-03", "DB-01", "DB-02", "DB-03", "RDS-01", "RDS-02", "VEC-01"}

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]


def spec_of(defect: Path) -> Defect:
    return load(defect, "smoke")


@pytest.fixture(scope="module")
def defect_stack(shared_stack: TestStack) -> Iterator[TestStack]:
    """The shared copy; it leaves this module as the reference, whatever the last defect left."""
    yield shared_stack
    shared_stack.flush()


def test_every_smoke_control_has_a_defect() -> None:
    covered = {control for defect in DEFECTS for control in spec_of(defect).fails}
    assert covered == SMOKE_CONTROLS, f"smoke controls without a seeded defect: {SMOKE_CONTROLS - covered}"


@contextmanager
def applied(stack: TestStack, defect: Path, spec: Defect) -> Iterator[list[Path]]:
    """The defect in place on the stack; yields the compose overrides the suite must see."""
    env = {"DEFECT_DIR": str(defect)}
    overrides: list[Path] = []
    with ExitStack() as undo:
        if spec.get("override"):
            override = (defect / spec["override"]).resolve()
            overrides.append(override)
            undo.enter_context(stack.defect(override, *spec["services"], wait=spec.get("wait", True),
                                            env=env, defer_reset=True))
        else:
            stack.flush()  # a state defect starts from the reference services
        for command in spec.get("commands", []):
            undo.callback(lambda: [stack.compose(*c) for c in spec.get("undo", [])])
            stack.compose(*command)
        time.sleep(spec.get("settle_s", 0))
        yield overrides


def check_messages(run: SuiteRun, spec: Defect) -> list[str]:
    controls = run.results.get("controls", {})
    return [check["message"] for control in spec.fails
            for check in controls.get(control, {}).get("checks", []) if check["status"] == "failed"]


@pytest.mark.parametrize("defect", DEFECTS, ids=[d.name for d in DEFECTS])
def test_smoke_defect_fails_exactly_its_controls(defect_stack: TestStack, defect: Path,
                                                 tmp_path: Path) -> None:
    shared_stack = defect_stack
    spec = spec_of(defect)
    # shorter observation windows than production needs keep the matrix fast
    profile = tmp_path / "profile.toml"
    profile.write_text(f"{REFERENCE_PROFILE.read_text()}\n[containers]\nobserve_s = {spec.get('observe_s', 0.0)}\n"
                       f"[health]\noutage_window_s = 12.0\n"
                       # HLT-03/04 stop these on the live copy ([safety] is the one rule for faults)
                       '[safety]\ndestructive_services = ["mysql", "redis"]\n'
                       f"{spec.get('profile_extra', '')}")
    with applied(shared_stack, defect, spec) as overrides:
        run = shared_stack.run_suite(f"{SUITES}/smoke", report_dir=tmp_path / "reports", overrides=overrides,
                                     extra=["--allow-destructive"], profile=profile,
                                     env={"DEFECT_DIR": str(defect)})
    expected, allowed = set(spec.fails), set(spec.fails) | set(spec.get("may_fail", []))
    assert set(run.statuses) == SMOKE_CONTROLS, f"not every smoke control ran: {run.statuses}\n{run.tail()}"
    failed = run.failed()
    assert expected <= failed <= allowed, (
        f"{defect.name} ({spec.description}): expected {sorted(expected)} to fail"
        f"{f' (allowed also {sorted(allowed - expected)})' if allowed != expected else ''}, "
        f"failed {sorted(failed)}\n{run.tail()}")
    messages = check_messages(run, spec)
    assert not messages_problems(spec, messages), (
        f"the failures do not name the defect ({messages_problems(spec, messages)}): {messages}")

"""Seeded smoke defects: on each, `stackprobe/suites/smoke` fails exactly the controls its defect.toml names.

Every defect is applied to one shared copy of the reference stack and put back afterwards:
a compose override recreates only the services it changes (`services`), a backend defect
mounts a small patch (`defect_patch.py`, loaded by `_patch/sitecustomize.py`) over the real
backend, and a state defect runs compose `commands` and their `undo`. The suite then runs
against the copy as a live target with --allow-destructive (HLT-03/04 stop dependencies).

Defects run in batches (`batch`), as the chaos defects do: the defects of a batch fail disjoint
controls and are applied together (their overrides merged by compose, their backend patches
mounted side by side), and the one suite run must fail exactly the union of their controls,
each failing control naming its own defect, so no defect hides behind another's failure. Five
suite runs judge the eighteen defects, where one run each recreated the backend eighteen times.

defect.toml (support.defect_spec): description, fails, messages, and may_fail (controls allowed
to fail as well, with the reason in a comment), batch, services, override, wait (default true),
settle_s, observe_s (CTR-01's window), commands/undo, profile_extra (TOML appended to the
reference profile).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from support import backend_patch
from support.defect_spec import Defect, batch_ids, batch_owners, batches, cases, load, messages_problems
from support.stacks import REFERENCE_PROFILE, SUITES, SuiteRun, TestStack

DEFECTS = cases("smoke")
SMOKE_CONTROLS = {"HLT-01", "HLT-02", "HLT-03", "HLT-04", "MET-01", "MET-02", "MET-03", "CTR-01",
                  "CTR-02", "CTR-03", "DB-01", "DB-02", "DB-03", "RDS-01", "RDS-02", "VEC-01"}


def spec_of(defect: Path) -> Defect:
    return load(defect, "smoke")


GROUPS = batches(spec_of(d) for d in DEFECTS)
BATCHES = list(GROUPS)


def batch_specs(batch: int) -> list[Defect]:
    return GROUPS[batch]


@pytest.fixture(scope="module")
def defect_stack(shared_stack: TestStack) -> Iterator[TestStack]:
    """The shared copy; it leaves this module as the reference, whatever the last batch left."""
    yield shared_stack
    shared_stack.flush()


def test_every_smoke_control_has_a_defect() -> None:
    covered = {control for defect in DEFECTS for control in spec_of(defect).fails}
    assert covered == SMOKE_CONTROLS, f"smoke controls without a seeded defect: {SMOKE_CONTROLS - covered}"


@pytest.mark.parametrize("batch", BATCHES, ids=batch_ids(GROUPS))
def test_a_batchs_defects_can_share_one_run(batch: int) -> None:
    """In one batch each control is one defect's to fail (or allowed to), at most one defect adds
    to the profile, and every state defect can be put back (the next batch starts clean)."""
    specs = batch_specs(batch)
    batch_owners(specs, "may_fail")
    assert sum(bool(spec.get("profile_extra")) for spec in specs) <= 1, f"batch {batch}: two profile_extra"
    assert all(spec.get("undo") for spec in specs if spec.get("commands")), f"batch {batch}: a command without undo"


def test_every_patch_of_a_batch_applies_even_to_one_module(tmp_path: Path) -> None:
    """The loader imports each mounted `defect_patch*`, and two patches of one module both take:
    a batch whose backend loaded only one patch would pass a defect it never applied."""
    import shutil
    import subprocess
    import sys

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "health.py").write_text("def check():\n    return []\n")
    mount = tmp_path / "defect"
    mount.mkdir()
    shutil.copy(backend_patch.LOADER, mount / "sitecustomize.py")
    for name in ("a", "b"):
        (mount / f"defect_patch_{name}.py").write_text(
            "from sitecustomize import after_import\n\n\ndef patch(health):\n    original = health.check\n"
            f"    health.check = lambda: [*original(), {name!r}]\n\n\nafter_import('app.health', patch)\n")
    done = subprocess.run([sys.executable, "-c", "import app.health; print(app.health.check())"],
                          env={"PYTHONPATH": f"{mount}:{tmp_path}"}, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "['a', 'b']", done.stderr


@contextmanager
def applied(stack: TestStack, specs: list[Defect], tmp_path: Path) -> Iterator[list[Path]]:
    """The batch's defects in place on the stack; yields the compose overrides the suite must see."""
    overrides = [override for _, override in backend_patch.own_overrides(specs)]
    if patches := backend_patch.override(specs, tmp_path):
        overrides.append(patches)
    waited = sorted({s for spec in specs if spec.get("wait", True) for s in spec.get("services", [])})
    unwaited = sorted({s for spec in specs if not spec.get("wait", True) for s in spec.get("services", [])})
    with ExitStack() as undo:
        if overrides:
            undo.enter_context(stack.defect(overrides, *waited, unwaited=unwaited, defer_reset=True))
        else:
            stack.flush()  # state defects start from the reference services
        for spec in specs:
            for command in spec.get("commands", []):
                undo.callback(lambda spec=spec: [stack.compose(*c) for c in spec.get("undo", [])])
                stack.compose(*command)
        time.sleep(max(spec.get("settle_s", 0) for spec in specs))
        yield overrides


def check_messages(run: SuiteRun, spec: Defect) -> list[str]:
    controls = run.results.get("controls", {})
    return [check["message"] for control in spec.fails
            for check in controls.get(control, {}).get("checks", []) if check["status"] == "failed"]


@pytest.mark.needs_docker
@pytest.mark.slow
@pytest.mark.parametrize("batch", BATCHES, ids=batch_ids(GROUPS))
def test_smoke_defects_fail_exactly_their_controls(defect_stack: TestStack, batch: int, tmp_path: Path) -> None:
    specs = batch_specs(batch)
    # shorter observation windows than production needs keep the matrix fast
    profile = tmp_path / "profile.toml"
    profile.write_text(f"{REFERENCE_PROFILE.read_text()}\n[containers]\n"
                       f"observe_s = {max(spec.get('observe_s', 0.0) for spec in specs)}\n"
                       f"[health]\noutage_window_s = 12.0\n"
                       # HLT-03/04 stop these on the live copy ([safety] is the one rule for faults)
                       '[safety]\ndestructive_services = ["mysql", "redis"]\n'
                       + "".join(spec.get("profile_extra", "") for spec in specs))
    with applied(defect_stack, specs, tmp_path) as overrides:
        run = defect_stack.run_suite(f"{SUITES}/smoke", report_dir=tmp_path / "reports", overrides=overrides,
                                     extra=["--allow-destructive"], profile=profile)
    expected = {c for spec in specs for c in spec.fails}
    allowed = expected | {c for spec in specs for c in spec.get("may_fail", [])}
    assert set(run.statuses) == SMOKE_CONTROLS, f"not every smoke control ran: {run.statuses}\n{run.tail()}"
    failed = run.failed()
    assert expected <= failed <= allowed, (
        f"{'; '.join(f'{s.name} ({s.description})' for s in specs)}: expected {sorted(expected)} to fail"
        f"{f' (allowed also {sorted(allowed - expected)})' if allowed != expected else ''}, "
        f"failed {sorted(failed)}\n{run.tail()}")
    for spec in specs:
        messages = check_messages(run, spec)
        assert not messages_problems(spec, messages), (
            f"{spec.name}: the failures do not name the defect ({messages_problems(spec, messages)}): {messages}")

"""The deploy suite, proved: the reference stack passes DEP-01..03 as the ephemeral gate runs them,
the live mode is read-only, and every seeded defect under tests/defects/deploy/ fails exactly its
control.

A defect is a patch (`changes.patch`, applied by support.defects) to the reference's deploy.sh or
to a migration file (`defect.toml`, support.defect_spec: description, fails, messages, original, catches, optional
mount), selected through a profile
written for the run: a changed deploy.sh becomes `[deploy] command`, in a copy of the layout it
expects (stack/scripts/, next to the real backup.sh); a changed migration file is mounted over the
original by `[stack] migrate_command`. A defect run runs the suite's checks that use the changed
input (the deploy command: DEP-01 and DEP-02's update; the migrate command: DEP-02's schema check
and DEP-03), minus the failing control's other checks, which cannot turn a failed control back
into a pass; the reference run covers the rest. That keeps the matrix inside the time budget.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import pytest
from support.defect_spec import Defect, cases, load, messages_problems
from support.defects import changed_lines, materialize, patched_paths
from support.stacks import BASE_COMPOSE, FAST_HEALTH, REFERENCE_PROFILE, REPO, SuiteRun, TestStack, run_pytest

from stackprobe.profile import load_profile
from stackprobe.targets.isolation import state_root

DEFECTS = REPO / "tests" / "defects" / "deploy"
CASES = cases("deploy")
SUITE = REPO / "src" / "stackprobe" / "suites" / "deploy"
SCRIPT_CHECKS = SUITE / "test_deploy_script.py"  # the deploy command's checks
MIGRATION_CHECKS = SUITE / "test_migrations.py"  # the migrate/current/heads commands' checks
CONTROLS = {"DEP-01", "DEP-02", "DEP-03"}


def spec_of(case: Path) -> Defect:
    return load(case, "deploy")


def changed_file(case: Path, spec: Defect, into: Path) -> Path:
    """The defect's version of its original: the reference file with the defect's patch applied."""
    assert patched_paths(case) == [spec["original"]], f"{case.name}: its patch must change {spec['original']} only"
    return materialize(case, into) / spec["original"]


def checks_in(path: Path) -> dict[str, str]:
    """test function name -> control, read from the suite module's markers."""
    module_spec = importlib.util.spec_from_file_location(f"_deploy_suite_{path.stem}", path)
    assert module_spec and module_spec.loader
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    found = {}
    for name, function in vars(module).items():
        if name.startswith("test_"):
            marks = [m for m in getattr(function, "pytestmark", []) if m.name == "control"]
            found[name] = str(marks[0].args[0])
    return found


def gate(*paths: Path, profile: Path, report_dir: Path, extra: list[str] | None = None) -> SuiteRun:
    """The suite as the pre-release gate runs it: an ephemeral target, here with fast healthchecks."""
    return run_pytest(*(str(p) for p in paths), "--target", "ephemeral", "--profile", str(profile),
                      "--compose-file", str(BASE_COMPOSE), "--compose-file", str(FAST_HEALTH), *(extra or []),
                      report_dir=report_dir, timeout=900)


def checks_of(run: SuiteRun) -> list[dict[str, Any]]:
    return [check for control in run.results.get("controls", {}).values() for check in control.get("checks", [])]


def defect_run_inputs(case: Path, spec: Defect, tmp_path: Path) -> tuple[Path, Path]:
    """A profile selecting the defect, and the suite file whose checks use the changed input."""
    text = REFERENCE_PROFILE.read_text()
    if spec.get("mount"):
        base = load_profile(REFERENCE_PROFILE).stack.migrate_command
        at = base.index("{backend}")
        changed = changed_file(case, spec, tmp_path / "defect")
        migrate = [*base[:at], "-v", f"{changed}:{spec['mount']}:ro", *base[at:]]
        assert "\n[stack]\n" in text
        text = text.replace("\n[stack]\n", f"\n[stack]\nmigrate_command = {json.dumps(migrate)}\n", 1)
        checks = MIGRATION_CHECKS
    else:
        scripts = changed_file(case, spec, tmp_path / "deployment").parent  # keeps the original's mode
        (scripts / "backup.sh").symlink_to(REPO / "stack" / "scripts" / "backup.sh")
        text += f"\n[deploy]\ncommand = {json.dumps([str(scripts / 'deploy.sh')])}\n"
        checks = SCRIPT_CHECKS
    profile = tmp_path / "profile.toml"
    profile.write_text(text)
    return profile, checks


# --- no Docker -----------------------------------------------------------------------------------
def test_every_defect_is_a_small_described_change_of_its_original() -> None:
    assert {c.name for c in CASES} >= {"clean_unconfirmed", "init_not_rerunnable", "update_recreates_volumes",
                                       "migration_repeats"}
    script_checks, migration_checks = checks_in(SCRIPT_CHECKS), checks_in(MIGRATION_CHECKS)
    for case in CASES:
        spec = spec_of(case)
        assert set(spec.fails) <= CONTROLS, case.name
        known = migration_checks if spec.get("mount") else script_checks
        assert all(known.get(name) in spec.fails for name in spec["catches"]), case.name
        with tempfile.TemporaryDirectory() as scratch:  # the patch still applies to the current original
            changed_file(case, spec, Path(scratch))
        diff = changed_lines(case)
        assert 0 < len(diff) <= 12, f"{case.name}: {len(diff)} changed lines against {spec['original']}"
        assert any("DEFECT" in line for line in diff), f"{case.name}: mark the change with a DEFECT comment"


# --- Docker --------------------------------------------------------------------------------------
@pytest.mark.needs_docker
@pytest.mark.slow
def test_reference_passes_every_deploy_control_as_the_gate(tmp_path: Path) -> None:
    run = gate(SUITE, profile=REFERENCE_PROFILE, report_dir=tmp_path)
    assert run.returncode == 0, run.tail()
    assert run.statuses == dict.fromkeys(sorted(CONTROLS), "passed"), run.tail()
    name = "::test_update_flow_keeps_data_and_comes_back_within_slo"
    update = [c for c in checks_of(run) if c["nodeid"].endswith(name)]
    assert len(update) == 1
    evidence = update[0]["evidence"]
    assert isinstance(evidence["downtime_s"], float) and 0 < evidence["downtime_s"] <= 120, evidence["downtime_s"]
    traffic = evidence["read_traffic"]
    assert traffic["failed"] > 0 and traffic["ok"] > 0 and traffic["sent"] <= 3000, traffic
    # the throwaway project is gone: containers, volumes, the image built under its own tag, its env file
    project = evidence["project"]
    client = docker.from_env()
    label = {"label": f"com.docker.compose.project={project}"}
    assert not client.containers.list(all=True, filters=label) and not client.volumes.list(filters=label)
    assert not [t for i in client.images.list() for t in i.tags if t.startswith(f"{project}-")]
    assert not (state_root() / project).exists()


@pytest.mark.needs_docker
def test_live_target_is_read_only(shared_stack: TestStack, tmp_path: Path) -> None:
    run = shared_stack.run_suite(str(SUITE), report_dir=tmp_path)
    assert run.returncode == 0, run.tail()
    assert run.statuses == {"DEP-01": "skipped", "DEP-02": "passed", "DEP-03": "passed"}, run.tail()
    dep03 = [c for c in checks_of(run) if c["control"] == "DEP-03"]
    assert dep03 and "read-only" in json.dumps(dep03[0]["evidence"])


def defect_run(case: Path, work: Path) -> SuiteRun:
    """The gate on one defect: its profile, the suite file that uses the changed input, minus
    the failing control's checks that do not catch it."""
    spec = spec_of(case)
    profile, checks = defect_run_inputs(case, spec, work)
    skip = [f"{checks.relative_to(REPO)}::{name}" for name, control in checks_in(checks).items()
            if control in spec.fails and name not in spec["catches"]]
    return gate(checks, profile=profile, report_dir=work / "reports",
                extra=[arg for name in skip for arg in ("--deselect", name)])


# Each defect run drives its own throwaway projects and waits mostly on their start-ups, so two
# run at once (2 cores); DEP-02's downtime SLO (120 s) leaves room for the shared machine.
DEFECT_RUNS_AT_ONCE = 2


@pytest.fixture(scope="module")
def defect_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[SuiteRun]]]:
    with ThreadPoolExecutor(max_workers=DEFECT_RUNS_AT_ONCE, thread_name_prefix="deploy-defect") as pool:
        yield {case.name: pool.submit(defect_run, case, tmp_path_factory.mktemp(case.name)) for case in CASES}


@pytest.mark.needs_docker
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_defect_fails_exactly_its_control(case: Path, defect_runs: dict[str, Future[SuiteRun]]) -> None:
    spec = spec_of(case)
    checks = MIGRATION_CHECKS if spec.get("mount") else SCRIPT_CHECKS
    run = defect_runs[case.name].result(timeout=1800)
    ran = set(checks_in(checks).values())
    assert run.returncode == 1, run.tail()
    assert run.failed() == set(spec.fails), run.tail()
    assert {c: s for c, s in run.statuses.items() if c not in spec.fails} == dict.fromkeys(
        sorted(ran - set(spec.fails)), "passed"), run.tail()
    messages = [c["message"] for c in checks_of(run) if c["status"] == "failed"]
    assert len(messages) == len(spec["catches"]), messages
    assert not messages_problems(spec, messages), (messages_problems(spec, messages), messages)
    # a failing run tears its own copy down like a passing one (the deploy script's checks start
    # no copy of their own: they drive the throwaway project only)
    own = run.results["run"]["target"].get("project")
    if own:
        label = {"label": f"com.docker.compose.project={own}"}
        client = docker.from_env()
        assert not client.containers.list(all=True, filters=label) and not client.volumes.list(filters=label), own

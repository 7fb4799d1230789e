"""Two `--parallel` gates started at once on one engine both pass: every part of each on a copy
of its own (unique projects, ports and state directories), nothing shared between the runs, and
nothing left afterwards.

A slice of the gate (checks of each part: the shared copy's health, database and an outage put
back, CHS-08's steady state on the isolated part's copy, the file checks and the deploy suite's
help) keeps it within the project's
time budget; the full gate's two-at-once figure is in bench/README.md.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import pytest
from support.stacks import BASE_COMPOSE, FAST_HEALTH, REFERENCE_PROFILE, SUITES, SuiteRun, run_pytest

from stackprobe.targets.leftovers import containers, labels_of

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]

# no latency budget in the slice: six copies' starts on two cores would judge the machine, not the gate
SLICE = ("test_dependencies_healthy_and_timestamp_aware or test_mysql_reachable_version_charset or "
         "test_health_fails_when_dependency_down or test_steady_after_every_experiment and faults or "
         "test_help_lists_every_documented_subcommand or test_config_files")


def _gate(report_dir: Path) -> SuiteRun:
    return run_pytest(SUITES, "--target", "ephemeral", "--profile", str(REFERENCE_PROFILE), "--parallel",
                      "--compose-file", str(BASE_COMPOSE), "--compose-file", str(FAST_HEALTH), "-k", SLICE,
                      report_dir=report_dir, timeout=600)


def _projects(client: docker.DockerClient) -> set[str]:
    label = "com.docker.compose.project"
    return {labels_of(c).get(label, "") for c in containers(client, label)}


@pytest.mark.alone  # it counts every compose project on the engine
def test_two_parallel_gates_at_once_both_pass(tmp_path: Path) -> None:
    client = docker.from_env()
    before = _projects(client)
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(_gate, [tmp_path / "a", tmp_path / "b"])
    for run in (first, second):
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert set(run.statuses.values()) == {"passed"}, run.statuses
        assert {"HLT-02", "DB-01", "HLT-03", "CHS-08", "SEC-01", "DEP-01"} <= set(run.statuses), run.statuses
    copies = [part["target"] for run in (first, second) for part in run.results["run"]["parts"] if part["target"]]
    assert len(copies) == 4, copies  # the shared and the isolated part's copy of each run
    projects = {copy["project"] for copy in copies}
    assert len(projects) == 4, copies
    state_dirs = {str(Path(copy["env_files"][0]).parent) for copy in copies}
    assert len(state_dirs) == 4, copies
    assert first.results["run"]["parts"] != second.results["run"]["parts"]
    assert _projects(client) - before == set(), "a copy was left behind"

"""The logs suite proven on a stack copy: all of LOG-01..06 pass on the reference, and each
seeded defect under tests/defects/logs/ fails exactly its control(s).

One copy (LOG_MAX_BYTES=16384, LOG_BACKUP_COUNT=3) serves every case; a case recreates only
the services its defect changes (the backend's log files are cleared whenever the backend is
swapped, so one handler's files never judge another's), and the suite runs against the copy
as a live target with --allow-destructive, as on a production host.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.defect_spec import Defect, cases, load, messages_problems
from support.defects import PATCH, materialize, rendered_override
from support.stacks import REFERENCE_PROFILE, SUITES, SuiteRun, TestStack, started_stack

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]

CASES = cases("logs")
CONTROLS = {"LOG-01", "LOG-02", "LOG-03", "LOG-04", "LOG-05", "LOG-06"}
STACK_ENV = {"LOG_MAX_BYTES": "16384", "LOG_BACKUP_COUNT": "3"}
SWAPPABLE = ("backend", "redis")


def _spec(case: Path) -> Defect:
    return load(case, "logs")


@pytest.fixture(scope="module")
def logs_stack() -> Iterator[TestStack]:
    with started_stack(env=STACK_ENV) as stack:
        stack.swapped = {}  # type: ignore[attr-defined]  # service -> override in effect
        yield stack


def _use(stack: TestStack, wanted: dict[str, Path | None]) -> None:
    """Recreate the services whose override differs from what runs now (None: reference)."""
    swapped: dict[str, Path | None] = stack.swapped  # type: ignore[attr-defined]
    for service in SWAPPABLE:
        override = wanted.get(service)
        if swapped.get(service) == override:
            continue
        if service == "backend":  # stopped first: a stopping backend still logs its shutdown
            stack.compose("stop", "-t", "5", "backend")
            stack.compose("run", "--rm", "--no-deps", "-T", "--entrypoint", "sh", "backend", "-c",
                          "rm -f /app/logs/app.log*")
        if override is None:
            stack.reset(service)
        else:
            stack.apply(override, service)
        swapped[service] = override


def _profile(tmp_path: Path, logs: dict[str, Any]) -> Path:
    """The reference profile; the marker request waits 3 s at most; plus the case's [logs] keys."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in {"appear_within_s": 3.0, **logs}.items()]
    text = REFERENCE_PROFILE.read_text()
    text = text.replace("[logs]\n", "[logs]\n" + "\n".join(lines) + "\n", 1) if "[logs]\n" in text else (
        text + "\n[logs]\n" + "\n".join(lines) + "\n")
    path = tmp_path / "profile.toml"
    path.write_text(text)
    return path


def _run(stack: TestStack, tmp_path: Path, overrides: list[Path], logs: dict[str, Any],
         destructive: bool = True) -> SuiteRun:
    return stack.run_suite(f"{SUITES}/logs", report_dir=tmp_path / "reports",
                           extra=["--allow-destructive"] if destructive else [],
                           overrides=overrides, profile=_profile(tmp_path, logs), timeout=300)


def _checks(run: SuiteRun, control: str) -> list[dict[str, Any]]:
    return list(run.results["controls"][control]["checks"])


def test_logs_suite_passes_on_reference(logs_stack: TestStack, tmp_path: Path) -> None:
    _use(logs_stack, {})
    run = _run(logs_stack, tmp_path, [], {})
    assert run.statuses == dict.fromkeys(sorted(CONTROLS), "passed"), run.tail()
    (check,) = _checks(run, "LOG-03")
    ids = check["evidence"]["ids"]
    assert ids["lost_from_middle"] == 0 and ids["duplicated"] == 0 and ids["retained_ids"] > 0, ids
    assert ids["written_to_an_older_file"] == 0, ids
    print("reference LOG-02/03:", json.dumps(check["evidence"]["experiment"]["traffic"]), json.dumps(ids))


@pytest.mark.parametrize(("destructive", "logs", "reason"), [
    (False, {}, "live targets need --allow-destructive"),
    (True, {"traffic_max_requests": 100}, "over [logs] traffic_max_requests=100"),
], ids=["not-allowed", "over-bound"])
def test_rotation_experiment_skips_on_live_unless_allowed_and_bounded(
        logs_stack: TestStack, tmp_path: Path, destructive: bool, logs: dict[str, Any], reason: str) -> None:
    _use(logs_stack, {})
    run = _run(logs_stack, tmp_path, [], logs, destructive=destructive)
    assert run.statuses == {**dict.fromkeys(sorted(CONTROLS), "passed"), "LOG-02": "skipped",
                            "LOG-03": "skipped"}, run.tail()
    for control in ("LOG-02", "LOG-03"):
        (check,) = _checks(run, control)
        assert reason in check["message"], check["message"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_defect_fails_exactly_its_control(logs_stack: TestStack, tmp_path: Path, case: Path) -> None:
    spec = _spec(case)
    # the defect's changed files: reference files with its patch applied (support.defects)
    files = materialize(case, tmp_path / "defect") if (case / PATCH).is_file() else tmp_path / "defect"
    override = case / "compose.override.yml"
    if override.is_file():
        override = rendered_override(case, files)
    _use(logs_stack, {service: override for service in spec["recreate"]})
    visible = [override] if override.is_file() and spec.get("compose_visible", True) else []
    logs = {key: value.format(defect_files=files) if isinstance(value, str) else value
            for key, value in spec.get("profile", {}).items()}
    run = _run(logs_stack, tmp_path, visible, logs)
    expected = set(spec.fails)
    assert set(run.statuses) == CONTROLS, run.tail()
    assert run.failed() == expected, f"{run.statuses}\n{run.tail()}"
    assert all(s == "passed" for c, s in run.statuses.items() if c not in expected), run.statuses
    for control in expected:
        messages = [c["message"] for c in _checks(run, control)]
        assert not messages_problems(spec, messages), messages
    if case.name == "racy_rotating_handler":
        (check,) = _checks(run, "LOG-03")
        ids = check["evidence"]["ids"]
        assert ids["lost_from_middle"] + ids["duplicated"] + ids["written_to_an_older_file"] > 0, ids
        print("racy handler LOG-03:", json.dumps(check["evidence"]["experiment"]["traffic"]), json.dumps(ids))
    if case.name == "unbounded_docker_logs":
        statuses = {c["nodeid"].rsplit("::", 1)[-1]: c["status"] for c in _checks(run, "LOG-06")}
        assert statuses == {"test_log_driver_bounded": "passed", "test_log_driver_bounded_in_effect": "failed"}

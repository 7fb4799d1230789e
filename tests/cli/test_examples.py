"""examples/: the CI jobs and the systemd units parse, and every stackprobe command they run exists
and takes the options they give it (parsed by the command's own parser, and listed by its --help)."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.stacks import REPO

from stackprobe.cli import parser

from .test_cli import STACKPROBE, stackprobe

EXAMPLES = REPO / "examples"
INSTALLED_AT = "/opt/stackprobe/bin/stackprobe"  # where the systemd example installs the command


def _stackprobe_commands(lines: list[str]) -> list[list[str]]:
    """Every stackprobe invocation in shell lines, as argv after the program name."""
    found = []
    for line in lines:
        for part in re.split(r"&&|;|\|\|", line):
            argv = shlex.split(part)
            if argv and Path(argv[0]).name == "stackprobe":
                found.append(argv[1:])
    return found


def _assert_runs(argv: list[str], tmp_path: Path) -> None:
    top, _ = parser()
    top.parse_args(argv)  # a wrong option would exit 4 here
    helped = stackprobe(argv[0], "--help", cwd=tmp_path)
    assert helped.returncode == 0
    for option in (a.split("=")[0] for a in argv[1:] if a.startswith("--")):
        assert option in helped.stdout, f"{option} not in stackprobe {argv[0]} --help"


def test_github_workflow_runs_the_gate_on_every_push(tmp_path: Path) -> None:
    workflow: dict[Any, Any] = yaml.safe_load((EXAMPLES / "github" / "stackprobe.yml").read_text())
    assert workflow[True] == "push"  # YAML 1.1 reads the key `on` as true
    steps = workflow["jobs"]["gate"]["steps"]
    commands = _stackprobe_commands([s["run"] for s in steps if "run" in s])
    assert commands and all(c[0] == "run" and "--report-dir" in c for c in commands)
    for argv in commands:
        _assert_runs(argv, tmp_path)
    uses = {s.get("uses", "").split("@")[0]: s for s in steps}
    assert uses["actions/upload-artifact"]["with"]["path"] == "reports/"
    assert uses["actions/upload-artifact"]["if"] == "always()"
    assert uses["mikepenz/action-junit-report"]["with"]["report_paths"] == "reports/*/junit.xml"


def test_gitlab_job_runs_the_gate_on_every_push(tmp_path: Path) -> None:
    pipeline = yaml.safe_load((EXAMPLES / "gitlab" / "stackprobe.gitlab-ci.yml").read_text())
    job = pipeline["stackprobe-gate"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "push"'}]
    commands = _stackprobe_commands(job["script"])
    assert commands and all(c[0] == "run" for c in commands)
    for argv in commands:
        _assert_runs(argv, tmp_path)
    assert job["artifacts"]["when"] == "always" and "reports/" in job["artifacts"]["paths"]
    assert job["artifacts"]["reports"]["junit"] == "reports/*/junit.xml"


def _unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(path.read_text())
    return unit


def test_systemd_units_run_the_nightly_read_only_set_and_keep_reports_n_days(tmp_path: Path) -> None:
    service = _unit(EXAMPLES / "systemd" / "stackprobe-nightly.service")["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == INSTALLED_AT
    _assert_runs(argv[1:], tmp_path)
    assert {"--nightly", "--target"} <= set(argv) and argv[argv.index("--target") + 1] == "live"
    assert "--allow-destructive" not in argv
    cleanup = shlex.split(service["ExecStopPost"])
    assert cleanup[0] == "/usr/bin/find" and "-mtime" in cleanup and service["Environment"] == "KEEP_DAYS=30"
    assert cleanup[1] == argv[argv.index("--report-dir") + 1]  # prunes where the runs write
    timer = _unit(EXAMPLES / "systemd" / "stackprobe-nightly.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Install"]["WantedBy"] == "timers.target"


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is not installed: tools/setup.sh (step tools) installs it")
    # verify checks that ExecStart's program exists: point it at this environment's stackprobe
    for unit in (EXAMPLES / "systemd").iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED_AT, STACKPROBE))
    done = subprocess.run([analyze, "verify", *(str(p) for p in sorted(tmp_path.iterdir()))],
                          capture_output=True, text=True, timeout=60)
    problems = [line for line in done.stderr.splitlines() if "stackprobe-nightly" in line]
    assert done.returncode == 0 and not problems, done.stderr

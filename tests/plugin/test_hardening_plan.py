"""The hardening suite in nightly runs: every HRD control is selected by --nightly (read-only both
ways) and listed by --dry-run, which touches no Docker engine."""

from __future__ import annotations

import json
from pathlib import Path

from support.stacks import SUITES, run_pytest

from plugin.test_dry_run import Listener

HRD = [f"HRD-{n:02d}" for n in range(1, 11)]


def test_nightly_dry_run_lists_every_hrd_control_read_only(tmp_path: Path) -> None:
    docker = Listener()
    try:
        run = run_pytest(f"{SUITES}/hardening", "--dry-run", "--nightly", "--target", "live", "--project-name", "prod",
                         "--env-file", "/nonexistent/.env", report_dir=tmp_path / "r",
                         env={"DOCKER_HOST": f"tcp://127.0.0.1:{docker.port}"})
    finally:
        docker.close()
    assert run.returncode == 0, run.tail()
    assert docker.connections == 0
    assert "selection: nightly only" in run.stdout
    assert "writes: 0 checks (read-only run)" in run.stdout
    for control in HRD:
        lines = [line for line in run.stdout.splitlines() if control in line]
        assert len(lines) >= 2, (control, run.stdout[-3000:])  # the file check and the in-effect check
    (run_dir,) = [p for p in (tmp_path / "r").iterdir() if not p.is_symlink()]
    plan = json.loads((run_dir / "plan.json").read_text())
    assert set(HRD) <= set(plan["controls"])


def test_nightly_selection_keeps_every_hardening_check(tmp_path: Path) -> None:
    every = run_pytest(f"{SUITES}/hardening", "--collect-only", "-q", report_dir=tmp_path / "a")
    nightly = run_pytest(f"{SUITES}/hardening", "--collect-only", "-q", "-m", "nightly", report_dir=tmp_path / "b")
    assert every.returncode == 0 and nightly.returncode == 0, (every.tail(), nightly.tail())
    ids = [line for line in every.stdout.splitlines() if "::" in line]
    assert len(ids) == 20, ids
    assert [line for line in nightly.stdout.splitlines() if "::" in line] == ids

"""The chaos suite's refusals at collection (no Docker needed: nothing is touched before them),
its plan in --dry-run, and the "aborted" status through the plugin's reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.stacks import SUITES

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "STACKPROBE_"))}
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # proof: nothing may reach an engine
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, "--report-dir=none"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_live_chaos_without_allow_destructive_is_refused() -> None:
    done = run(f"{SUITES}/chaos", "--target", "live", "--project-name", "prod")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if "refusing" in line]
    assert len(lines) == 1, done.stderr
    assert "refusing the chaos suite on live project 'prod' (this host)" in lines[0]
    assert "need --allow-destructive" in lines[0] and "nothing was touched" in lines[0]


def test_service_the_profile_does_not_allow_is_refused(tmp_path: Path) -> None:
    profile = tmp_path / "prod.toml"
    profile.write_text('[safety]\ndestructive_services = ["redis"]\n')
    done = run(f"{SUITES}/chaos", "--target", "live", "--project-name", "prod", "--allow-destructive",
               "--profile", str(profile), "-k", "database_down")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert (f"refusing stop of 'mysql' on live project 'prod' (this host): it is not in [safety] "
            f"destructive_services of profile {profile} (allowed: redis)") in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_allowed_service_passes_collection(tmp_path: Path) -> None:
    profile = tmp_path / "prod.toml"
    profile.write_text('[safety]\ndestructive_services = ["redis"]\n')
    done = run(f"{SUITES}/chaos", "--target", "live", "--project-name", "prod", "--allow-destructive",
               "--profile", str(profile), "-k", "cache_down", "--collect-only", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_cache_down_health_prompt_and_backend_recovers" in done.stdout


def test_dry_run_shows_every_fault_and_touches_nothing() -> None:
    done = run(f"{SUITES}/chaos", "--target", "live", "--project-name", "prod", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    for fault in ("crash:mysql", "crash:redis", "crash:backend", "stop:mysql", "stop:redis", "pause:mysql",
                  "slow:mysql", "partition:mysql"):
        assert fault in done.stdout, fault
    assert "would skip 11 checks" in done.stdout  # every experiment; CHS-08 itself injects nothing


ABORTING = textwrap.dedent("""
    import pytest
    from stackprobe.errors import ExperimentAborted

    @pytest.fixture
    def experiment():
        raise ExperimentAborted("steady state does not hold before the experiment: redis: paused")

    @pytest.mark.control("CHS-03")
    def test_aborted(experiment):
        pass

    @pytest.mark.control("CHS-08")
    def test_fine():
        pass
""")


def test_aborted_experiment_reaches_terminal_results_and_page(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_abort=ABORTING)
    result = pytester.runpytest_subprocess(f"--report-dir={pytester.path / 'reports'}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # an experiment that could not run is not a pass
    out = result.stdout.str()
    assert "1 passed" in out and "1 aborted in" in out
    assert "ABORTED CHS-03" in out and "redis: paused" in out
    (results,) = (p for p in (pytester.path / "reports").glob("*/results.json") if p.parent.name != "latest")
    summary = json.loads(results.read_text())
    assert summary["controls"]["CHS-03"]["status"] == "aborted"
    assert "redis: paused" in summary["controls"]["CHS-03"]["checks"][0]["message"]
    assert summary["totals"] == {"aborted": 1, "passed": 1}
    page = next((pytester.path / "reports").glob("*/controls.html")).read_text()
    assert 'data-control="CHS-03" data-status="aborted"' in page


def test_chaos_runs_after_every_other_suite() -> None:
    done = run(f"{SUITES}/chaos", f"{SUITES}/smoke", f"{SUITES}/config", "--collect-only", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    first_chaos = next(n for n, line in enumerate(ids) if line.startswith(f"{SUITES}/chaos/"))
    assert all(line.startswith(f"{SUITES}/chaos/") for line in ids[first_chaos:]), ids
    # CHS-08 last, once per group of experiments (each group may run on a copy of its own)
    assert [i.rpartition("::")[2] for i in ids[first_chaos:][-2:]] == [
        "test_steady_after_every_experiment[faults]", "test_steady_after_every_experiment[recovery]"]

"""The smoke suite end to end: ephemeral, live (deploy.sh), leftovers, redaction, bad input.

Tests run in order: a killed ephemeral run leaves containers, the next ephemeral run (the
smoke gate) removes them first; then one live stack started with deploy.sh serves the live
smoke run and the secret-leak check.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from support.stacks import REFERENCE_PROFILE, SUITES

from stackprobe.targets.isolation import state_root
from stackprobe.targets.leftovers import PREFIX, containers, labels_of

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
SMOKE_CONTROLS = {"HLT-01", "HLT-02", "HLT-03", "HLT-04", "MET-01", "MET-02", "MET-03", "CTR-01",
                  "CTR-02", "CTR-03", "DB-01", "DB-02", "DB-03", "RDS-01", "RDS-02", "VEC-01"}

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]
# The runbook's compose file with healthchecks every 2 s (tests/support/fast-health.yml): for
# copies that only need to be up. The ephemeral gate run below keeps the runbook's own timings.
FAST_HEALTH = REPO / "tests" / "support" / "fast-health.yml"
FAST_COMPOSE = ["--compose-file", str(REPO / "docker-compose.yml"), "--compose-file", str(FAST_HEALTH)]


def run_pytest(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
               timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def results_of(report_dir: Path) -> dict[str, str]:
    (run,) = [p for p in report_dir.iterdir() if p.is_dir() and not p.is_symlink()]
    summary = json.loads((run / "results.json").read_text())
    return {cid: c["status"] for cid, c in summary["controls"].items()}


def project_containers(prefix: str) -> list[str]:
    # as listed (sparse): another worker may remove one of its containers before an inspect
    return [c.attrs["Names"][0].lstrip("/") for c in containers(docker.from_env(), "com.docker.compose.project")
            if labels_of(c)["com.docker.compose.project"].startswith(prefix)]


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An ephemeral run killed with SIGKILL while its stack is up."""
    work = tmp_path_factory.mktemp("killed")
    (work / "test_wait.py").write_text(
        "import time\n\ndef test_wait(target):\n    print('UP', target.project, flush=True)\n"
        "    time.sleep(600)\n")
    process = subprocess.Popen(
        [PY, "-m", "pytest", "-s", "-p", "no:cacheprovider", "--report-dir=none", *FAST_COMPOSE,
         f"--rootdir={work}", str(work / "test_wait.py")],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    project = ""
    deadline = time.monotonic() + 300
    for line in process.stdout:
        if "UP " in line:
            project = line.split("UP ", 1)[1].split()[0]
            break
        if time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert project, "the run to be killed never got its stack up"
    assert project_containers(project), "SIGKILL should have left the containers behind"
    return project


@pytest.mark.alone  # any other run's start would sweep the killed run's leftovers first
def test_ephemeral_smoke_passes_and_removes_leftovers(killed_run: str, tmp_path: Path) -> None:
    assert project_containers(killed_run), "leftovers vanished before the next run"
    result = run_pytest(f"{SUITES}/smoke", "--target", "ephemeral", "--profile", "profiles/reference.toml",
                        f"--report-dir={tmp_path}")
    assert f"removed leftovers of killed run {killed_run}" in result.stdout, result.stdout[-3000:]
    assert not project_containers(killed_run)
    assert result.returncode == 0, result.stdout[-5000:]
    assert results_of(tmp_path) == dict.fromkeys(SMOKE_CONTROLS, "passed")
    # the run's own copy is gone too (other copies, of this session or others, may be running)
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink()]
    own = json.loads((run / "results.json").read_text())["run"]["target"]["project"]
    assert own.startswith("spx") and own != killed_run
    assert not project_containers(own), f"the run left its stack {own} behind"


BROKEN_REDIS = """\
services:
  redis:
    restart: "no"
    command: ["sh", "-c", "echo 'redis-standin: refusing to start (stackprobe test)'; exit 3"]
"""


def project_leftovers(project: str) -> list[str]:
    """Containers, volumes and networks of one compose project."""
    client = docker.from_env()
    label = {"label": f"com.docker.compose.project={project}"}
    return ([f"container {c.name}" for c in client.containers.list(all=True, filters=label)]
            + [f"volume {v.name}" for v in client.volumes.list(filters=label)]
            + [f"network {n.name}" for n in client.networks.list(filters=label)])


def test_startup_failure_names_the_service_with_its_logs_and_leaves_nothing(tmp_path: Path) -> None:
    override = tmp_path / "broken-redis.yml"
    override.write_text(BROKEN_REDIS)
    project = f"spx{os.getpid()}x{secrets.token_hex(3)}"
    result = run_pytest(f"{SUITES}/smoke/test_health.py", "--target", "ephemeral",
                        "--profile", "profiles/reference.toml",
                        "--compose-file", "docker-compose.yml", "--compose-file", str(override),
                        "--project-name", project, "--report-dir=none", timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.INTERNAL_ERROR, output[-3000:]
    assert "the stack did not become healthy" in output, output[-3000:]
    assert "--- redis: status=exited" in output and "refusing to start (stackprobe test)" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert not project_leftovers(project), project_leftovers(project)


INTERRUPTIBLE = "def test_needs_the_stack(target):\n    pass\n"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_start_tears_the_copy_down(signum: signal.Signals, tmp_path: Path) -> None:
    (tmp_path / "test_needs_stack.py").write_text(INTERRUPTIBLE)
    project = f"spx{os.getpid()}x{secrets.token_hex(3)}"
    process = subprocess.Popen(
        [PY, "-m", "pytest", "-p", "no:cacheprovider", "--report-dir=none", f"--rootdir={tmp_path}",
         "--project-name", project, str(tmp_path / "test_needs_stack.py")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while not project_containers(project) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert project_containers(project), "the run never started creating its copy"
        time.sleep(1.0)  # compose is now waiting for health
        process.send_signal(signum)
        output, _ = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    assert not project_leftovers(project), (project_leftovers(project), output[-3000:])
    assert not (state_root() / project).exists()


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    """A copy of the reference stack started the runbook's way (deploy.sh init, start), with a canary
    secret; healthchecks every 2 s (COMPOSE_FILE adds tests/support/fast-health.yml)."""
    work = tmp_path_factory.mktemp("live")
    project = f"splive{secrets.token_hex(3)}"
    canary = f"CANARY{secrets.token_hex(16)}"
    values = {
        "COMPOSE_PROJECT_NAME": project, "MYSQL_ROOT_PASSWORD": secrets.token_urlsafe(24),
        "MYSQL_DATABASE": "ai_assistant", "MYSQL_USER": "ai_user", "MYSQL_PASSWORD": secrets.token_urlsafe(24),
        "REDIS_PASSWORD": secrets.token_urlsafe(24), "SECRET_KEY": canary, "BCRYPT_ROUNDS": "12",
        "DASHSCOPE_API_KEY": secrets.token_urlsafe(24), "ENVIRONMENT": "production", "DEBUG": "False",
        "LOG_LEVEL": "INFO", "LOG_FILE": "/app/logs/app.log", "LOG_MAX_BYTES": "10485760",
        "LOG_BACKUP_COUNT": "10", "BACKEND_PORT": "0", "METRICS_PORT": "0", "MYSQL_PORT": "0",
        "REDIS_PORT": "0", "MYSQL_CONTAINER_NAME": f"{project}-mysql",
        "REDIS_CONTAINER_NAME": f"{project}-redis", "BACKEND_CONTAINER_NAME": f"{project}-backend",
    }
    env_file = work / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    env_file.chmod(0o600)
    deploy = [str(REPO / "stack/scripts/deploy.sh")]
    env = {**os.environ, "STACK_ENV_FILE": str(env_file), "CONFIRM": "",
           "COMPOSE_FILE": f"{REPO / 'docker-compose.yml'}:{FAST_HEALTH}"}
    try:
        for command in ("init", "start"):
            done = subprocess.run([*deploy, command], env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"deploy.sh {command}: {done.stdout[-2000:]} {done.stderr[-2000:]}"
        yield project, env_file, canary
    finally:
        subprocess.run(["docker", "compose", "-p", project, "down", "-v", "--remove-orphans", "-t", "5"],
                       capture_output=True, timeout=300)


def test_live_smoke_passes(live_stack: tuple[str, Path, str], tmp_path: Path) -> None:
    project, env_file, _ = live_stack
    # HLT-03/04 stop the database and the cache: on a live target only those the profile allows
    profile = tmp_path / "live.toml"
    profile.write_text(REFERENCE_PROFILE.read_text() + '\n[safety]\ndestructive_services = ["mysql", "redis"]\n')
    result = run_pytest(f"{SUITES}/smoke", "--target", "live", "--profile", str(profile),
                        "--project-name", project, "--env-file", str(env_file), "--allow-destructive",
                        *FAST_COMPOSE, f"--report-dir={tmp_path}")
    assert result.returncode == 0, result.stdout[-5000:]
    assert results_of(tmp_path) == dict.fromkeys(SMOKE_CONTROLS, "passed")
    assert project_containers(project), "a live run must leave the stack running"


LEAKY_CHECKS = '''
import logging, pytest

@pytest.mark.control("SEC-01")
def test_prints_secret(target, evidence):
    value = target.env["SECRET_KEY"]
    print("stdout:", value)
    logging.getLogger("leak").error("log: %s", value)
    evidence.record("secret", value)
    assert value == "something else", f"message: {value}"

@pytest.mark.control("SEC-02")
def test_raises_with_secret(target):
    raise RuntimeError("traceback: " + target.env["SECRET_KEY"])
'''


def test_canary_secret_never_reaches_any_output(live_stack: tuple[str, Path, str], tmp_path: Path) -> None:
    project, env_file, canary = live_stack
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "test_leaky.py").write_text(LEAKY_CHECKS)
    reports = tmp_path / "reports"
    result = run_pytest(str(checks / "test_leaky.py"), "--target", "live", "--project-name", project,
                        "--env-file", str(env_file), f"--report-dir={reports}", "-rA", "-vv", "--showlocals",
                        f"--rootdir={checks}")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "«redacted:SECRET_KEY»" in result.stdout
    assert canary not in result.stdout + result.stderr
    written = [p for p in reports.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"report.html", "junit.xml", "results.json"}
    for path in written:
        assert canary not in path.read_text(errors="replace"), f"canary secret leaked into {path}"


@pytest.mark.alone  # it counts the tool's copies on the engine: another worker's, being recreated, showed up
def test_bad_input_gives_one_line_usage_error(live_stack: tuple[str, Path, str], tmp_path: Path) -> None:
    project, env_file, _ = live_stack
    # (options, environment, what names the input, what names the fix): one or two lines
    cases = {
        "no engine": (["--target", "ephemeral"], {"DOCKER_HOST": "unix:///nonexistent.sock"},
                      "no Docker engine answers at unix:///nonexistent.sock", "or set DOCKER_HOST"),
        "missing compose file": (["--target", "ephemeral", "--compose-file", "nope.yml"], {},
                                 "nope.yml does not exist", "check --compose-file / [stack] compose_files"),
        "live project not running": (["--target", "live", "--project-name", "not_running_xyz",
                                      "--env-file", str(env_file)], {}, "'not_running_xyz' is not running on this host",
                                     "or pass --project-name of a running project"),
        "ephemeral over a running project": (["--target", "ephemeral", "--project-name", project], {},
                                             f"compose project {project} already exists",
                                             "choose an unused --project-name, or use --target live"),
    }
    bad_env = tmp_path / "bad.env"
    bad_env.write_text(env_file.read_text().replace("MYSQL_USER=ai_user", "MYSQL_USER=nobody"))
    cases["wrong database credentials"] = (
        ["--target", "live", "--project-name", project, "--env-file", str(bad_env),
         f"{SUITES}/smoke/test_datastores.py::test_mysql_reachable_version_charset"],
        {}, "refused user 'nobody' (access denied)", f"in {bad_env}")
    before = set(project_containers(""))
    for name, (args, env, names_input, names_fix) in cases.items():
        paths = [] if any(a.startswith(f"{SUITES}/") for a in args) else [f"{SUITES}/smoke/test_health.py"]
        result = run_pytest(*paths, *args, "--report-dir=none", env=env)
        output = result.stdout + result.stderr
        assert result.returncode == pytest.ExitCode.USAGE_ERROR, f"{name}: {output[-2000:]}"
        assert "Traceback" not in output, f"{name}: {output[-2000:]}"
        lines = output.splitlines()
        where = [n for n, line in enumerate(lines) if names_input in line]
        assert len(where) == 1, f"{name}: the input should be named once: {output[-2000:]}"
        assert names_fix in " ".join(lines[where[0]:where[0] + 2]), f"{name}: no fix within two lines: {output[-2000:]}"
    # containers that appeared meanwhile belong to other live processes (copies of other tests
    # or sessions); one left by these runs would belong to a project whose owner has exited
    # (only the tool's own spx<pid>x names: another test's live project is named by that test)
    started = [name for name in set(project_containers(PREFIX)) - before if not _owner_alive(name)]
    assert not started, f"bad input must start nothing, found {started}"
    assert project_containers(project), "the refused ephemeral run must leave the live project alone"


def _owner_alive(container: str) -> bool:
    """An ephemeral copy is named spx<pid>x<hex>: is the process that owns it still running?"""
    found = re.match(r"^spx(\d+)x", container)
    if not found:
        return False
    try:
        os.kill(int(found.group(1)), 0)
    except ProcessLookupError:
        return False
    return True

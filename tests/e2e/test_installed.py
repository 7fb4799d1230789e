"""stackprobe as a user installs it: the wheel built from this source, installed (not editable) in a
fresh virtual environment outside the repository, run from an empty folder that holds only the
profile `stackprobe init` wrote against the reference stack.

* `stackprobe init --project-name` on a running copy of the reference stack writes a profile with
  which `stackprobe run --target live` passes the config and smoke suites unchanged (every check the
  gate runs there on a live target);
* `stackprobe run --target ephemeral --compose-file ...` with the same profile passes the smoke suite
  on a throwaway copy it starts and removes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.stacks import BASE_COMPOSE, FAST_HEALTH, REPO, TestStack, started_stack

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]


@dataclass
class Installed:
    venv: Path
    wheel: Path

    @property
    def stackprobe(self) -> Path:
        return self.venv / "bin" / "stackprobe"

    def run(self, *args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        # a user's shell: no variable of this session's stackprobe, no PYTHONPATH into the repository
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("STACKPROBE_", "COMPOSE_", "PYTHON", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run([str(self.stackprobe), *args], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)


def _build_wheel(out: Path) -> Path:
    """`pip wheel --no-deps` on a copy of the package's sources (a build in place would leave build/ here)."""
    source = out / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out / "dist"), str(source)],
                   check=True, capture_output=True, text=True, timeout=600)
    (wheel,) = (out / "dist").glob("stackprobe-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("installed")
    assert REPO not in work.parents, "the virtual environment must live outside the repository"
    wheel = _build_wheel(work)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # dependencies from the index (pip's cache makes it quick), the package from the wheel only
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return Installed(venv, wheel)


@pytest.fixture(scope="module")
def running_copy() -> Iterator[TestStack]:
    """A copy of the reference stack run as a deployment is: compose started it with one env file
    (a test copy starts with two, the values and an overlay of ports; recreated here from one file)."""
    with started_stack() as stack:
        stack.compose("up", "-d", "--force-recreate", "--wait", timeout=600)
        yield stack


def test_wheel_ships_the_suites_and_installs_non_editable(installed: Installed, tmp_path: Path) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for suite in ("smoke", "config", "backup_restore", "logs", "chaos", "deploy"):
        assert f"stackprobe/suites/{suite}/conftest.py" in names, suite
    assert {"stackprobe/suites/conftest.py", "stackprobe/report/style.css", "stackprobe/py.typed"} <= names
    assert not any(n.startswith(("stack/", "tests/", "docker-compose")) for n in names)
    where = subprocess.run([str(installed.venv / "bin" / "python"), "-c",
                            "import stackprobe.suites, sys; print(stackprobe.suites.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(installed.venv), where  # not this checkout
    listed = installed.run("controls", "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) > 50


def test_live_and_ephemeral_runs_from_an_empty_folder(installed: Installed, running_copy: TestStack,
                                                      tmp_path: Path) -> None:
    folder = tmp_path / "ops"
    folder.mkdir()
    init = installed.run("init", "--project-name", running_copy.project, cwd=folder, timeout=300)
    assert init.returncode == 0, init.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["stackprobe.toml"]
    profile = (folder / "stackprobe.toml").read_text()
    # it read the running backend's health answer: the dependencies are not guessed
    assert 'dependencies = ["database", "redis", "vector_store"]' in profile, profile
    assert f'project_name = "{running_copy.project}"' in profile

    live = installed.run("run", "--target", "live", "--suite", "config", "--suite", "smoke", "--suite", "hardening",
                         cwd=folder)
    assert live.returncode == 0, (live.stdout + live.stderr)[-6000:]
    assert "stackprobe: suite config:" in live.stdout and "stackprobe: suite smoke:" in live.stdout
    (run_dir,) = [p for p in (folder / "reports").iterdir() if p.is_dir() and not p.is_symlink()]
    summary = json.loads((run_dir / "results.json").read_text())
    assert summary["run"]["target"]["project"] == running_copy.project
    statuses = {cid: c["status"] for cid, c in summary["controls"].items()}
    assert statuses["SEC-01"] == statuses["HLT-01"] == statuses["DB-01"] == "passed", statuses
    assert set(statuses.values()) <= {"passed", "skipped"}, statuses  # destructive checks skip on live

    ephemeral = installed.run("run", "--target", "ephemeral", "--compose-file", str(BASE_COMPOSE),
                              "--compose-file", str(FAST_HEALTH), "--suite", "smoke", cwd=folder)
    assert ephemeral.returncode == 0, (ephemeral.stdout + ephemeral.stderr)[-6000:]
    newest = max((p for p in (folder / "reports").iterdir() if p.is_dir() and not p.is_symlink()),
                 key=lambda p: p.stat().st_mtime)
    summary = json.loads((newest / "results.json").read_text())
    assert summary["run"]["target"]["kind"] == "ephemeral"
    assert {c["status"] for c in summary["controls"].values()} == {"passed"}, summary["controls"].keys()
    copy = summary["run"]["target"]["project"]
    left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={copy}"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert not left, f"the ephemeral run left {copy} behind"

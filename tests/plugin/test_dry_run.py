"""--dry-run prints the plan and touches nothing; --nightly selects the production-safe set.

The Docker engine and the SSH host are listening sockets of this test that count every
connection: a dry run must make none (no Docker API call, no SSH connection)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.stacks import SUITES, run_pytest


class Listener:
    """A TCP port on 127.0.0.1 that accepts and counts connections (and closes them)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listeners() -> Iterator[tuple[Listener, Listener]]:
    docker, ssh = Listener(), Listener()
    yield docker, ssh
    docker.close()
    ssh.close()


def test_dry_run_live_ssh_prints_plan_and_touches_nothing(listeners: tuple[Listener, Listener],
                                                          tmp_path: Path) -> None:
    docker, ssh = listeners
    profile = tmp_path / "remote.toml"
    profile.write_text('[stack]\nproject_dir = "/srv/ai_assistant"\n[safety]\nallow_destructive = true\n')
    run = run_pytest(f"{SUITES}/smoke", f"{SUITES}/config", "--dry-run", "--profile", str(profile),
                     "--live-host", f"ssh://deploy@127.0.0.1:{ssh.port}", "--project-name", "prod",
                     report_dir=tmp_path / "r", env={"DOCKER_HOST": f"tcp://127.0.0.1:{docker.port}"})
    out = run.stdout
    assert run.returncode == 0, run.tail()
    assert docker.connections == 0 and ssh.connections == 0, (docker.connections, ssh.connections)
    assert f"live: compose project 'prod' on ssh://deploy@127.0.0.1:{ssh.port}" in out
    assert "destructive experiments: allowed" in out
    # faults named with the profile's services; a live target has VEC-01 read-only
    assert "HLT-03" in out and "FAULTS stop:mysql, redis" in out
    vec = next(line for line in out.splitlines() if "VEC-01" in line)
    assert vec.endswith("read-only"), vec
    assert "faults: 2 checks: stop:mysql, redis" in out
    (run_dir,) = [p for p in (tmp_path / "r").iterdir() if not p.is_symlink()]
    plan = json.loads((run_dir / "plan.json").read_text())
    assert {"HLT-01", "DB-01", "SEC-05", "HLT-03"} <= set(plan["controls"])
    assert not run.statuses  # no check ran


def test_dry_run_nightly_without_destructive_skips_and_writes_nothing(listeners: tuple[Listener, Listener],
                                                                      tmp_path: Path) -> None:
    docker, _ = listeners
    run = run_pytest(f"{SUITES}/smoke", "--dry-run", "--nightly", "--target", "live", "--project-name", "nosuch",
                     "--env-file", "/nonexistent/.env", report_dir=tmp_path / "r",
                     env={"DOCKER_HOST": f"tcp://127.0.0.1:{docker.port}"})
    assert run.returncode == 0, run.tail()
    assert docker.connections == 0
    assert "HLT-03" not in run.stdout and "selection: nightly only" in run.stdout  # deselected
    assert "writes: 0 checks (read-only run)" in run.stdout
    assert "faults: 0 checks (none injected)" in run.stdout


def test_dry_run_ephemeral_shows_canary_write(tmp_path: Path) -> None:
    run = run_pytest(f"{SUITES}/smoke/test_datastores.py", "--dry-run", report_dir=tmp_path / "r",
                     env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert run.returncode == 0, run.tail()
    assert "ephemeral: a throwaway copy of" in run.stdout
    assert "VEC-01" in run.stdout and "WRITES backend: one canary document" in run.stdout


def test_remote_profile_needs_absolute_project_dir(tmp_path: Path) -> None:
    run = run_pytest(f"{SUITES}/smoke", "--dry-run", "--live-host", "ssh://u@127.0.0.1:1",
                     report_dir=tmp_path / "r")
    assert run.returncode == 4
    assert "project_dir" in run.stderr and "absolute path" in run.stderr, run.tail()


def test_fleet_file_errors_are_one_line(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('[[hosts]]\nname = "a"\nhots = "ssh://x"\n')
    run = run_pytest(f"{SUITES}/smoke", "--fleet", str(fleet), report_dir=tmp_path / "r")
    assert run.returncode == 4
    assert "unknown key(s) hots" in run.stderr and str(fleet) in run.stderr, run.tail()

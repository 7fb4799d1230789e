"""The deploy suite's library without Docker: revisions, fingerprints, the throwaway project's
env, commands bounded in time, read traffic and its outage window against a real HTTP server."""

from __future__ import annotations

import re
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.stacks import REPO

from stackprobe.commands import run_command
from stackprobe.deploy import DeployProject, ReadTraffic, fingerprint_changes, revisions
from stackprobe.profile import Profile, load_profile
from stackprobe.targets.envfiles import read_env


def test_revisions_ignore_log_lines_and_markers() -> None:
    current = ("INFO  [alembic.runtime.migration] Context impl MySQLImpl.\n"
               "INFO  [alembic.runtime.migration] Will assume non-transactional DDL.\n0002 (head)\n")
    assert revisions(current) == {"0002"}
    assert revisions("INFO  [alembic.runtime.migration] Context impl MySQLImpl.\n") == set()
    assert revisions("ae10f3 (head)\n1975ea83b712 (effective head)\n") == {"ae10f3", "1975ea83b712"}
    assert revisions("Traceback (most recent call last):\nKeyError: 'x'\n") == set()


def test_fingerprint_changes_name_what_moved() -> None:
    before = {"tables": {"documents": "CREATE TABLE d", "users": "CREATE TABLE u"}, "rows": {"documents": 3},
              "versions": [["0002"]], "triggers": [], "routines": []}
    same = {**before}
    assert fingerprint_changes(before, same) == []
    after = {**before, "tables": {"documents": "CREATE TABLE d2", "audit": "x"}, "rows": {"documents": 4},
             "versions": [["0003"]]}
    assert fingerprint_changes(before, after) == [
        "table audit appeared", "table documents: definition changed", "table users disappeared",
        "table documents: rows 3 -> 4", "versions: [['0002']] -> [['0003']]"]
    rewritten = {**before, "content": {"documents": {"rows": 3, "xor": "00ff", "sum": "7"}}}
    moved = {**before, "content": {"documents": {"rows": 3, "xor": "0f0f", "sum": "9"}}}
    assert fingerprint_changes(rewritten, moved) == ["table documents: same 3 rows, content changed"]
    assert fingerprint_changes(rewritten, {**rewritten}) == []


def test_run_command_kills_the_whole_group_on_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    run = run_command(["bash", "-c", "sleep 30 & sleep 30; echo never"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
                      timeout=0.5)
    assert run.timed_out and run.exit_code == -9 and "never" not in run.output
    assert time.monotonic() - started < 10
    done = run_command(["sh", "-c", "read x || echo no-stdin; exit 3"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
                       timeout=10)
    assert done.exit_code == 3 and "no-stdin" in done.stdout and "exited 3" in done.describe()


def test_throwaway_project_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy2(REPO / ".env.example", tmp_path / ".env.example")
    monkeypatch.setenv("COMPOSE_FILE", "/elsewhere.yml")
    monkeypatch.setenv("CONFIRM", "yes")
    (tmp_path / "a.yml").write_text('services: {api: {image: x, container_name: api, ports: ["8000:8000"]}}\n')
    (tmp_path / "b.yml").write_text("services: {api: {environment: {A: b}}}\n")
    project = DeployProject(Profile(), tmp_path, [tmp_path / "a.yml", tmp_path / "b.yml"])
    try:
        assert stat.S_IMODE(project.env_file.stat().st_mode) == 0o600
        values = project.target.env
        assert values["COMPOSE_PROJECT_NAME"] == project.project
        # no stack's variable names beside the template's own values: the override isolates
        assert read_env(project.target.env_files[-1]) == {"COMPOSE_PROJECT_NAME": project.project}
        assert values["BACKEND_PORT"] == "8000" and "MYSQL_CONTAINER_NAME" not in values
        assert values["BACKEND_IMAGE"] == f"{project.project}-backend-image:deploy"
        assert values["MYSQL_PASSWORD"] != "change-me-app-password" and len(values["MYSQL_PASSWORD"]) >= 24
        env = project.environ()
        assert env["STACK_ENV_FILE"] == str(project.env_file)
        isolation = project.target.state_dir / "isolation.yml"
        assert env["COMPOSE_FILE"] == f"{tmp_path / 'a.yml'}:{tmp_path / 'b.yml'}:{isolation}"
        # a fixed free loopback port (clients keep their address across the command's restarts)
        assert re.search(r'"ports": !override \["127\.0\.0\.1:[1-9]\d*:8000/tcp"\]', isolation.read_text())
        assert env["COMPOSE_PROJECT_NAME"] == project.project and "CONFIRM" not in env
        assert project.command == ["stack/scripts/deploy.sh"]  # not in tmp_path: left as given
    finally:
        shutil.rmtree(project.target.state_dir)


def test_actions_run_in_the_scripts_own_words(tmp_path: Path) -> None:
    """[deploy] actions: an action named there runs its argv, one not named runs `{deploy}
    <action>`, one set to [] is not offered (the suite's checks skip it as not applicable)."""
    shutil.copy2(REPO / ".env.example", tmp_path / ".env.example")
    (tmp_path / "a.yml").write_text("services: {api: {image: x}}\n")
    script = tmp_path / "ops.sh"
    script.write_text('#!/bin/sh\necho "ops: $*"\n')
    script.chmod(0o755)
    profile_file = tmp_path / "p.toml"
    profile_file.write_text('[deploy]\ncommand = ["./ops.sh"]\n'
                            '[deploy.actions]\ninit = ["{deploy}", "up", "--wait"]\nbackup = []\n')
    project = DeployProject(load_profile(profile_file), tmp_path, [tmp_path / "a.yml"])
    try:
        assert project.deploy("init").stdout.strip() == "ops: up --wait"
        assert project.deploy("clean", "--force").stdout.strip() == "ops: clean --force"
        # messages name the command as the profile does; the run resolves it in the project
        assert project.shown("init") == "./ops.sh up --wait" and project.shown("clean") == "./ops.sh clean"
        assert project.expand(["{deploy}", "{env_file}"]) == [str(script), str(project.env_file)]
        with pytest.raises(ValueError, match=r"offers no backup \(\[deploy\] actions.backup = \[\]\)"):
            project.deploy("backup")
    finally:
        shutil.rmtree(project.target.state_dir)


class _Switchable(BaseHTTPRequestHandler):
    up = True

    def do_GET(self) -> None:
        self.send_response(200 if _Switchable.up else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Switchable)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Switchable.up = True
    yield f"http://127.0.0.1:{httpd.server_address[1]}/health"
    httpd.shutdown()


def test_read_traffic_measures_the_outage_window(server: str) -> None:
    # The switch times are taken on the traffic's own clock: on a loaded 2-core machine either
    # thread can be descheduled for hundreds of milliseconds, so fixed sleeps are no reference.
    with ReadTraffic([server], interval_s=0.02, max_requests=1000, max_duration_s=20) as traffic:
        traffic.sleep(0.3)
        went_down = traffic.elapsed()
        _Switchable.up = False
        traffic.sleep(0.6)
        came_up = traffic.elapsed()
        _Switchable.up = True
        traffic.sleep(0.3)
    seen = traffic.report()
    assert seen.ok > 0 and seen.failed > 0 and seen.sent == seen.ok + seen.failed
    assert seen.errors == {"503": seen.failed}
    assert seen.first_failure_s is not None and seen.recovered_s is not None, seen
    assert seen.downtime_s == pytest.approx(seen.recovered_s - seen.first_failure_s)
    # A request sent just before a switch may be answered just after it.
    slack = 0.1
    failed_at = [t for t, ok, _ in traffic.samples if not ok]
    assert all(went_down - slack <= t <= came_up + slack for t in failed_at), (went_down, came_up, seen)
    assert went_down - slack <= seen.first_failure_s < came_up, (went_down, came_up, seen)
    assert seen.recovered_s >= came_up - slack, (went_down, came_up, seen)
    assert seen.stopped_by == "caller"


def test_read_traffic_settles_only_on_an_observed_recovery(server: str) -> None:
    """The flow's end is no proof the backend answers again: settle reads on until an answer
    sent after the flow succeeded, however long the backend takes (within its bound)."""
    with ReadTraffic([server], interval_s=0.02, max_requests=1000, max_duration_s=20) as traffic:
        _Switchable.up = False
        traffic.sleep(0.2)
        flow_ended = traffic.elapsed()
        threading.Timer(1.0, lambda: setattr(_Switchable, "up", True)).start()
        assert traffic.settle(since_s=flow_ended, max_s=10)
        settled = traffic.elapsed()
    seen = traffic.report()
    assert seen.recovered_s is not None and seen.recovered_s >= flow_ended + 0.9, seen
    assert settled >= seen.recovered_s and settled - flow_ended < 5, (settled, seen)
    # and never settles on a backend that stays down: it is bounded by max_s (down before the
    # traffic starts: its first request goes out at once, and one answered 200 would settle it)
    _Switchable.up = False
    with ReadTraffic([server], interval_s=0.02, max_requests=1000, max_duration_s=20) as traffic:
        started = time.monotonic()
        assert not traffic.settle(since_s=0.0, max_s=0.5)
        assert time.monotonic() - started < 2
    assert traffic.report().recovered_s is None


def test_read_traffic_is_bounded_in_count_and_time(server: str) -> None:
    with ReadTraffic([server, server], interval_s=0.0, max_requests=7, max_duration_s=20) as traffic:
        traffic.sleep(5)
    assert traffic.report().sent == 7 and traffic.stopped_by == "max_requests"
    started = time.monotonic()
    with ReadTraffic([server], interval_s=0.05, max_requests=10_000, max_duration_s=0.5) as traffic:
        traffic.sleep(5)
    assert traffic.stopped_by == "max_duration" and time.monotonic() - started < 3
    assert traffic.report().downtime_s == 0.0


def test_read_traffic_never_recovering_has_no_downtime_figure() -> None:
    with ReadTraffic(["http://127.0.0.1:9/health"], interval_s=0.05, max_requests=5, max_duration_s=5) as traffic:
        traffic.sleep(5)
    seen = traffic.report()
    assert seen.failed == 5 and seen.downtime_s is None and seen.recovered_s is None


def test_sha256sum_listing_with_escaped_names(tmp_path: Path) -> None:
    """Real `sha256sum` output: names with a backslash, a newline or a carriage return come
    escaped and must map back to the names, not to other (made-up) files."""
    import hashlib
    import subprocess

    from stackprobe.commands import parse_sha256sum

    names = ["plain.txt", "back\\slash", "new\nline", "carriage\rreturn", "  spaced  "]
    for name in names:
        (tmp_path / name).write_bytes(name.encode() * 3)
    output = subprocess.run(["sh", "-c", "find . -type f -exec sha256sum {} +"], cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout
    assert parse_sha256sum(output) == {name: hashlib.sha256(name.encode() * 3).hexdigest() for name in names}

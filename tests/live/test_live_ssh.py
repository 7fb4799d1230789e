"""Live targets over SSH, read-only proof, read-only database account, bad input, fleets.

One throwaway sshd on 127.0.0.1 (its own port, host key, authorized_keys; key authentication
only) reaches the shared copy of the reference stack "remotely": host commands, files, the
Docker engine and the published ports all go through the one SSH connection the suite opens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fingerprint import canaries_now, differences, fingerprint
from support.sshd import Sshd, sshd_available, throwaway_sshd
from support.stacks import REFERENCE_PROFILE, REPO, SUITES, TestStack, run_pytest

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow,
              pytest.mark.skipif(not sshd_available(), reason="OpenSSH server/client not installed")]

NIGHTLY_SMOKE = {"HLT-01", "HLT-02", "MET-01", "MET-02", "MET-03", "CTR-01", "CTR-02", "CTR-03",
                 "DB-01", "DB-02", "DB-03", "RDS-01", "RDS-02", "VEC-01"}


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with throwaway_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def remote_profile(directory: Path, extra: str = "") -> Path:
    """The reference profile with the deployment's absolute path on the host (needed over SSH)."""
    path = directory / "remote.toml"
    text = REFERENCE_PROFILE.read_text().replace("[stack]\n", f'[stack]\nproject_dir = "{REPO}"\n', 1)
    path.write_text(text + "\n" + extra)
    return path


def ssh_masters() -> list[str]:
    """ssh processes of stackprobe channels still alive (their control sockets live in spssh*)."""
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if line.startswith("ssh ") and "/spssh" in line]


def hosts_of(run: object) -> set[str]:
    results = getattr(run, "results", {})
    return {c["host"] for control in results.get("controls", {}).values() for c in control["checks"]}


def test_nightly_over_ssh_matches_local_and_changes_nothing(shared_stack: TestStack, sshd: Sshd,
                                                          tmp_path: Path) -> None:
    # the deployment's backup directory, as its backup job fills it: the nightly backup checks
    # (BKP-01/07/08/10) read it and restore its newest dump into a canary database, nothing more
    backups = shared_stack.backups(tmp_path / "backups")
    backup_section = f'[backup]\ndir = "{backups}"\n'
    profile = remote_profile(tmp_path, backup_section)
    local_profile = tmp_path / "local.toml"
    local_profile.write_text(f"{REFERENCE_PROFILE.read_text()}\n{backup_section}")
    before = fingerprint(shared_stack, backups)
    started = time.monotonic()
    local = shared_stack.run_suite(SUITES, report_dir=tmp_path / "local", profile=local_profile,
                                   extra=["--nightly"])
    local_s = time.monotonic() - started
    between = fingerprint(shared_stack, backups)
    started = time.monotonic()
    remote = shared_stack.run_suite(SUITES, report_dir=tmp_path / "ssh", profile=profile,
                                    extra=["--nightly", *sshd.ssh_args()])
    ssh_s = time.monotonic() - started
    after = fingerprint(shared_stack, backups)
    print(f"\nnightly run (every suite) wall time: local live {local_s:.1f} s, over SSH {ssh_s:.1f} s")

    assert local.returncode == 0, local.tail()
    assert remote.returncode == 0, remote.tail()
    assert set(remote.statuses) >= NIGHTLY_SMOKE, sorted(remote.statuses)
    assert remote.statuses == local.statuses, (remote.statuses, local.statuses)
    assert set(remote.statuses.values()) == {"passed"}, remote.statuses
    assert hosts_of(remote) == {sshd.url} and hosts_of(local) == {"local"}
    assert remote.results["run"]["target"]["host"] == sshd.url
    assert not differences(before, between), f"the local run changed: {differences(before, between)}"
    assert not between["canaries"], f"the local run left: {between['canaries']}"
    assert not differences(between, after), f"the run over SSH changed: {differences(between, after)}"
    assert not after["canaries"], f"the run over SSH left: {after['canaries']}"
    assert before["tables"] and before["files"] and before["backups"], "the fingerprint saw no data: it proves nothing"
    assert {"BKP-01", "BKP-07", "BKP-08", "BKP-10"} <= set(remote.statuses), sorted(remote.statuses)
    assert not ssh_masters(), f"SSH connections left open: {ssh_masters()}"


def test_backup_suite_over_ssh_passes_and_leaves_nothing(shared_stack: TestStack, sshd: Sshd,
                                                          tmp_path: Path) -> None:
    """Every backup check (not only the nightly ones) through the SSH channel: the backup and
    restore commands run on the host, the scratch directory and the throwaway containers are
    the host's, and nothing of them is left afterwards."""
    from support.backup_defects import LIGHT, backup_section

    from stackprobe.backup.roundtrip import seed_backend

    seed_backend(shared_stack.target)  # documents and uploads for BKP-06 to archive ("production data")
    backups = shared_stack.backups(tmp_path / "backups")
    profile = remote_profile(tmp_path, backup_section({"dir": str(backups), **LIGHT}))
    before = fingerprint(shared_stack, backups)
    run = shared_stack.run_suite(f"{SUITES}/backup_restore", report_dir=tmp_path / "r", profile=profile,
                                 extra=list(sshd.ssh_args()), timeout=600)
    after = fingerprint(shared_stack, backups)
    assert run.statuses == {f"BKP-{n:02d}": "passed" for n in range(1, 11)}, run.tail()
    assert hosts_of(run) == {sshd.url}
    assert not differences(before, after) and not after["canaries"], (differences(before, after), after["canaries"])
    assert not ssh_masters(), ssh_masters()


def test_readonly_database_account(shared_stack: TestStack, sshd: Sshd, tmp_path: Path) -> None:
    """A profile-given read-only account serves every default MySQL connection over SSH; the
    app password in the env file the suite reads is wrong, so any use of it would fail."""
    database = shared_stack.values["MYSQL_DATABASE"]
    with shared_stack.target.mysql_root() as connection, connection.cursor() as cursor:
        cursor.execute("CREATE USER IF NOT EXISTS 'sp_reader'@'%' IDENTIFIED BY 'Rd-only-9f3kQz71xw'")
        cursor.execute(f"GRANT SELECT ON `{database}`.* TO 'sp_reader'@'%'")
    env_file = tmp_path / "app.env"
    env_file.write_text(shared_stack.env_file.read_text().replace(
        f"MYSQL_PASSWORD={shared_stack.values['MYSQL_PASSWORD']}", "MYSQL_PASSWORD=not-the-password-0000"))
    env_file.chmod(0o600)
    assert "not-the-password-0000" in env_file.read_text()
    profile = remote_profile(tmp_path, extra='[ssh]\n')
    profile.write_text(profile.read_text().replace(
        "[database]\n", '[database]\nreadonly_user_env = "SP_RO_USER"\nreadonly_password_env = "SP_RO_PASSWORD"\n', 1))
    try:
        args = (f"{SUITES}/smoke/test_datastores.py", "--nightly", *sshd.ssh_args(), "--profile", str(profile),
                "--target", "live", "--project-name", shared_stack.project, "--env-file", str(env_file),
                *[a for f in shared_stack.compose_files for a in ("--compose-file", str(f))])
        run = run_pytest(*args, report_dir=tmp_path / "ro",
                         env={"SP_RO_USER": "sp_reader", "SP_RO_PASSWORD": "Rd-only-9f3kQz71xw"})
        assert run.returncode == 0, run.tail()
        assert {"DB-01", "DB-03"} <= {c for c, s in run.statuses.items() if s == "passed"}, run.statuses
        assert "Rd-only-9f3kQz71xw" not in run.stdout + run.stderr + str(run.results)
        # without the read-only account, the same wrong app password is refused: the check can fail
        refused = run_pytest(*args, report_dir=tmp_path / "app")
        assert refused.returncode == 4, refused.tail()
        assert "refused user" in refused.stdout + refused.stderr
    finally:
        with shared_stack.target.mysql_root() as connection, connection.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS 'sp_reader'@'%'")


def _one_line_error(run: object) -> str:
    out = getattr(run, "stdout", "") + getattr(run, "stderr", "")
    lines = [line for line in out.splitlines() if "ssh://" in line or "no Docker" in line]
    return lines[-1] if lines else out[-800:]


@pytest.mark.parametrize("case", ["unreachable", "key_refused", "host_key_unknown", "no_docker",
                                  "missing_service"])
def test_bad_input_is_one_line_naming_the_host(case: str, shared_stack: TestStack, sshd: Sshd,
                                              tmp_path: Path) -> None:
    extra = ""
    args = sshd.ssh_args()
    if case == "unreachable":
        args[1] = f"ssh://{sshd.user}@127.0.0.1:1"
        expected = "host unreachable"
    elif case == "key_refused":
        other = tmp_path / "other_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
        args[3] = str(other)
        expected = "refused SSH key"
    elif case == "host_key_unknown":
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        args[5] = str(empty)
        expected = "host key not known"
    elif case == "no_docker":
        extra = '[ssh]\ndocker_socket = "/run/stackprobe-no-such-docker.sock"\n'
        expected = "no Docker engine on the host"
    else:
        extra = '[services]\nbackend = "api"\n'
        expected = "service 'api' is not part of project"
    run = shared_stack.run_suite(f"{SUITES}/smoke/test_health.py", report_dir=tmp_path / "r",
                                 profile=remote_profile(tmp_path, extra), extra=["--nightly", *args])
    line = _one_line_error(run)
    print(f"\n{case}: {line}")
    assert run.returncode == 4, run.tail()
    assert expected in line and args[1] in line, line
    assert "Traceback" not in run.stdout + run.stderr
    assert not ssh_masters(), ssh_masters()


def test_fleet_one_report_other_hosts_go_on(shared_stack: TestStack, sshd: Sshd, tmp_path: Path) -> None:
    """Five hosts, one xdist worker each: over SSH and this host (both healthy), and three that
    cannot run (unreachable, a refused key, no Docker engine on the host). One report; each
    broken host errors its own checks with one line naming it; the healthy ones pass."""
    profile = remote_profile(tmp_path)
    (tmp_path / "nodocker").mkdir()
    no_docker = remote_profile(tmp_path / "nodocker", '[ssh]\ndocker_socket = "/run/stackprobe-no-such-docker.sock"\n')
    other_key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    common = (f'project_name = "{shared_stack.project}"\nenv_file = "{shared_stack.env_file}"\n'
              f"compose_files = {[str(f) for f in shared_stack.compose_files]!r}\n".replace("'", '"'))

    def remote(name: str, url: str, key: Path, host_profile: Path) -> str:
        return (f'[[hosts]]\nname = "{name}"\nhost = "{url}"\nprofile = "{host_profile}"\n{common}'
                f'identity_file = "{key}"\nknown_hosts_file = "{sshd.known_hosts}"\n\n')

    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        remote("over-ssh", sshd.url, sshd.client_key, profile)
        + f'[[hosts]]\nname = "this-host"\nprofile = "{REFERENCE_PROFILE}"\n{common}\n'
        + remote("down", f"ssh://{sshd.user}@127.0.0.1:1", sshd.client_key, profile)
        + remote("refused", sshd.url, other_key, profile)
        + remote("no-docker", sshd.url, sshd.client_key, no_docker))
    started = time.monotonic()
    run = run_pytest(f"{SUITES}/smoke", "--nightly", "--fleet", str(fleet), report_dir=tmp_path / "fleet")
    print(f"\nfleet of 5 (2 up, 3 broken), nightly smoke: {time.monotonic() - started:.1f} s")
    assert run.returncode == 1, run.tail()
    runs = [p for p in (tmp_path / "fleet").iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1 and (runs[0] / "results.json").is_file() and (runs[0] / "report.html").is_file(), runs
    per_host = run.results["hosts"]
    assert set(per_host) == {"over-ssh", "this-host", "down", "refused", "no-docker"}, per_host
    for name in ("over-ssh", "this-host"):
        assert set(per_host[name]) == NIGHTLY_SMOKE and set(per_host[name].values()) == {"passed"}, per_host
    for name, expected in (("down", "127.0.0.1:1: host unreachable"), ("refused", "refused SSH key"),
                           ("no-docker", "no Docker engine on the host")):
        assert set(per_host[name].values()) == {"error"}, (name, per_host[name])
        messages = {c["message"] for control in run.results["controls"].values() for c in control["checks"]
                    if c["host"] == name}
        assert len(messages) == 1, (name, messages)
        message = messages.pop()
        assert expected in message and "\n" not in message, (name, message)
    assert [h["name"] for h in run.results["run"]["fleet"]] == ["over-ssh", "this-host", "down", "refused",
                                                               "no-docker"]
    assert not ssh_masters(), ssh_masters()


CANARY_CHECK = '''
import os, time
import pytest
from stackprobe.canary import canary_keys, canary_table


@pytest.mark.nightly
@pytest.mark.writes("{database}: canary table", "{cache}: canary key prefix")
def test_writes_only_canaries(target):
    client = target.redis()
    with target.mysql() as connection, canary_table(connection) as table, canary_keys(client) as prefix:
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO `{table}` VALUES (1, 'canary')")
        connection.commit()
        client.set(prefix + "probe", "1")
        print("CANARY", table, prefix, flush=True)
        time.sleep(float(os.environ.get("SP_HOLD", "0")))
'''


def _writer(stack: TestStack, work: Path, extra: list[str], hold: float) -> subprocess.Popen[str]:
    (work / "test_canary.py").write_text(CANARY_CHECK)
    args = stack.suite_args()
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", "--report-dir=none",
         f"--rootdir={work}", str(work / "test_canary.py"), *args, *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "SP_HOLD": str(hold)})


def _wait_for_canary(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    for line in process.stdout:
        if "CANARY" in line:
            return line
        assert time.monotonic() < deadline, "the writing check never started"
    raise AssertionError(f"the writing check ended without writing (exit {process.wait()})")


def test_interrupted_runs_leave_no_canary(shared_stack: TestStack, sshd: Sshd, tmp_path: Path) -> None:
    """SIGINT over SSH: the canaries are removed on the way out; SIGKILL (locally): the next
    canary made from this runner sweeps them; nothing outside the canaries ever changes."""
    before = fingerprint(shared_stack)
    profile = remote_profile(tmp_path)
    interrupted = _writer(shared_stack, tmp_path, ["--profile", str(profile), *sshd.ssh_args()], hold=120)
    _wait_for_canary(interrupted)
    assert len(fingerprint(shared_stack)["canaries"]) == 2  # a table and a key: the probe sees them
    interrupted.send_signal(signal.SIGINT)
    interrupted.communicate(timeout=60)
    assert not fingerprint(shared_stack)["canaries"], "SIGINT left canaries behind"
    assert not ssh_masters(), ssh_masters()

    killed = _writer(shared_stack, tmp_path, ["--profile", str(REFERENCE_PROFILE)], hold=120)
    _wait_for_canary(killed)
    killed.kill()
    killed.communicate(timeout=30)
    assert len(fingerprint(shared_stack)["canaries"]) == 2  # SIGKILL: nothing can clean up at once
    again = _writer(shared_stack, tmp_path, ["--profile", str(REFERENCE_PROFILE)], hold=0)
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0, out[-3000:]
    after = fingerprint(shared_stack)
    assert not after["canaries"], f"leftovers of the killed run not swept: {after['canaries']}"
    assert not differences(before, after), differences(before, after)


def test_sigint_mid_nightly_run_leaves_no_canary(shared_stack: TestStack, tmp_path: Path) -> None:
    """The whole nightly selection, interrupted with SIGINT while one of its own checks holds a
    canary (BKP-07 restoring the newest backup into a canary database, in the first suite):
    the run ends as interrupted, and nothing outside the canaries changed, nothing is left."""
    backups = shared_stack.backups(tmp_path / "backups")
    profile = tmp_path / "local.toml"
    profile.write_text(f'{REFERENCE_PROFILE.read_text()}\n[backup]\ndir = "{backups}"\n')
    before = fingerprint(shared_stack, backups)
    assert not before["canaries"], before["canaries"]
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--report-dir=none", SUITES, "--nightly",
         "--profile", str(profile), *shared_stack.suite_args()],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 180
        while not seen and process.poll() is None and time.monotonic() < deadline:
            seen = canaries_now(shared_stack)
            time.sleep(0.1)
        assert seen, f"no canary seen before the run ended (exit {process.poll()})"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    after = fingerprint(shared_stack, backups)
    assert not after["canaries"], f"interrupted while {seen} existed; left behind: {after['canaries']}"
    assert not differences(before, after), differences(before, after)

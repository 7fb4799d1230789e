"""Parts of live-over-SSH, fleets and canaries that need no engine and no host."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackprobe import canary
from stackprobe.errors import StackprobeUsageError
from stackprobe.fleet import load_fleet
from stackprobe.targets.ssh import SshSpec, _explain


def test_ssh_spec_parse() -> None:
    spec = SshSpec.parse("ssh://deploy@prod-a:2222", "/k", "/kh")
    assert (spec.user, spec.host, spec.port, spec.url) == ("deploy", "prod-a", 2222, "ssh://deploy@prod-a:2222")
    assert SshSpec.parse("deploy@prod-b").port == 22
    for bad in ("http://x", "ssh://", "ssh://u@h:port"):
        with pytest.raises(StackprobeUsageError):
            SshSpec.parse(bad)


@pytest.mark.parametrize(("stderr", "expected"), [
    ("ssh: connect to host h port 22: Connection refused", "host unreachable over SSH"),
    ("ssh: connect to host h port 22: Connection timed out", "host unreachable over SSH"),
    ("ssh: Could not resolve hostname h: Name or service not known", "host unreachable over SSH"),
    ("root@h: Permission denied (publickey).", "refused SSH key /k for user u"),
    ("No ED25519 host key is known for [h]:22 and you have requested strict checking.\r\n"
     "Host key verification failed.", "host key not known or changed"),
    ("something new", "SSH connection failed: something new"),
])
def test_ssh_errors_are_one_line_naming_the_host(stderr: str, expected: str) -> None:
    line = _explain(SshSpec.parse("ssh://u@h:22", "/k"), stderr)
    assert line.startswith("ssh://u@h:22: ") and expected in line and "\n" not in line


def test_fleet_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[[hosts]]\nhost = "ssh://a@h1"\n[[hosts]]\nname = "b"\ncompose_files = ["/x.yml"]\n')
    hosts = load_fleet(good)
    assert [h.name for h in hosts] == ["ssh://a@h1", "b"] and hosts[1].compose_files == ["/x.yml"]
    for text, message in [("", "one or more [[hosts]]"), ('[[hosts]]\nname = 1\n', "must be text"),
                          ('[[hosts]]\nname = "a"\n[[hosts]]\nname = "a"\n', "unique"),
                          ("[[hosts]\n", "not valid TOML")]:
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(StackprobeUsageError, match=message.replace("[", r"\[")):
            load_fleet(bad)


def test_canary_names_and_orphans() -> None:
    name = canary.canary_name()
    assert len(name) < 64 and canary.is_canary(name) and not canary._orphaned(name)  # this run is alive
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = f"{canary.PREFIX}_{canary.RUNNER}_{dead.pid}_abcd1234"
    assert canary._orphaned(orphan)
    other_runner = f"{canary.PREFIX}_000000_{dead.pid}_abcd1234"
    assert canary.RUNNER == "000000" or not canary._orphaned(other_runner)  # never another runner's
    assert not canary._orphaned("documents")
    assert not canary._orphaned(f"{canary.PREFIX}_{canary.RUNNER}_{os.getpid()}_ab")


@pytest.mark.parametrize("args", [("up", "-d"), ("down", "-v"), ("--ansi", "never", "up"), ("restart", "backend"),
                                  ("run", "--rm", "backend", "alembic", "upgrade", "head"), ("exec", "mysql", "sh")])
def test_live_target_refuses_compose_verbs_that_change_the_deployment(args: tuple[str, ...], tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from stackprobe.profile import Profile
    from stackprobe.targets.live import LiveTarget

    ran: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: ran.append(command))
    env_file = tmp_path / ".env"
    env_file.write_text("MYSQL_PASSWORD=x\n")
    live = LiveTarget(Profile(), tmp_path, [tmp_path / "docker-compose.yml"], env_file, "prod")
    with pytest.raises(PermissionError, match="a live target is read-only"):
        live.compose(*args)
    assert ran == [], "nothing may run before the refusal"

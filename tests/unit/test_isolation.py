"""The isolation override of an ephemeral copy, computed from rendered compose models (no engine)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from stackprobe.errors import StackprobeUsageError
from stackprobe.targets.isolation import Tagged, isolation_override, prepare_binds, state_root, to_yaml

PROJECT = "spx1x000000"


def _model(project_dir: Path) -> dict[str, Any]:
    """What `docker compose config --format json` renders for a foreign stack (project PROJECT)."""
    return {
        "name": PROJECT,
        "services": {
            "db": {
                "image": "mariadb:10.11", "container_name": "foo_db",
                "ports": [{"mode": "ingress", "target": 3306, "published": "18306", "protocol": "tcp"}],
                "volumes": [
                    {"type": "bind", "source": str(project_dir / "data" / "mysql"), "target": "/var/lib/mysql",
                     "bind": {"create_host_path": True}},
                    {"type": "bind", "source": str(project_dir / "my.cnf"), "target": "/etc/my.cnf",
                     "read_only": True},
                    {"type": "volume", "source": "dbvol", "target": "/backup"},
                ],
                "networks": {"back": None},
            },
            "api": {
                "image": "foo/api:1", "build": {"context": str(project_dir / "app")},
                "ports": [{"mode": "ingress", "host_ip": "0.0.0.0", "target": 8000, "published": "8000",
                           "protocol": "tcp"},
                          {"mode": "ingress", "target": 8000, "published": "8001", "protocol": "tcp"}],
                "volumes": [{"type": "bind", "source": str(project_dir / "data" / "mysql"), "target": "/seen"},
                            {"type": "bind", "source": str(project_dir / "config"), "target": "/config"}],
                "networks": {"back": None, "default": None},
            },
            "worker": {"image": "foo/api:1", "networks": {"default": None}},
        },
        "networks": {"back": {"name": "foo_net", "internal": True}, "default": {"name": f"{PROJECT}_default"},
                     "shared": {"name": "proxy", "external": True}},
        "volumes": {"dbvol": {"name": "foo_vol"}, "cache": {"name": f"{PROJECT}_cache"},
                    "disguised": {"name": f"{PROJECT}_disguised", "driver": "local",
                                  "driver_opts": {"type": "none", "o": "bind", "device": str(project_dir / "up")}}},
    }


def test_ports_names_and_binds_of_a_foreign_model(tmp_path: Path) -> None:
    project_dir, state = tmp_path / "proj", tmp_path / "state"
    (project_dir / "data" / "mysql").mkdir(parents=True)
    (project_dir / "config").mkdir()
    override, binds = isolation_override(_model(project_dir), PROJECT, project_dir, state)
    db, api = override["services"]["db"], override["services"]["api"]
    assert db["container_name"] == f"{PROJECT}-db" and "container_name" not in api
    assert db["ports"] == Tagged("!override", ["127.0.0.1::3306/tcp"])
    assert api["ports"] == Tagged("!override", ["127.0.0.1::8000/tcp"])  # one per container port
    assert "worker" not in override["services"]  # nothing of it is shared
    fresh = state / "binds" / "project" / "data" / "mysql"
    db_volumes = db["volumes"].value
    assert db_volumes[0]["source"] == str(fresh) and db_volumes[0]["target"] == "/var/lib/mysql"
    assert db_volumes[1]["source"] == str(project_dir / "my.cnf")  # read-only: stays
    assert db_volumes[2] == {"type": "volume", "source": "dbvol", "target": "/backup"}
    assert api["volumes"].value[0]["source"] == str(fresh)  # one source, one replacement
    assert "build" not in api  # ephemeral_build defaults to true
    assert override["networks"] == {"back": {"name": f"{PROJECT}_back"},
                                    "shared": Tagged("!override", {"name": f"{PROJECT}_shared"})}
    assert override["volumes"]["dbvol"] == {"name": f"{PROJECT}_dbvol"}
    assert "cache" not in override["volumes"]  # compose's default name is the copy's own
    disguised = override["volumes"]["disguised"].value
    assert disguised["driver_opts"]["device"] == str(state / "binds" / "project" / "up")
    assert {b.source: b.copy for b in binds} == {
        project_dir / "data" / "mysql": False, project_dir / "config": False, project_dir / "up": False}


def test_copy_binds_prebuilt_images_and_fixed_ports(tmp_path: Path) -> None:
    project_dir, state = tmp_path / "proj", tmp_path / "state"
    (project_dir / "config").mkdir(parents=True)
    (project_dir / "config" / "seed.json").write_text("{}")
    (project_dir / "data" / "mysql").mkdir(parents=True)
    (project_dir / "data" / "mysql" / "ibdata1").write_text("live")
    ports = iter(["40001", "40002"])
    override, binds = isolation_override(_model(project_dir), PROJECT, project_dir, state,
                                         copy_binds=["./config"], build=False, host_port=lambda: next(ports))
    assert override["services"]["db"]["ports"].value == ["127.0.0.1:40001:3306/tcp"]
    assert override["services"]["api"]["build"] == Tagged("!reset", None)
    prepare_binds(binds)
    assert (state / "binds" / "project" / "config" / "seed.json").read_text() == "{}"
    assert list((state / "binds" / "project" / "data" / "mysql").iterdir()) == []  # fresh, not the live data
    assert (project_dir / "data" / "mysql" / "ibdata1").read_text() == "live"


def test_prebuilt_without_an_image_and_host_network_are_one_line(tmp_path: Path) -> None:
    model = {"services": {"api": {"build": {"context": str(tmp_path)}}}}
    with pytest.raises(StackprobeUsageError, match=r"api has build: but no image: .*ephemeral_build"):
        isolation_override(model, PROJECT, tmp_path, tmp_path / "s", build=False)
    with pytest.raises(StackprobeUsageError, match="network_mode 'host'"):
        isolation_override({"services": {"api": {"image": "x", "network_mode": "host"}}}, PROJECT,
                           tmp_path, tmp_path / "s")


def test_state_inside_a_mounted_directory_is_refused(tmp_path: Path) -> None:
    model = {"services": {"api": {"image": "x", "volumes": [
        {"type": "bind", "source": str(tmp_path), "target": "/app"}]}}}
    with pytest.raises(StackprobeUsageError, match=r"inside .* which the stack mounts: set XDG_STATE_HOME"):
        isolation_override(model, PROJECT, tmp_path, tmp_path / ".state" / PROJECT)


def test_sockets_stay_and_a_writable_file_is_copied(tmp_path: Path) -> None:
    import socket

    sock_path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock_path))
        (tmp_path / "app.ini").write_text("x=1")
        model = {"services": {"api": {"image": "x", "volumes": [
            {"type": "bind", "source": str(sock_path), "target": "/var/run/docker.sock"},
            {"type": "bind", "source": str(tmp_path / "app.ini"), "target": "/app.ini"}]}}}
        override, binds = isolation_override(model, PROJECT, tmp_path, tmp_path.parent / "st")
    volumes = override["services"]["api"]["volumes"].value
    assert volumes[0]["source"] == str(sock_path)
    assert [(b.source.name, b.copy) for b in binds] == [("app.ini", True)]


def test_override_yaml_carries_compose_tags() -> None:
    text = to_yaml({"services": {"a": {"ports": Tagged("!override", ["127.0.0.1::80/tcp"]),
                                       "build": Tagged("!reset", None), "x": True}}})
    assert text == ('{"services": {"a": {"ports": !override ["127.0.0.1::80/tcp"], "build": !reset null, '
                    '"x": true}}}')


def test_state_root_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_root() == tmp_path.resolve() / "stackprobe" / "runs"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert state_root() == Path(os.path.expanduser("~")).resolve() / ".local" / "state" / "stackprobe" / "runs"


def test_state_of_killed_runs_is_removed_and_live_runs_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import subprocess

    from stackprobe.targets.leftovers import _remove_dead_state

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    gone_pid = subprocess.Popen(["true"])
    gone_pid.wait()  # its pid is gone once reaped
    dead_dir = state_root() / f"spx{gone_pid.pid}x0a0b0c"
    live_dir = state_root() / f"spx{os.getpid()}x0a0b0c"
    other = state_root() / "not-a-run"
    for directory in (dead_dir, live_dir, other):
        (directory / "binds").mkdir(parents=True)
    _remove_dead_state()
    assert not dead_dir.exists() and live_dir.is_dir() and other.is_dir()


def test_a_copy_that_cannot_be_isolated_leaves_no_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Rendered by compose itself (its CLI, no engine): the refusal is one line and the env files
    already written are gone."""
    from stackprobe.profile import Profile
    from stackprobe.targets.ephemeral import EphemeralTarget

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (tmp_path / ".env.example").write_text("APP_PASSWORD=\n")
    compose = tmp_path / "compose.yml"
    compose.write_text("services: {api: {image: x, network_mode: host}}\n")
    with pytest.raises(StackprobeUsageError, match="network_mode 'host'"):
        EphemeralTarget(Profile(), tmp_path, [compose], None, project="spx1x00000a")
    assert not (state_root() / "spx1x00000a").exists()
    compose.write_text('services: {api: {image: x, container_name: fixed, ports: ["8080:80"]}}\n')
    copy = EphemeralTarget(Profile(), tmp_path, [compose], None, project="spx1x00000b")
    assert copy.compose_files == [compose, state_root() / "spx1x00000b" / "isolation.yml"]
    assert '"container_name": "spx1x00000b-api"' in copy.compose_files[-1].read_text()

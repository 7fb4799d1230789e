"""What makes an ephemeral copy of any compose file share nothing with other projects.

Computed from the model compose itself renders (`docker compose config --format json`, with the
copy's project name), never from a stack's variable names:
- every published port -> 127.0.0.1 with a host port the engine picks (or one the caller picks);
- every `container_name` -> `<project>-<service>`;
- every network and volume whose rendered name is not compose's default `<project>_<key>` (an
  explicit `name:` or an external one) -> `<project>_<key>`, a fresh one;
- every writable bind mount of a directory (or of a path that does not exist yet) -> a fresh
  directory in the copy's state directory (a copy of the source where the profile's
  `[stack] ephemeral_copy_binds` says the copy needs the seed data); a writable bind of a single
  file -> a copy of it. Read-only binds stay (the container cannot change them), and so do binds
  of sockets and devices (e.g. /var/run/docker.sock): they hold no data of the deployment;
- a named volume that is a bind in disguise (`driver_opts: {o: bind, device: ...}`) -> a plain
  local volume of the copy;
- `build:` dropped where `[stack] ephemeral_build = false` (prebuilt images used as they are).
The result is an override file with compose's `!override` / `!reset` tags (compose >= 2.24.4), so
the user's own files stay the first compose files and every later override still applies.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe.errors import StackprobeUsageError


@dataclass(frozen=True)
class Tagged:
    """A YAML value with a compose merge tag (`!override`, `!reset`)."""

    tag: str
    value: Any


@dataclass(frozen=True)
class FreshBind:
    """A bind source of the stack and the copy's own path in its place."""

    source: Path
    fresh: Path
    copy: bool  # seed the fresh path with the source's content


def state_root() -> Path:
    """Where copies keep their state: the user's state directory, outside any project
    ($XDG_STATE_HOME/stackprobe/runs, by default ~/.local/state/stackprobe/runs)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).resolve() / "stackprobe" / "runs"


def to_yaml(value: Any) -> str:
    """YAML in JSON's flow style (JSON is YAML), with tags where a `Tagged` stands."""
    if isinstance(value, Tagged):
        return f"{value.tag} {to_yaml(value.value)}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {to_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(to_yaml(v) for v in value) + "]"
    return json.dumps(value)


def _fresh_path(source: Path, project_dir: Path, binds_dir: Path) -> Path:
    """The copy's path for `source`: the same relative layout, so services that shared a source
    share its replacement."""
    if source.is_relative_to(project_dir):
        return binds_dir / "project" / source.relative_to(project_dir)
    return binds_dir / "outside" / source.relative_to(source.anchor)


def _keeps(source: Path, read_only: bool) -> bool:
    """A bind that holds no data of the deployment: read-only, or a socket/device."""
    if read_only:
        return True
    try:
        mode = source.stat().st_mode
    except OSError:
        return False  # compose would create it: the copy gets its own
    return not (stat.S_ISDIR(mode) or stat.S_ISREG(mode))


class _Plan:
    def __init__(self, project_dir: Path, binds_dir: Path, copy_binds: list[Path]) -> None:
        self.project_dir, self.binds_dir, self.copy_binds = project_dir, binds_dir, copy_binds
        self.binds: dict[Path, FreshBind] = {}

    def replace(self, source: Path) -> Path:
        if source not in self.binds:
            copy = source.is_file() or any(source == c or source.is_relative_to(c) for c in self.copy_binds)
            self.binds[source] = FreshBind(source, _fresh_path(source, self.project_dir, self.binds_dir), copy)
        return self.binds[source].fresh


def _service_override(name: str, service: Mapping[str, Any], project: str, plan: _Plan, build: bool,
                      host_port: Callable[[], str]) -> dict[str, Any]:
    override: dict[str, Any] = {}
    mode = str(service.get("network_mode") or "")
    if mode == "host" or mode.startswith("container:"):
        raise StackprobeUsageError(
            f"service {name} uses network_mode {mode!r}: an ephemeral copy would share the host's or another "
            "container's network with the deployment; test it as --target live, or drop network_mode")
    if "container_name" in service:
        override["container_name"] = f"{project}-{name}"
    ports = service.get("ports") or []
    if ports:
        # one host port per container port: a second publication of it would add nothing
        container_ports = dict.fromkeys(f"{p['target']}/{p.get('protocol') or 'tcp'}" for p in ports)
        override["ports"] = Tagged("!override", [f"127.0.0.1:{host_port()}:{p}" for p in container_ports])
    volumes = service.get("volumes") or []
    if any(v.get("type") == "bind" and not _keeps(Path(v["source"]), bool(v.get("read_only"))) for v in volumes):
        rewritten = []
        for volume in volumes:
            if volume.get("type") == "bind" and not _keeps(Path(volume["source"]), bool(volume.get("read_only"))):
                volume = {**volume, "source": str(plan.replace(Path(volume["source"])))}
            rewritten.append(volume)
        override["volumes"] = Tagged("!override", rewritten)
    if not build and "build" in service:
        if not service.get("image"):
            raise StackprobeUsageError(
                f"service {name} has build: but no image: to use as it is: name its prebuilt image in the "
                "compose file, or set [stack] ephemeral_build = true")
        override["build"] = Tagged("!reset", None)
        if service.get("pull_policy") == "build":
            override["pull_policy"] = "missing"
    return override


def _resource_override(kind: str, key: str, spec: Mapping[str, Any], project: str, plan: _Plan) -> Any:
    """A network's or volume's own name for the copy, or None when compose's default is unique."""
    name = f"{project}_{key}"
    options = spec.get("driver_opts") or {}
    if kind == "volumes" and "bind" in str(options.get("o", "")).split(",") and options.get("device"):
        fresh = plan.replace(Path(str(options["device"])))
        return Tagged("!override", {"name": name, "driver_opts": {**options, "device": str(fresh)}})
    if spec.get("external"):
        return Tagged("!override", {"name": name})
    if spec.get("name", name) != name:
        return {"name": name}
    return None


def isolation_override(
    model: Mapping[str, Any], project: str, project_dir: Path, state_dir: Path, *,
    copy_binds: Sequence[str] = (),
    build: bool = True, host_port: Callable[[], str] = lambda: "",
) -> tuple[dict[str, Any], list[FreshBind]]:
    """The override for a copy named `project` of the rendered `model` (rendered with that project
    name), and the bind sources it replaces. `copy_binds` are paths relative to `project_dir`;
    `host_port` picks a host port per published port ("" lets the engine pick)."""
    project_dir = project_dir.resolve()
    plan = _Plan(project_dir, state_dir / "binds", [(project_dir / c).resolve() for c in copy_binds])
    override: dict[str, Any] = {}
    services = {name: _service_override(name, service, project, plan, build, host_port)
                for name, service in (model.get("services") or {}).items()}
    if services := {name: o for name, o in services.items() if o}:
        override["services"] = services
    for kind in ("networks", "volumes"):
        renamed = {key: _resource_override(kind, key, spec or {}, project, plan)
                   for key, spec in (model.get(kind) or {}).items()}
        if renamed := {key: o for key, o in renamed.items() if o is not None}:
            override[kind] = renamed
    for bind in plan.binds.values():
        if state_dir.resolve().is_relative_to(bind.source.resolve()):
            raise StackprobeUsageError(
                f"the copy's state directory {state_dir} is inside {bind.source}, which the stack mounts: "
                "set XDG_STATE_HOME to a directory outside it")
    return override, list(plan.binds.values())


def prepare_binds(binds: list[FreshBind]) -> None:
    """Create the copy's bind paths: a copy of the source, or an empty directory with the
    source's mode and owner (a service running as another user can still write it)."""
    for bind in binds:
        bind.fresh.parent.mkdir(parents=True, exist_ok=True)
        if bind.copy and bind.source.is_dir():
            shutil.copytree(bind.source, bind.fresh, symlinks=True, dirs_exist_ok=True)
        elif bind.copy and bind.source.is_file():
            shutil.copy2(bind.source, bind.fresh)
        else:
            bind.fresh.mkdir(exist_ok=True)
            if bind.source.is_dir():
                shutil.copystat(bind.source, bind.fresh)
                if os.geteuid() == 0:
                    info = bind.source.stat()
                    os.chown(bind.fresh, info.st_uid, info.st_gid)

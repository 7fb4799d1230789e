"""Fleets: one run over several live hosts, one pytest-xdist worker per host, one report.

`--fleet fleet.toml` lists the hosts:

    [[hosts]]
    name = "prod-a"                         # shown on every result (default: the host URL)
    host = "ssh://deploy@prod-a.example:22" # "" or absent: this host
    profile = "profiles/prod-a.toml"        # optional; default: --profile
    project_name = "ai_assistant"           # optional; default: the profile's
    env_file = "/srv/ai_assistant/.env"     # optional; default: the profile's
    compose_files = ["/srv/ai_assistant/docker-compose.yml"]  # optional
    identity_file = "~/.ssh/stackprobe"     # optional; default: --ssh-identity / the profile's
    known_hosts_file = "~/.ssh/known_hosts" # optional

The controller starts one worker per host (`-n <hosts> --dist each`: every worker runs every
selected check) and worker gwN takes host N. A host that cannot be reached fails its own checks
with one line naming the host; the other workers go on. Results travel back to the controller,
which writes one results.json (the host on every check, a per-host summary) and one HTML/JUnit
report.
"""

from __future__ import annotations

import tomllib
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stackprobe.errors import StackprobeUsageError
from stackprobe.session import active_run, fleet_path, worker_index
from stackprobe.settings import dry_run_requested

_KEYS = {"name", "host", "profile", "project_name", "env_file", "compose_files", "identity_file",
         "known_hosts_file"}


@dataclass(frozen=True)
class FleetHost:
    name: str
    host: str = ""
    profile: str = ""
    project_name: str = ""
    env_file: str = ""
    compose_files: list[str] = field(default_factory=list)
    identity_file: str = ""
    known_hosts_file: str = ""


def load_fleet(path: Path) -> list[FleetHost]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackprobeUsageError(f"fleet file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise StackprobeUsageError(f"fleet file {path} is not valid TOML: {error}") from None
    unknown = set(data) - {"hosts"}
    entries = data.get("hosts")
    if unknown or not isinstance(entries, list) or not entries:
        raise StackprobeUsageError(f"fleet file {path}: expected one or more [[hosts]] tables"
                                   + (f" (unknown keys: {', '.join(sorted(unknown))})" if unknown else ""))
    hosts: list[FleetHost] = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise StackprobeUsageError(f"fleet file {path}: host #{number} is not a table")
        wrong = set(entry) - _KEYS
        if wrong:
            raise StackprobeUsageError(f"fleet file {path}: host #{number}: unknown key(s) "
                                       f"{', '.join(sorted(wrong))}; valid: {', '.join(sorted(_KEYS))}")
        bad = [k for k, v in entry.items() if not (isinstance(v, list) and all(isinstance(x, str) for x in v)
                                                    if k == "compose_files" else isinstance(v, str))]
        if bad:
            raise StackprobeUsageError(f"fleet file {path}: host #{number}: {', '.join(bad)} must be "
                                       "text (compose_files: a list of text)")
        name = entry.get("name") or entry.get("host") or f"host{number}"
        hosts.append(FleetHost(**{**entry, "name": name}))
    names = [h.name for h in hosts]
    if len(set(names)) != len(names):
        raise StackprobeUsageError(f"fleet file {path}: host names must be unique, got {names}")
    return hosts


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackprobe")
    group.addoption("--fleet", dest="stackprobe_fleet", metavar="PATH", default=None,
                    help="run over several live hosts listed in a TOML file, one xdist worker per host, "
                         "one report [STACKPROBE_FLEET]")


def host_name(config: pytest.Config) -> str:
    """The host label on every result: the fleet entry's name, else the live host, else 'local'."""
    path, index = fleet_path(config), worker_index(config)
    if path is not None and index is not None:
        return load_fleet(path)[index].name
    current = active_run(config)
    return (current.settings.host if current is not None else "") or "local"


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, Any, Any]:
    """Before xdist reads its options: one worker per host, every check on every worker."""
    path = fleet_path(config)
    if path is not None and worker_index(config) is None and not config.option.collectonly:
        try:
            hosts = load_fleet(path)
            dry_run = dry_run_requested(config.option)
        except StackprobeUsageError as error:
            raise pytest.UsageError(str(error)) from None
        if not config.pluginmanager.hasplugin("xdist"):
            raise pytest.UsageError("--fleet needs pytest-xdist (pip install pytest-xdist)")
        if not dry_run:
            config.option.numprocesses = len(hosts)
            config.option.dist = "each"
        config.option.stackprobe_target = "live"
    return (yield)


def apply_worker_host(config: pytest.Config) -> None:
    """In worker gwN of a fleet run: point this worker's options at host N."""
    path, index = fleet_path(config), worker_index(config)
    if path is None or index is None:
        return
    hosts = load_fleet(path)
    if index >= len(hosts):
        raise StackprobeUsageError(f"fleet {path}: worker {index} has no host (the fleet lists {len(hosts)})")
    entry, option = hosts[index], config.option
    option.stackprobe_target = "live"
    option.stackprobe_live_host = entry.host or None
    for key, attr in (("profile", "stackprobe_profile"), ("project_name", "stackprobe_project_name"),
                      ("env_file", "stackprobe_env_file"), ("identity_file", "stackprobe_ssh_identity"),
                      ("known_hosts_file", "stackprobe_ssh_known_hosts")):
        value = getattr(entry, key)
        if value:
            setattr(option, attr, value)
    if entry.compose_files:
        option.stackprobe_compose_files = list(entry.compose_files)
    # a fleet worker writes no report of its own: the controller writes the one report
    option.stackprobe_report_dir = "none"


def fleet_description(config: pytest.Config) -> list[dict[str, str]] | None:
    path = fleet_path(config)
    if path is None:
        return None
    return [{"name": h.name, "host": h.host or "local", "project_name": h.project_name}
            for h in load_fleet(path)]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller's results.json names the fleet it ran over."""
    import json

    config = session.config
    hosts = fleet_description(config)
    current = active_run(config)
    if hosts is None or worker_index(config) is not None or current is None or current.run_dir is None:
        return
    results = current.run_dir / "results.json"
    if results.is_file():
        summary = json.loads(results.read_text(encoding="utf-8"))
        summary["run"]["fleet"] = hosts
        results.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")

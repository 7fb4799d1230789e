"""The run's state, held in one object on the pytest config (as pytest's junitxml plugin holds
its own), and the typed accessors every part of stackprobe uses instead of the plugin's names.

The plugin creates the `Run` at configure time; fixtures, the dry run, fleets and the suites read
it through `run(config)`. Nothing here imports the plugin, so its extensions have no cycle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stackprobe.evidence import CheckResult, Evidence
from stackprobe.redact import REDACTOR
from stackprobe.settings import RunSettings
from stackprobe.targets.base import Target


@dataclass
class Run:
    """One stackprobe session: what it was asked, what it has found so far, where it writes."""

    settings: RunSettings
    started: float
    active: bool = True  # the session asked something of stackprobe (stackprobe.activation)
    results: list[CheckResult] = field(default_factory=list)
    run_dir: Path | None = None
    target: Target | None = None
    images: dict[str, Any] | None = None
    parts: list[dict[str, Any]] = field(default_factory=list)  # a parallel run's parts (the controller)
    parts_run: list[str] = field(default_factory=list)  # the parts this worker ran


RUN = pytest.StashKey[Run]()
EVIDENCE = pytest.StashKey[Evidence]()


def run(config: pytest.Config) -> Run:
    """This session's run (the plugin registered it at configure time)."""
    return config.stash[RUN]


def active_run(config: pytest.Config) -> Run | None:
    """The run, or None in a session stackprobe was not asked into."""
    return config.stash.get(RUN, None)


def settings(config: pytest.Config) -> RunSettings:
    return config.stash[RUN].settings


def control_of(item: pytest.Item) -> str | None:
    """The control ID a check proves (its `control` marker), or None."""
    marker = item.get_closest_marker("control")
    return str(marker.args[0]) if marker and marker.args else None


def fleet_path(config: pytest.Config) -> Path | None:
    """The fleet file of a fleet run (several live hosts, one xdist worker each), or None."""
    value = getattr(config.option, "stackprobe_fleet", None) or os.environ.get("STACKPROBE_FLEET") or None
    return Path(value) if value else None


def worker_index(config: pytest.Config) -> int | None:
    """N of xdist worker gwN; None on the controller or without xdist."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return None
    return int(str(workerinput["workerid"]).removeprefix("gw"))


def is_fleet_worker(config: pytest.Config) -> bool:
    """A worker of a fleet run: it errors its own host's checks rather than ending the run."""
    return fleet_path(config) is not None and worker_index(config) is not None


def stop(config: pytest.Config, message: str, returncode: int = pytest.ExitCode.USAGE_ERROR) -> None:
    """End the run with one line; in a fleet, fail this host's checks so the other hosts go on."""
    message = REDACTOR.redact(message)
    if is_fleet_worker(config):
        pytest.fail(message, pytrace=False)
    pytest.exit(message, returncode=returncode)


def faults_dir(config: pytest.Config) -> Path:
    """The one place undo records of faults live: STACKPROBE_FAULTS_DIR, else
    .stackprobe/faults under the rootdir."""
    given = os.environ.get("STACKPROBE_FAULTS_DIR")
    return Path(given) if given else config.rootpath / ".stackprobe" / "faults"

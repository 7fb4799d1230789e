"""Parallel parts: one ephemeral run split into parts that overlap their waiting, one report.

`--parallel` (STACKPROBE_PARALLEL) runs the selected checks as parts side by side, one
pytest-xdist worker each (a scheduler of our own), every part in collection order:

- **isolated**: checks marked `isolated` (experiments that may leave the stack changed: the
  chaos suite) run on copies of their own, so an experiment never shares a copy with a check of
  another part. Each group (`isolated("recovery")`) is a part; up to ISOLATED_COPIES copies run
  side by side, more groups than that share them one after another (the fewest checks first);
- **shared**: the other checks on the stack (read-only, or putting back what they change, like
  HLT-03/04's outages through the fault injector) share one copy, one check at a time;
- **own**: checks that need no copy of the stack under test (the deploy suite drives a throwaway
  project of its own; the file checks read files) run beside both.

The part is derived from a check's marker and the fixtures it uses, never from a suite's name,
so a user's own checks land where they belong. Results, the redactor's secrets, the parts' targets and timings travel
back to the controller, which writes the one report. Live targets are refused: one running
stack cannot be split into copies.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from stackprobe.activation import isolated_group
from stackprobe.redact import REDACTOR
from stackprobe.session import active_run, fleet_path, worker_index
from stackprobe.settings import dry_run_requested, flag

SHARED_PARTS = ("shared", "own")
# experiment copies side by side: each is a whole stack with its own faults; two more would not
# fit a 2-core machine beside the shared copy and the deploy suite's project
ISOLATED_COPIES = 2
_OUTPUT = "stackprobe_part"
_PART = pytest.StashKey[str]()
_PARTS_DIR = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackprobe")
    group.addoption("--parallel", dest="stackprobe_parallel", action="store_true", default=False,
                    help="ephemeral runs: experiments (marked isolated) on a copy of their own, the other checks "
                         "on a shared copy, checks needing no copy beside them; one xdist worker per part, one "
                         "report [STACKPROBE_PARALLEL]")


def requested(config: pytest.Config) -> bool:
    return flag(bool(getattr(config.option, "stackprobe_parallel", False)), "PARALLEL")


def part_of(item: pytest.Item) -> str:
    """Which part a check runs in, from its marker and the fixtures it uses."""
    group = isolated_group(item)
    if group is not None:
        return f"isolated:{group}" if group else "isolated"
    return "shared" if "target" in set(getattr(item, "fixturenames", ())) else "own"


def copies_of(parts: dict[str, str], copies: int = ISOLATED_COPIES) -> dict[str, str]:
    """part -> the scheduler's unit (one worker, one copy): the isolated parts spread over
    `copies` units, the largest first onto the one with the fewest checks; every other part is
    a unit of its own."""
    sizes = Counter(parts.values())
    isolated = sorted((p for p in sizes if p.split(":")[0] == "isolated"), key=lambda p: (-sizes[p], p))
    units = {p: p for p in sizes if p not in isolated}
    load = [0] * copies
    for part in isolated:
        slot = load.index(min(load))
        load[slot] += sizes[part]
        units[part] = f"isolated-copy-{slot + 1}"
    return units


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, Any, Any]:
    """Before xdist reads its options: one worker per part, each part's checks on one worker."""
    if requested(config) and worker_index(config) is None and not config.option.collectonly \
            and not dry_run_requested(config.option):
        if fleet_path(config) is not None:
            raise pytest.UsageError("--parallel and --fleet cannot be combined: a fleet already runs one worker "
                                    "per host")
        if not config.pluginmanager.hasplugin("xdist"):
            raise pytest.UsageError("--parallel needs pytest-xdist (pip install pytest-xdist)")
        config.option.numprocesses = len(SHARED_PARTS) + ISOLATED_COPIES  # unused ones stop at once
        config.option.dist = "load"  # the scheduler is ours (pytest_xdist_make_scheduler below)
        config.option.tx = None
    return (yield)


_DIR = "stackprobe_parts_dir"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """The controller's scheduler: each part's checks, in collection order, on one worker."""
    if not requested(config):
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    directory = _parts_dir(config)

    class PartScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """Work units are parts: the workers wrote each check's part before they reported their
        collection (xdist's loadgroup marks nodeids, which pytest 9 no longer lets it change)."""

        _units: dict[str, str] | None = None  # node id -> unit

        def _split_scope(self, nodeid: str) -> str:
            if self._units is None:
                written = sorted(directory.glob("gw*.json"))
                parts: dict[str, str] = json.loads(written[0].read_text(encoding="utf-8")) if written else {}
                units = copies_of(parts)
                self._units = {node: units[part] for node, part in parts.items()}
            return self._units.get(nodeid, "shared")

    return PartScheduling(config, log)


def _parts_dir(config: pytest.Config) -> Path:
    """Where the workers write each check's part for the controller's scheduler (made on first use:
    xdist sets its workers up before it asks for the scheduler)."""
    if _PARTS_DIR not in config.stash:
        directory = Path(tempfile.mkdtemp(prefix="stackprobe-parts-"))
        config.stash[_PARTS_DIR] = directory
        config.add_cleanup(lambda: shutil.rmtree(directory, ignore_errors=True))
    return config.stash[_PARTS_DIR]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each worker where to write the parts of what it collected."""
    if requested(node.config):
        node.workerinput[_DIR] = str(_parts_dir(node.config))


def refuse_live(config: pytest.Config, target_kind: str) -> None:
    """Called once the settings are known: parts need copies, a live stack has none."""
    if requested(config) and target_kind == "live" and not dry_run_requested(config.option):
        raise pytest.UsageError("--parallel needs --target ephemeral: each part runs on a copy of its own, and a "
                                "live stack cannot be copied; run the live checks without --parallel")


def apply_worker(config: pytest.Config) -> None:
    """In a worker of a parallel run: an ephemeral project name the user gave gets the worker's
    suffix (two parts must not start one project), and the worker writes no report of its own."""
    if not requested(config) or worker_index(config) is None:
        return
    option = config.option
    name = option.stackprobe_project_name or os.environ.get("STACKPROBE_PROJECT_NAME")
    if name:
        option.stackprobe_project_name = f"{name}-gw{worker_index(config)}"
    option.stackprobe_report_dir = "none"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """On a worker, before xdist reports its collection: each check's part, for the scheduler."""
    config = session.config
    directory = getattr(config, "workerinput", {}).get(_DIR)
    if not requested(config) or directory is None:
        return
    parts = {}
    for item in session.items:
        item.stash[_PART] = parts[item.nodeid] = part_of(item)
    path = Path(directory) / f"gw{worker_index(config)}.json"
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(parts), encoding="utf-8")
    partial.replace(path)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> None:
    """A worker notes the parts it ran (its share of the collection, not the whole of it)."""
    part = item.stash.get(_PART, None)
    current = active_run(item.config)
    if part is not None and current is not None and part not in current.parts_run:
        current.parts_run.append(part)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker tells the controller its part: which copy it ran on, its own wall time, and the
    secrets it generated (the controller's redactor must know them before it writes a report)."""
    config = session.config
    output = getattr(config, "workeroutput", None)
    current = active_run(config)
    if output is None or current is None or not requested(config):
        return
    target = current.target
    output[_OUTPUT] = {
        "worker": f"gw{worker_index(config)}",
        "parts": list(current.parts_run),
        "target": target.describe() if target is not None else None,
        "images": current.images,
        "started": current.started,
        "finished": time.time(),
        "secrets": REDACTOR.export(),
    }


def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the controller: learn a finished worker's secrets and keep its part's record."""
    record = getattr(node, "workeroutput", {}).get(_OUTPUT)
    config = node.config
    current = active_run(config)
    if not isinstance(record, dict) or current is None:
        return
    REDACTOR.learn(record.pop("secrets", {}))
    if record.get("parts"):  # a worker the scheduler had no part for stops without one
        current.parts.append(record)

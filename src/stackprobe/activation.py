"""When the plugin acts, and the markers it registers in every session.

Installed, the plugin loads into every pytest session of the environment (entry point `pytest11`).
It stays inert (no report directory, no --junitxml, no signal handler, nothing in the terminal)
unless the session asks for it: a stackprobe option, a STACKPROBE_* variable, a profile
(`stackprobe.toml` in the directory pytest runs in) or its own suites among what is collected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

DEFAULT_PROFILE = "stackprobe.toml"  # what `stackprobe init` writes, found in the working directory
SUITES_DIR = Path(__file__).resolve().parent / "suites"

# Registered in every session (active or not), so a user's suite that uses them passes --strict-markers.
MARKERS = (
    "control(id): the control this check proves (see stackprobe controls)",
    "destructive: changes the target's state (faults, restores, deploys); live targets need --allow-destructive",
    "needs_docker: needs a Docker engine",
    "isolated(group=''): may leave the stack changed (an experiment); with --parallel it runs on a copy of its "
    "own, never beside another check on one copy; checks of different groups may run on different copies",
    "slow: takes more than a few seconds",
    "nightly: safe for production nightly runs (read-only, or writes only canary objects it removes); "
    "`--nightly` or `-m nightly` selects them",
    "writes(*where, on=None): what a check writes and where, e.g. writes('mysql:canary table stackprobe_canary', "
    "on='live'); shown by --dry-run; placeholders {database} {cache} {backend} name the profile's services",
    "faults(*specs, on=None): faults a check injects, e.g. faults('stop:{dependency_services}', 'kill:{backend}'); "
    "shown by --dry-run",
)


def isolated_group(node: pytest.Item) -> str | None:
    """The `isolated` marker's group ("" without one); None when the check is not isolated."""
    marker = node.get_closest_marker("isolated")
    if marker is None:
        return None
    return str(marker.args[0] if marker.args else marker.kwargs.get("group", ""))


def register_markers(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def default_profile(directory: Path) -> Path | None:
    """`stackprobe.toml` in `directory`, if there is one: the profile a run uses without --profile."""
    candidate = directory / DEFAULT_PROFILE
    return candidate if candidate.is_file() else None


def _options_given(option: Any) -> bool:
    # every stackprobe option defaults to None or False
    return any(value not in (None, False) for name, value in vars(option).items() if name.startswith("stackprobe_"))


def _variables_given(environ: Mapping[str, str]) -> bool:
    return any(name.startswith("STACKPROBE_") and value for name, value in environ.items())


def _names_suites(arg: str, pyargs: bool, invocation_dir: Path) -> bool:
    """An argument that collects the suites: a path inside (or above) them, or `stackprobe.suites...`."""
    where = arg.split("::", 1)[0]
    if pyargs and (where == "stackprobe" or where.startswith("stackprobe.suites")):
        return True
    path = (invocation_dir / where).resolve()
    return path == SUITES_DIR or SUITES_DIR in path.parents or path in SUITES_DIR.parents


def requested(config: pytest.Config, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this session asked anything of stackprobe (the one place that decides)."""
    invocation_dir = config.invocation_params.dir
    return (
        _options_given(config.option)
        or _variables_given(environ)
        or default_profile(invocation_dir) is not None
        or any(_names_suites(arg, bool(config.option.pyargs), invocation_dir) for arg in config.args)
    )

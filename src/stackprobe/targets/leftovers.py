"""Leftovers of ephemeral runs that were killed before their teardown.

Ephemeral project names carry the pid of the run that owns them (`spx<pid>x<hex>`), so a
later run can tell a dead owner's project from a concurrent run's and remove only the former.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import docker

from stackprobe.owners import owner_alive
from stackprobe.targets.isolation import state_root

PREFIX = "spx"
_NAME = re.compile(rf"^{PREFIX}(\d+)x[0-9a-f]+$")
_LABEL = "com.docker.compose.project"


def remove_leftovers(client: docker.DockerClient) -> list[str]:
    projects: set[str] = set()
    for container in client.containers.list(all=True, filters={"label": _LABEL}):
        name = container.labels.get(_LABEL, "")
        match = _NAME.match(name)
        if match and not owner_alive(int(match.group(1))):
            projects.add(name)
    for volume in client.volumes.list(filters={"label": _LABEL}):
        name = (volume.attrs.get("Labels") or {}).get(_LABEL, "")
        match = _NAME.match(name)
        if match and not owner_alive(int(match.group(1))):
            projects.add(name)
    for project in sorted(projects):
        subprocess.run(
            ["docker", "compose", "-p", project, "down", "-v", "--remove-orphans", "-t", "2"],
            capture_output=True, timeout=180,
        )
        for container in client.containers.list(all=True, filters={"label": f"{_LABEL}={project}"}):
            container.remove(force=True, v=True)
        for volume in client.volumes.list(filters={"label": f"{_LABEL}={project}"}):
            volume.remove(force=True)
    _remove_dead_state()
    return sorted(projects)


def _remove_dead_state() -> None:
    """The state directories (env files, fresh bind directories) of killed runs."""
    root = state_root()
    for directory in root.iterdir() if root.is_dir() else []:
        match = _NAME.match(directory.name)
        if match and not owner_alive(int(match.group(1))):
            shutil.rmtree(directory, ignore_errors=True)

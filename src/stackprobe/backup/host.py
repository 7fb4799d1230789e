"""The backup suite's own places on the stack's host: a private scratch directory (swept after a
killed run) and a Docker client of its own for background threads. The host itself is the
target's (`target.host`, stackprobe.targets.host)."""

from __future__ import annotations

import os
import posixpath
from typing import Any

from stackprobe.owners import RUNNER
from stackprobe.targets.base import DOCKER_API_TIMEOUT_S, Target, docker_client
from stackprobe.targets.host import Host
from stackprobe.targets.leftovers import SCRATCH_PREFIX, dead_scratch_dirs


def scratch_dir(host: Host) -> str:
    """A private (0700) scratch directory on the host, named for this runner and process; those
    a run of this runner killed outright left behind (its process is gone) are removed first:
    they may hold copies of dumps and archives."""
    path = host.mkdtemp(f"{SCRATCH_PREFIX}{RUNNER}-{os.getpid()}-")
    for left in dead_scratch_dirs(host, posixpath.dirname(path)):
        host.remove_tree(left)
    return path


def own_docker_client(target: Target) -> Any:
    """A Docker client of its own, for a background thread, talking to the target's engine
    (through the host's forwarded engine socket for a remote host)."""
    if not target.host.remote:
        return docker_client()
    import docker

    _ = target.docker  # the engine answers (one-line error otherwise)
    socket = target.host.forward_unix(target.profile.ssh.docker_socket)
    return docker.DockerClient(base_url=f"unix://{socket}", timeout=DOCKER_API_TIMEOUT_S)

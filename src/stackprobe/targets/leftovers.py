"""What a killed run leaves on the engine and the host, found and removed by owner.

Every such name carries the pid of the run that made it, so a later run removes only what a
dead run left (stackprobe.owners.owner_alive), never a concurrent run's:

- copies of the stack: compose projects `spx<pid>x<hex>` (containers, volumes) and their state
  directories under the state root;
- throwaway containers and volumes labelled `stackprobe.throwaway` with `stackprobe.runner` and
  `stackprobe.pid`;
- images a throwaway project built under its own tag (`spx<pid>x<hex>-<service>:deploy`);
- scratch directories `stackprobe-bkp-<runner>-<pid>-*` on the stack's host.

stackprobe.leftovers lists these kinds (with canaries and fault records) and sweeps them all;
the functions here are also called where each kind is made, before a new one is.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import docker.errors

from stackprobe.owners import RUNNER, owner_alive
from stackprobe.targets.host import Host
from stackprobe.targets.isolation import state_root

PREFIX = "spx"
_NAME = re.compile(rf"^{PREFIX}(\d+)x[0-9a-f]+$")
_LABEL = "com.docker.compose.project"
THROWAWAY_LABEL = "stackprobe.throwaway"
TARGET_LABEL = "stackprobe.target"  # the compose project a throwaway was made for
_IMAGE_TAG = re.compile(rf"^{PREFIX}(\d+)x[0-9a-f]+-[a-z0-9-]+:deploy$")
SCRATCH_PREFIX = "stackprobe-bkp-"


def dead_owner(name: str) -> int | None:
    """The pid in a copy's name (`spx<pid>x<hex>`) when that run is gone, else None."""
    match = _NAME.match(name)
    return int(match.group(1)) if match and not owner_alive(int(match.group(1))) else None


# --- copies of the stack -----------------------------------------------------------------
def dead_projects(client: Any) -> list[str]:
    """Projects of copies whose run is gone (by their containers and volumes)."""
    names = {str(labels_of(c).get(_LABEL, "")) for c in containers(client, _LABEL)}
    names |= {str((v.attrs.get("Labels") or {}).get(_LABEL, ""))
              for v in client.volumes.list(filters={"label": _LABEL})}
    return sorted(n for n in names if dead_owner(n) is not None)


def remove_projects(client: Any, projects: list[str]) -> None:
    for project in projects:
        subprocess.run(
            ["docker", "compose", "-p", project, "down", "-v", "--remove-orphans", "-t", "2"],
            capture_output=True, timeout=180,
        )
        for container in containers(client, f"{_LABEL}={project}"):
            with contextlib.suppress(docker.errors.NotFound):  # gone meanwhile: what was wanted
                container.remove(force=True, v=True)
        for volume in client.volumes.list(filters={"label": f"{_LABEL}={project}"}):
            volume.remove(force=True)


def dead_state_dirs() -> list[Path]:
    """The state directories (env files, fresh bind directories) of killed runs."""
    root = state_root()
    return [d for d in sorted(root.iterdir()) if dead_owner(d.name) is not None] if root.is_dir() else []


def _remove_dead_state() -> None:
    for directory in dead_state_dirs():
        shutil.rmtree(directory, ignore_errors=True)


def remove_leftovers(client: Any) -> list[str]:
    """Copies of killed runs and their state directories; the projects removed."""
    projects = dead_projects(client)
    remove_projects(client, projects)
    _remove_dead_state()
    return projects


# --- throwaway containers, volumes and images ----------------------------------------------
def throwaway_labels(what: str, pid: int, target_project: str) -> dict[str, str]:
    """The labels that let a later run tell a dead owner's throwaway object from a live run's,
    and name the copy or deployment it was made for."""
    return {THROWAWAY_LABEL: what, "stackprobe.runner": RUNNER, "stackprobe.pid": str(pid),
            TARGET_LABEL: target_project}


def containers(client: Any, label: str) -> list[Any]:
    """Containers with `label`, as the engine lists them: sparse, so one that another run removes
    between the list and an inspect (parallel parts, two gates at once) is no error."""
    return list(client.containers.list(all=True, sparse=True, filters={"label": label}))


def labels_of(thing: Any) -> dict[str, str]:
    """A container's or a volume's labels: a volume and a sparse container carry them in their
    attributes, an inspected container under Config."""
    attrs = thing.attrs or {}
    return dict(attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {})


def _dead_labelled(labels: dict[str, str]) -> bool:
    pid = str(labels.get("stackprobe.pid", ""))
    return labels.get("stackprobe.runner") == RUNNER and pid.isdigit() and not owner_alive(int(pid))


def dead_throwaway_containers(client: Any, what: str = "") -> list[Any]:
    """Throwaway containers (of kind `what`, or any) of this runner whose run is gone."""
    label = f"{THROWAWAY_LABEL}={what}" if what else THROWAWAY_LABEL
    return _dead_throwaways(containers(client, label))


def dead_throwaway_volumes(client: Any) -> list[Any]:
    return _dead_throwaways(client.volumes.list(filters={"label": THROWAWAY_LABEL}))


def _dead_throwaways(found: list[Any]) -> list[Any]:
    # a copy's own (compose-labelled) objects go with the copy
    return [t for t in found if _LABEL not in labels_of(t) and _dead_labelled(labels_of(t))]


def remove_throwaway_containers(client: Any, what: str = "") -> list[str]:
    removed = []
    for container in dead_throwaway_containers(client, what):
        with contextlib.suppress(Exception):  # gone meanwhile
            container.remove(force=True, v=True)  # and its anonymous volumes
            removed.append(str(container.name))
    return removed


def dead_images(client: Any) -> list[str]:
    """Tags a killed run's throwaway project built under its own name (owner pid dead)."""
    return sorted(tag for image in client.images.list() for tag in image.tags
                  if (m := _IMAGE_TAG.match(tag)) and not owner_alive(int(m.group(1))))


def remove_images(client: Any, tags: list[str]) -> list[str]:
    removed = []
    for tag in tags:
        try:
            client.images.remove(tag)
            removed.append(tag)
        except Exception:  # in use by a container another cleanup still removes
            pass
    return removed


# --- scratch directories on the stack's host ------------------------------------------------
def dead_scratch_dirs(host: Host, parent: str) -> list[str]:
    """Scratch directories of this runner under `parent` whose run is gone (they may hold copies
    of dumps and archives)."""
    mine = re.compile(rf"^{SCRATCH_PREFIX}{RUNNER}-(\d+)-")
    return [posixpath.join(parent, e.name) for e in host.listdir(parent) or []
            if (m := mine.match(e.name)) and e.kind == "dir" and not owner_alive(int(m.group(1)))]

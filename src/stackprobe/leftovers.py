"""Every kind of leftover a killed run can leave, in one registry, swept from one entry point.

A run removes what it makes in `finally`; a run killed outright (SIGKILL) cannot. Every name it
leaves carries the run's runner and pid, and one liveness check (stackprobe.owners.owner_alive)
tells a dead run's leftover (swept) from a concurrent run's (never touched). The kinds:

- copies of the stack (`spx<pid>x<hex>` projects, their volumes and state directories)
- throwaway containers, volumes and images (labelled, or tagged with the copy's name)
- scratch directories on the stack's host
- canary tables, databases and keys (where a connection to the stack's MySQL/Redis is given)
- fault undo records (healed on the target they name; without one, dropped once their container
  is gone, since there is nothing left to put back)

Each kind has `find(scope)` (only leftovers of dead runs), `describe(leftover)` and
`sweep(scope, found)` (one announcement line per leftover). `sweep_all(scope)` is what the
plugin calls at session start and `make clean-stacks` runs (`python -m stackprobe.leftovers`).
Where a kind is made (a canary, a scratch directory, a copy) its own sweep also runs first.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docker.errors import NotFound

from stackprobe import canary
from stackprobe.faults import RecordStore, UndoRecord, default_dir, heal_orphans
from stackprobe.targets import leftovers as engine
from stackprobe.targets.base import Target
from stackprobe.targets.host import Host, LocalHost
from stackprobe.targets.isolation import state_root


@dataclass(frozen=True)
class Leftover:
    kind: str  # the kind's name
    name: str  # what it is called where it lies
    run: str  # the run that left it: a copy's project name, or "pid N"
    handle: Any = field(default=None, compare=False, repr=False)  # what sweep() acts on


@dataclass
class Scope:
    """Where to look. Kinds whose place is not given find nothing (e.g. canaries without a
    connection to the stack's database)."""

    docker: Any = None  # the target's engine
    host: Host | None = None  # the stack's host (scratch directories)
    local: bool = True  # the engine and state root are this machine's (copies are compose projects here)
    scratch_parents: Sequence[str] = ()
    faults_dir: Path | None = None
    target: Target | None = None  # fault records of this target are healed on it
    mysql: Any = None  # a DB-API connection: canary tables (its database) and canary databases
    redis: Any = None  # a Redis client: canary keys
    host_command_prefix: list[str] = field(default_factory=list)

    @classmethod
    def of_target(cls, target: Target, faults_dir: Path) -> Scope:
        remote = target.host.remote
        return cls(docker=target.docker, host=target.host, local=not remote,
                   scratch_parents=["/tmp"] if remote else [tempfile.gettempdir()], faults_dir=faults_dir,
                   target=target, host_command_prefix=list(target.profile.chaos.host_command_prefix))


def _pid(pid: object) -> str:
    return f"pid {pid}"


class LeftoverKind:
    name = ""

    def find(self, scope: Scope) -> list[Leftover]:
        raise NotImplementedError

    def describe(self, leftover: Leftover) -> str:
        return f"{self.name} {leftover.name}"

    def remove(self, scope: Scope, leftover: Leftover) -> None:
        raise NotImplementedError

    def sweep(self, scope: Scope, found: list[Leftover]) -> list[str]:
        lines = []
        for leftover in found:
            self.remove(scope, leftover)
            lines.append(f"stackprobe: removed leftovers of killed run {leftover.run}: {self.describe(leftover)}")
        return lines


class StackCopies(LeftoverKind):
    name = "copy of the stack"

    def find(self, scope: Scope) -> list[Leftover]:
        if not scope.local:  # a remote engine's projects are not this machine's compose projects
            return []
        names = set(engine.dead_projects(scope.docker)) if scope.docker is not None else set()
        names |= {d.name for d in engine.dead_state_dirs()}
        return [Leftover(self.name, n, n) for n in sorted(names)]

    def describe(self, leftover: Leftover) -> str:
        return f"{self.name} (containers, volumes, state directory)"

    def remove(self, scope: Scope, leftover: Leftover) -> None:
        if scope.docker is not None:
            engine.remove_projects(scope.docker, [leftover.name])
        shutil.rmtree(state_root() / leftover.name, ignore_errors=True)


class Throwaways(LeftoverKind):
    """Throwaway containers or volumes, labelled with their run's runner and pid."""

    def __init__(self, name: str, dead: Callable[[Any], list[Any]]) -> None:
        self.name, self.dead = name, dead

    def find(self, scope: Scope) -> list[Leftover]:
        if scope.docker is None:
            return []
        return [Leftover(self.name, str(o.name), _pid(engine.labels_of(o).get("stackprobe.pid")), o)
                for o in self.dead(scope.docker)]

    def remove(self, scope: Scope, leftover: Leftover) -> None:
        leftover.handle.remove(force=True)


class ThrowawayImages(LeftoverKind):
    name = "throwaway image"

    def find(self, scope: Scope) -> list[Leftover]:
        if scope.docker is None:
            return []
        return [Leftover(self.name, tag, tag.split("-", 1)[0]) for tag in engine.dead_images(scope.docker)]

    def sweep(self, scope: Scope, found: list[Leftover]) -> list[str]:
        # an image still used by a container another sweep removes later is left for the next run
        removed = set(engine.remove_images(scope.docker, [f.name for f in found]))
        return super().sweep(scope, [f for f in found if f.name in removed])

    def remove(self, scope: Scope, leftover: Leftover) -> None:
        pass  # removed together in sweep()


class ScratchDirectories(LeftoverKind):
    name = "scratch directory"

    def find(self, scope: Scope) -> list[Leftover]:
        if scope.host is None:
            return []
        return [Leftover(self.name, path, _pid(path.rsplit("/", 1)[-1].split("-")[3]))
                for parent in scope.scratch_parents for path in engine.dead_scratch_dirs(scope.host, parent)]

    def remove(self, scope: Scope, leftover: Leftover) -> None:
        assert scope.host is not None
        scope.host.remove_tree(leftover.name)


class Canaries(LeftoverKind):
    """Canary objects in the stack's MySQL (`place` "mysql": tables, databases) or Redis
    ("redis": keys), named `stackprobe_canary_<runner>_<pid>_<hex>` or the key form."""

    def __init__(self, name: str, place: str, orphaned: Callable[[Any], list[str]],
                 drop: Callable[[Any, list[str]], list[str]]) -> None:
        self.name, self.place, self.orphaned, self.drop = name, place, orphaned, drop

    def find(self, scope: Scope) -> list[Leftover]:
        client = getattr(scope, self.place)
        if client is None:
            return []
        return [Leftover(self.name, n, _pid(n.replace(":", "_").split("_")[3])) for n in self.orphaned(client)]

    def remove(self, scope: Scope, leftover: Leftover) -> None:
        self.drop(getattr(scope, self.place), [leftover.name])


class FaultRecords(LeftoverKind):
    """A killed run's fault is still on the stack: healing it (the undo) is its sweep."""

    name = "fault undo record"

    def _stores(self, scope: Scope) -> list[RecordStore]:
        if scope.faults_dir is None:
            return []
        if scope.target is not None:
            return [RecordStore(scope.faults_dir, scope.target.label, scope.target.project)]
        return [_DirectoryStore(d) for d in sorted(scope.faults_dir.iterdir()) if d.is_dir()] \
            if scope.faults_dir.is_dir() else []

    def find(self, scope: Scope) -> list[Leftover]:
        found = []
        for store in self._stores(scope):
            for record in store.orphaned():
                if scope.target is None and not self._gone(scope, record):
                    continue  # its fault is still on a stack: a run against that stack heals it
                found.append(Leftover(self.name, record.describe(), _pid(record.owner_pid), (store, record)))
        return found

    @staticmethod
    def _gone(scope: Scope, record: UndoRecord) -> bool:
        """The record's container no longer exists on this engine (its copy was removed)."""
        if scope.docker is None or not scope.local or record.host != LocalHost.label:
            return False
        try:
            scope.docker.containers.get(record.container_id)
        except NotFound:
            return True
        return False

    def describe(self, leftover: Leftover) -> str:
        return f"{self.name} of {leftover.name} (its container is gone: nothing to put back)"

    def sweep(self, scope: Scope, found: list[Leftover]) -> list[str]:
        if scope.target is not None:  # heal on the target, in the injector's own words
            store = RecordStore(scope.faults_dir or default_dir(), scope.target.label, scope.target.project)
            return heal_orphans(scope.target, store, scope.host_command_prefix) if store.directory.is_dir() else []
        return super().sweep(scope, found)

    def remove(self, scope: Scope, leftover: Leftover) -> None:
        store, record = leftover.handle
        store.remove(record)


class _DirectoryStore(RecordStore):
    """The records of one directory under the faults directory, whatever target it names."""

    def __init__(self, directory: Path) -> None:
        self.root, self.directory = directory.parent, directory


# Fault records first: a killed run's fault is put back before anything else happens.
KINDS: tuple[LeftoverKind, ...] = (FaultRecords(), StackCopies(),
                                   Throwaways("throwaway container", engine.dead_throwaway_containers),
                                   Throwaways("throwaway volume", engine.dead_throwaway_volumes),
                                   ThrowawayImages(), ScratchDirectories(),
                                   Canaries("canary table", "mysql", canary.orphaned_tables, canary.drop_tables),
                                   Canaries("canary database", "mysql", canary.orphaned_databases,
                                            canary.drop_databases),
                                   Canaries("canary key", "redis", canary.orphaned_keys, canary.delete_keys))


def find_all(scope: Scope, kinds: Sequence[LeftoverKind] = KINDS) -> list[Leftover]:
    return [leftover for kind in kinds for leftover in kind.find(scope)]


def sweep_all(scope: Scope, kinds: Sequence[LeftoverKind] = KINDS) -> list[str]:
    """Every leftover of dead runs the scope reaches, swept; one line per leftover (or per
    failure: a kind that cannot be swept is said and the others still are)."""
    lines: list[str] = []
    for kind in kinds:
        try:
            lines += kind.sweep(scope, kind.find(scope))
        except Exception as error:
            lines.append(f"stackprobe: could not sweep leftovers ({kind.name}s) of dead runs: "
                         f"{type(error).__name__}: {str(error)[:200]}")
    return lines


def main() -> int:
    """`make clean-stacks`: this machine's engine and temporary directory, the faults directory
    under the current directory (the repository's)."""
    from stackprobe.targets.base import docker_client

    scope = Scope(docker=docker_client(), host=LocalHost(), scratch_parents=[tempfile.gettempdir()],
                  faults_dir=default_dir())
    lines = sweep_all(scope)
    print("\n".join(lines) if lines else "stackprobe: no leftovers of dead runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""stackprobe.leftovers: every kind finds and sweeps only what a dead run left (one liveness
check, stackprobe.owners); a live run's leftovers, and another runner's, are never touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from docker.errors import NotFound

from stackprobe import leftovers
from stackprobe.canary import PREFIX, REDIS_PREFIX
from stackprobe.faults import RecordStore, UndoRecord
from stackprobe.leftovers import KINDS, Scope, find_all, sweep_all
from stackprobe.owners import RUNNER
from stackprobe.targets import leftovers as engine
from stackprobe.targets.host import LocalHost
from stackprobe.targets.isolation import state_root

LIVE = os.getpid()


@pytest.fixture(scope="module")
def dead() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid names no process now
    return child.pid


# --- a Docker engine in memory ---------------------------------------------------------------
def _matches(labels: dict[str, str], filters: dict[str, str] | None) -> bool:
    wanted = (filters or {}).get("label")
    if not wanted:
        return True
    key, _, value = wanted.partition("=")
    return key in labels and (not value or labels[key] == value)


class Thing:
    def __init__(self, owner: Any, name: str, labels: dict[str, str] | None = None) -> None:
        self.owner, self.name, self.labels, self.id = owner, name, labels or {}, name
        self.attrs = {"Labels": self.labels}

    def remove(self, **_: Any) -> None:
        self.owner.items.remove(self)


class Collection:
    def __init__(self) -> None:
        self.items: list[Thing] = []

    def add(self, name: str, labels: dict[str, str] | None = None) -> Thing:
        self.items.append(Thing(self, name, labels))
        return self.items[-1]

    def list(self, all: bool = False, filters: dict[str, str] | None = None, sparse: bool = False) -> list[Thing]:
        return [t for t in self.items if _matches(t.labels, filters)]

    def get(self, name: str) -> Thing:
        for thing in self.items:
            if thing.id == name:
                return thing
        raise NotFound(f"no {name}")


class Images:
    def __init__(self) -> None:
        self.tags: list[str] = []

    def list(self) -> list[Any]:
        return [SimpleNamespace(tags=[t]) for t in self.tags]

    def remove(self, tag: str, **_: Any) -> None:
        self.tags.remove(tag)


class Engine:
    def __init__(self) -> None:
        self.containers, self.volumes, self.images = Collection(), Collection(), Images()


@pytest.fixture
def docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Engine:
    client = Engine()
    downs: list[str] = []

    def compose_down(argv: list[str], **_: Any) -> Any:  # `docker compose -p P down`: P's objects go
        project = argv[argv.index("-p") + 1]
        downs.append(project)
        for collection in (client.containers, client.volumes):
            collection.items = [t for t in collection.items
                                if t.labels.get("com.docker.compose.project") != project]
        return SimpleNamespace(returncode=0)

    monkeypatch.setattr(engine.subprocess, "run", compose_down)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    client.downs = downs  # type: ignore[attr-defined]
    return client


def project_labels(name: str) -> dict[str, str]:
    return {"com.docker.compose.project": name}


def kind_named(name: str) -> leftovers.LeftoverKind:
    return next(k for k in KINDS if k.name == name)


def names(found: list[leftovers.Leftover]) -> list[str]:
    return [f.name for f in found]


# --- copies of the stack ------------------------------------------------------------------------
def test_copies_of_dead_runs_are_swept_with_their_state_and_live_ones_kept(docker: Engine, dead: int) -> None:
    gone, running = f"spx{dead}x0a0b", f"spx{LIVE}x0c0d"
    for project in (gone, running, "not_a_copy"):
        docker.containers.add(f"{project}-mysql-1", project_labels(project))
        docker.volumes.add(f"{project}_mysql_data", project_labels(project))
        (state_root() / project).mkdir(parents=True)
    only_state = f"spx{dead}xffff"  # its containers are gone, its env file is not
    (state_root() / only_state).mkdir()
    kind = leftovers.StackCopies()
    scope = Scope(docker=docker)
    found = kind.find(scope)
    assert names(found) == sorted([gone, only_state])
    lines = kind.sweep(scope, found)
    assert f"stackprobe: removed leftovers of killed run {gone}: copy of the stack (containers, volumes, " \
           "state directory)" in lines
    left = {t.name for t in docker.containers.items}
    assert left == {f"{running}-mysql-1", "not_a_copy-mysql-1"}
    assert {v.name for v in docker.volumes.items} == {f"{running}_mysql_data", "not_a_copy_mysql_data"}
    assert not (state_root() / gone).exists() and not (state_root() / only_state).exists()
    assert (state_root() / running).is_dir() and (state_root() / "not_a_copy").is_dir()
    assert kind.find(scope) == []


def test_a_remote_engine_has_no_copies_of_this_machine(docker: Engine, dead: int) -> None:
    docker.containers.add("x", project_labels(f"spx{dead}x0a0b"))
    assert leftovers.StackCopies().find(Scope(docker=docker, local=False)) == []


# --- throwaway containers, volumes, images ---------------------------------------------------------
@pytest.mark.parametrize("kind_name", ["throwaway container", "throwaway volume"])
def test_throwaway_objects_of_dead_runs_only(docker: Engine, dead: int, kind_name: str) -> None:
    kind = kind_named(kind_name)
    collection = docker.containers if kind_name == "throwaway container" else docker.volumes
    collection.add("gone", engine.throwaway_labels("bkp-06", dead, "spx1x0"))
    collection.add("running", engine.throwaway_labels("bkp-06", LIVE, "spx1x0"))
    collection.add("other-runner", {**engine.throwaway_labels("bkp-06", dead, "spx1x0"), "stackprobe.runner": "ffffff"})
    collection.add("of-a-copy", {**engine.throwaway_labels("bkp-09", dead, "spx1x0"), **project_labels("spx1x0")})
    scope = Scope(docker=docker)
    found = kind.find(scope)
    assert names(found) == ["gone"] and found[0].run == f"pid {dead}"
    assert kind.sweep(scope, found) == [f"stackprobe: removed leftovers of killed run pid {dead}: {kind.name} gone"]
    assert {t.name for t in collection.items} == {"running", "other-runner", "of-a-copy"}


def test_images_a_dead_copy_built_are_swept(docker: Engine, dead: int) -> None:
    docker.images.tags = [f"spx{dead}x0a0b-backend:deploy", f"spx{LIVE}x0a0b-backend:deploy", "mysql:8.0"]
    kind = leftovers.ThrowawayImages()
    scope = Scope(docker=docker)
    found = kind.find(scope)
    assert names(found) == [f"spx{dead}x0a0b-backend:deploy"]
    assert kind.sweep(scope, found) == [f"stackprobe: removed leftovers of killed run spx{dead}x0a0b: throwaway "
                                        f"image spx{dead}x0a0b-backend:deploy"]
    assert docker.images.tags == [f"spx{LIVE}x0a0b-backend:deploy", "mysql:8.0"]


# --- scratch directories -----------------------------------------------------------------------------
def test_scratch_directories_of_dead_runs_only(tmp_path: Path, dead: int) -> None:
    gone = tmp_path / f"{engine.SCRATCH_PREFIX}{RUNNER}-{dead}-abc"
    running = tmp_path / f"{engine.SCRATCH_PREFIX}{RUNNER}-{LIVE}-abc"
    other = tmp_path / f"{engine.SCRATCH_PREFIX}ffffff-{dead}-abc"
    for path in (gone, running, other):
        path.mkdir()
    kind = leftovers.ScratchDirectories()
    scope = Scope(host=LocalHost(), scratch_parents=[str(tmp_path)])
    found = kind.find(scope)
    assert names(found) == [str(gone)] and found[0].run == f"pid {dead}"
    kind.sweep(scope, found)
    assert not gone.exists() and running.is_dir() and other.is_dir()


# --- canaries ----------------------------------------------------------------------------------------
class Database:
    """A MySQL connection in memory: tables of the current database and databases, by name."""

    def __init__(self, tables: list[str], databases: list[str]) -> None:
        self.tables, self.databases = tables, databases

    def cursor(self) -> Database:
        return self

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def execute(self, sql: str, args: tuple[str, ...] = ()) -> None:
        self.rows = [(n,) for n in (self.tables if "information_schema.tables" in sql else self.databases)]
        for word, place in (("DROP TABLE IF EXISTS", self.tables), ("DROP DATABASE IF EXISTS", self.databases)):
            if sql.startswith(word):
                place.remove(sql.split("`")[1])

    def fetchall(self) -> list[tuple[str]]:
        return self.rows


def canary_of(pid: int, runner: str = RUNNER) -> str:
    return f"{PREFIX}_{runner}_{pid}_0a0b0c0d"


@pytest.mark.parametrize("kind", [kind_named("canary table"), kind_named("canary database")],
                         ids=["tables", "databases"])
def test_canaries_in_mysql_of_dead_runs_only(dead: int, kind: leftovers.LeftoverKind) -> None:
    mine = [canary_of(dead), canary_of(LIVE), canary_of(dead, "ffffff"), "documents"]
    connection = Database(list(mine), list(mine))
    scope = Scope(mysql=connection)
    found = kind.find(scope)
    assert names(found) == [canary_of(dead)] and found[0].run == f"pid {dead}"
    kind.sweep(scope, found)
    swept = connection.tables if kind.name == "canary table" else connection.databases
    kept = connection.databases if kind.name == "canary table" else connection.tables
    assert swept == mine[1:] and kept == mine


class Keys:
    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def scan_iter(self, match: str, count: int = 0) -> list[bytes]:
        return [k.encode() for k in self.keys if k.startswith(match.rstrip("*"))]

    def delete(self, *keys: str) -> int:
        for key in keys:
            self.keys.remove(key)
        return len(keys)


def test_canary_keys_of_dead_runs_only(dead: int) -> None:
    gone, running = f"{REDIS_PREFIX}:{RUNNER}:{dead}:0a0b:k1", f"{REDIS_PREFIX}:{RUNNER}:{LIVE}:0a0b:k1"
    other = f"{REDIS_PREFIX}:ffffff:{dead}:0a0b:k1"
    client = Keys([gone, running, other, "session:1"])
    kind = kind_named("canary key")
    scope = Scope(redis=client)
    found = kind.find(scope)
    assert names(found) == [gone] and found[0].run == f"pid {dead}"
    kind.sweep(scope, found)
    assert client.keys == [running, other, "session:1"]


# --- fault undo records --------------------------------------------------------------------------------
def record(pid: int, container: str) -> UndoRecord:
    return UndoRecord("pause", "mysql", "proj", "this host", container, "proj-mysql", owner_pid=pid, owner_started="")


def test_without_a_target_records_of_dead_runs_whose_container_is_gone_are_dropped(
        docker: Engine, dead: int, tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "faults", "this host", "proj")
    docker.containers.add("still-there")
    gone, on_a_stack, running = record(dead, "removed"), record(dead, "still-there"), record(LIVE, "removed")
    for r in (gone, on_a_stack, running):
        store.write(r)
    kind = leftovers.FaultRecords()
    scope = Scope(docker=docker, faults_dir=tmp_path / "faults")
    found = kind.find(scope)
    assert [f.handle[1].id for f in found] == [gone.id]  # a fault still on a stack waits for a run on it
    assert kind.sweep(scope, found) == [f"stackprobe: removed leftovers of killed run pid {dead}: fault undo record "
                                        "of pause of mysql (proj-mysql) (its container is gone: nothing to put back)"]
    assert sorted(r.id for r in store.records()) == sorted([on_a_stack.id, running.id])


def test_with_a_target_records_of_dead_runs_are_healed_on_it(docker: Engine, dead: int, tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "faults", "this host", "proj")
    gone, running = record(dead, "removed"), record(LIVE, "removed")
    store.write(gone)
    store.write(running)
    target = SimpleNamespace(label="this host", project="proj", docker=docker, host=LocalHost(),
                             profile=SimpleNamespace(chaos=SimpleNamespace(host_command_prefix=[])))
    scope = Scope.of_target(target, tmp_path / "faults")  # type: ignore[arg-type]
    assert [f.run for f in leftovers.FaultRecords().find(scope)] == [f"pid {dead}"]
    lines = leftovers.FaultRecords().sweep(scope, leftovers.FaultRecords().find(scope))
    assert len(lines) == 1 and lines[0].startswith(f"stackprobe: healed pause of mysql (proj-mysql) left by killed "
                                                   f"run (pid {dead}")
    assert [r.id for r in store.records()] == [running.id]


# --- the one entry point -----------------------------------------------------------------------------
def test_sweep_all_names_each_kind_and_goes_on_past_a_kind_that_fails(docker: Engine, dead: int,
                                                                      tmp_path: Path) -> None:
    docker.containers.add("c", project_labels(f"spx{dead}x0a0b"))
    docker.images.tags = [f"spx{dead}x0a0b-backend:deploy"]

    class Broken:
        def scan_iter(self, **_: Any) -> list[str]:
            raise ConnectionError("redis went away")

    (tmp_path / f"{engine.SCRATCH_PREFIX}{RUNNER}-{dead}-abc").mkdir()
    scope = Scope(docker=docker, host=LocalHost(), scratch_parents=[str(tmp_path)], redis=Broken())
    assert {f.kind for f in find_all(Scope(docker=docker))} == {"copy of the stack", "throwaway image"}
    lines = sweep_all(scope)
    assert [line.split(": ", 2)[-1].split(" ")[0:3] for line in lines[:3]] == [
        ["copy", "of", "the"], ["throwaway", "image", f"spx{dead}x0a0b-backend:deploy"],
        ["scratch", "directory", str(tmp_path / f"{engine.SCRATCH_PREFIX}{RUNNER}-{dead}-abc")]]
    assert lines[3] == ("stackprobe: could not sweep leftovers (canary keys) of dead runs: ConnectionError: "
                        "redis went away")
    assert sweep_all(Scope(docker=docker, host=LocalHost(), scratch_parents=[str(tmp_path)])) == []


def test_every_kind_is_named_once() -> None:
    assert len({k.name for k in KINDS}) == len(KINDS) and all(k.name for k in KINDS)


def test_make_clean_stacks_sweeps_this_machine(docker: Engine, dead: int, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`make clean-stacks` (python -m stackprobe.leftovers): the engine, the temporary directory and
    the faults directory under the current directory."""
    import tempfile

    import stackprobe.targets.base

    monkeypatch.setattr(stackprobe.targets.base, "docker_client", lambda: docker)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STACKPROBE_FAULTS_DIR", raising=False)
    docker.containers.add("c", project_labels(f"spx{dead}x0a0b"))
    (tmp_path / f"{engine.SCRATCH_PREFIX}{RUNNER}-{dead}-abc").mkdir()
    RecordStore(tmp_path / ".stackprobe" / "faults", "this host", "proj").write(record(dead, "removed"))
    assert leftovers.main() == 0
    said = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[2].split(" ")[0] for line in said] == ["fault", "copy", "scratch"], said
    assert leftovers.main() == 0 and capsys.readouterr().out == "stackprobe: no leftovers of dead runs\n"

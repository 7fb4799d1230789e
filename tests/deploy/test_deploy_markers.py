"""The deploy suite's steps (stackprobe.deploy_markers) without Docker: a fake project whose
backend, database, Redis and uploads live in memory, so writing a marker and reading it back,
losing each part of it, failing commands and requests are all seen."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from stackprobe.commands import CommandRun
from stackprobe.deploy import DeployProject
from stackprobe.deploy.markers import (
    MARKER_TEXT_MAX,
    StepFailed,
    container_ids,
    ensure_initialized,
    marker,
    marker_problems,
    not_up,
    put_document,
    succeeded,
    top_hit,
)
from stackprobe.evidence import Evidence
from stackprobe.profile import Profile, load_profile


@dataclass
class Response:
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return self.body

    @property
    def text(self) -> str:
        import json

        return json.dumps(self.body)


@dataclass
class Backend:
    """The backend's API, database, Redis and uploads directory, in memory."""

    rows: dict[int, str] = field(default_factory=dict)
    vectors: dict[str, int] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    status: int = 201

    def request(self, method: str, url: str, json: dict[str, Any], timeout: float) -> Response:
        assert method == "POST", method  # the profile's [vector_store] query_method
        return self.post(url, json, timeout)

    def post(self, url: str, json: dict[str, Any], timeout: float) -> Response:
        if "query" in json:  # vector search
            hit = self.vectors.get(json["query"])
            return Response(200, {"ids": [hit] if hit is not None else []})
        if self.status not in {200, 201}:
            return Response(self.status)
        doc_id = len(self.rows) + 1
        self.rows[doc_id] = json["content"]
        self.vectors[json["content"]] = doc_id
        return Response(self.status, {"id": doc_id})

    def get(self, url: str, timeout: float) -> Response:
        """The profile's [chaos] api_read_path: /api/v1/documents/{id}."""
        content = self.rows.get(int(url.rsplit("/", 1)[-1]))
        return Response(200, {"content": content}) if content is not None else Response(404)

    def put(self, url: str, content: bytes, timeout: float) -> Response:
        name = url.rsplit("/", 1)[-1]
        self.uploads[name] = content
        return Response(self.status, {"stored_as": name})


class Redis:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def set(self, key: str, value: str) -> None:
        self.backend.keys[key] = value

    def get(self, key: str) -> str | None:
        return self.backend.keys.get(key)


class Service:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def exec(self, argv: list[str]) -> Any:
        lines = [f"{hashlib.sha256(data).hexdigest()}  ./{name}" for name, data in self.backend.uploads.items()]
        return type("Exec", (), {"output": "\n".join(lines) + "\n", "exit_code": 0})()

    def file_digests(self, directory: str) -> dict[str, str]:
        """As the real Service does: sha256sum's listing of the directory, parsed."""
        from stackprobe.commands import parse_sha256sum

        return parse_sha256sum(self.exec(["sha256sum"]).output)


class Target:
    backend_url = "http://127.0.0.1:8000"

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def http(self) -> Backend:
        return self.backend

    def redis(self) -> Redis:
        return Redis(self.backend)


class Project:
    def __init__(self, containers: dict[str, dict[str, str]] | None = None, init_exit: int = 0,
                 profile: Profile | None = None) -> None:
        self.profile = profile or Profile()
        self.backend_data = Backend()
        self.target = Target(self.backend_data)
        self.containers = containers if containers is not None else {
            "db": {"id": "a1", "name": "p-db-1", "status": "running", "health": "healthy"},
            "api": {"id": "b2", "name": "p-api-1", "status": "running", "health": "none"},
        }
        self.init_exit = init_exit
        self.commands: list[str] = []

    def containers_by_service(self) -> dict[str, dict[str, str]]:
        return self.containers

    def running(self) -> bool:
        return bool(self.containers) and all(s["status"] == "running" for s in self.containers.values())

    def deploy(self, *args: str) -> CommandRun:
        self.commands.append(" ".join(args))
        return CommandRun(["deploy.sh", *args], self.init_exit, 0.1, "", "migration failed" if self.init_exit else "")

    def backend(self) -> Service:
        return Service(self.backend_data)


def as_project(fake: Project) -> DeployProject:
    return cast(DeployProject, fake)


def test_succeeded_records_the_run_and_fails_with_its_description() -> None:
    evidence = Evidence()
    run = CommandRun(["deploy.sh", "init"], 0, 1.0, "ok", "")
    assert succeeded(run, evidence, "init") is run
    with pytest.raises(StepFailed, match=r"^update: `deploy.sh update` exited 2: boom$"):
        succeeded(CommandRun(["deploy.sh", "update"], 2, 1.0, "", "boom"), evidence, "update")
    recorded = [cmd["cmd"] for name, cmd in evidence.items() if name == "commands"]
    assert recorded == ["deploy.sh init", "deploy.sh update"]


def test_ensure_initialized_runs_init_only_when_not_running() -> None:
    running = Project()
    ensure_initialized(as_project(running), Evidence())
    assert running.commands == []
    stopped = Project({"db": {"id": "a", "name": "db", "status": "exited", "health": "none"}})
    ensure_initialized(as_project(stopped), Evidence())
    assert stopped.commands == ["init"]
    with pytest.raises(StepFailed, match="init \\(set-up for this check\\)"):
        ensure_initialized(as_project(Project({}, init_exit=1)), Evidence())


def test_not_up_names_stopped_and_unhealthy_services_and_an_empty_project() -> None:
    assert not_up(as_project(Project())) == []
    mixed = Project({"db": {"id": "a", "name": "db", "status": "running", "health": "unhealthy"},
                     "api": {"id": "b", "name": "api", "status": "exited", "health": "none"}})
    assert not_up(as_project(mixed)) == ["db is running/unhealthy", "api is exited/none"]
    assert not_up(as_project(Project({}))) == ["no containers at all"]
    assert container_ids(as_project(mixed)) == {"db": ("a", "running"), "api": ("b", "exited")}


def test_a_marker_reads_back_whole_and_each_lost_part_is_named() -> None:
    project = Project()
    seen = marker(as_project(project))
    assert marker_problems(as_project(project), seen, "after update") == []
    data = project.backend_data
    del data.uploads[seen["upload"]]
    data.keys.clear()
    del data.vectors[seen["text"]]
    del data.rows[int(seen["doc_id"])]
    assert marker_problems(as_project(project), seen, "after update") == [
        f"document {seen['doc_id']} not read back after update (GET /api/v1/documents/{seen['doc_id']} answered 404)",
        f"vector of document {seen['doc_id']} not found after update: the search for its text ranked nothing first",
        f"cache key {seen['key']} missing after update",
        f"uploaded file {seen['upload']} missing after update",
    ]


def test_a_stack_without_cache_vectors_or_uploads_gets_a_document_marker_only(tmp_path: Path) -> None:
    """What the stack does not have is neither written nor asked for again (no Redis client is made,
    no search is sent, no file is uploaded); the document is still read back through the API."""
    file = tmp_path / "profile.toml"
    file.write_text('[absent]\nparts = ["cache", "vector_store"]\n[deploy]\nuploads_path = ""\n')
    profile = load_profile(file)
    project = Project(profile=profile)
    project.target.redis = None  # type: ignore[assignment,method-assign]  # any use of it fails the test
    seen = marker(as_project(project))
    assert sorted(seen) == ["doc_id", "text"] and project.backend_data.uploads == {}
    assert len(seen["text"]) <= MARKER_TEXT_MAX  # it also goes into the marker row's column
    assert marker_problems(as_project(project), seen, "after restart") == []
    del project.backend_data.rows[int(seen["doc_id"])]
    project.backend_data.vectors.clear()
    assert marker_problems(as_project(project), seen, "after restart") == [
        f"document {seen['doc_id']} not read back after restart (GET /api/v1/documents/{seen['doc_id']} answered 404)"]


def test_failed_requests_fail_the_step_and_a_search_miss_is_none() -> None:
    project = Project()
    project.backend_data.status = 500
    with pytest.raises(StepFailed, match=r"storing a document: POST /api/v1/documents answered 500$"):
        put_document(as_project(project), "text")
    assert top_hit(as_project(Project()), "never stored") is None

"""The deploy suite's steps on its throwaway project (stackprobe.deploy.DeployProject): run a
deploy command and require success, what is not up, and marker data (a document row with its
vector, a Redis key, an uploaded file) written before a step and read back after it.

A failed step raises StepFailed, an AssertionError, so a check using it fails with its message.
"""

from __future__ import annotations

import secrets
from typing import Any

from stackprobe.api_write import ApiWriteFailed, upload_file, write_document
from stackprobe.commands import CommandRun
from stackprobe.deploy import DeployProject
from stackprobe.evidence import Evidence
from stackprobe.vector import search


class StepFailed(AssertionError):
    """A deploy step or a request the check relies on failed; one line naming it."""


def succeeded(run: CommandRun, evidence: Evidence, what: str) -> CommandRun:
    """`run`, recorded; StepFailed unless it exited 0."""
    evidence.record("commands", run.summary())
    if run.exit_code != 0:
        raise StepFailed(f"{what}: {run.describe()}")
    return run


def ensure_initialized(project: DeployProject, evidence: Evidence) -> None:
    """A running, migrated project (init on a fresh one) for checks that need one."""
    if not project.running():
        succeeded(project.deploy("init"), evidence, "init (set-up for this check)")


def not_up(project: DeployProject) -> list[str]:
    """Problems: services not running or not Docker-healthy (no containers at all is one)."""
    services = project.containers_by_service()
    problems = [f"{name} is {s['status']}/{s['health']}" for name, s in services.items()
                if s["status"] != "running" or s["health"] not in {"healthy", "none"}]
    return problems if services else ["no containers at all"]


def container_ids(project: DeployProject) -> dict[str, tuple[str, str]]:
    """service -> (container id, status)."""
    return {name: (s["id"], s["status"]) for name, s in project.containers_by_service().items()}


def put_document(project: DeployProject, text: str) -> int:
    """Store a document through the backend's API; its id."""
    try:
        return int(write_document(project.target.http(), project.target.backend_url, project.profile.chaos, text))
    except ApiWriteFailed as error:
        raise StepFailed(f"storing a document: {error}") from None


def put_upload(project: DeployProject, name: str, data: bytes) -> str:
    """Upload a file through the backend's API; the name it was stored as."""
    try:
        return upload_file(project.target.http(), project.target.backend_url, project.profile.deploy, name, data)
    except ApiWriteFailed as error:
        raise StepFailed(str(error)) from None


def top_hit(project: DeployProject, text: str) -> str | None:
    """The id vector search ranks first for `text` (None: no hit; a note when it failed)."""
    answer = search(project.target.http(), project.target.backend_url, project.profile.vector_store, text, 1)
    if answer.problem:
        return f"({answer.problem})"
    return answer.ids[0] if answer.ids else None


def document_row(project: DeployProject, doc_id: int) -> tuple[Any, ...] | None:
    with project.target.mysql() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id, content FROM documents WHERE id = %s", (doc_id,))
        row = cursor.fetchone()
        return tuple(row) if row else None


def marker(project: DeployProject) -> dict[str, Any]:
    """Write one document (a row and a vector), one Redis key, one uploaded file; what to read back."""
    text = f"stackprobe deploy marker {secrets.token_hex(8)}"
    key = f"stackprobe:deploy:{secrets.token_hex(6)}"
    project.target.redis().set(key, text)
    data = secrets.token_bytes(2048)
    return {"text": text, "doc_id": put_document(project, text), "key": key,
            "upload": put_upload(project, f"marker-{secrets.token_hex(4)}.bin", data)}


def marker_problems(project: DeployProject, seen: dict[str, Any], when: str) -> list[str]:
    """What of `marker()`'s data is no longer there, `when` saying after which step."""
    problems = []
    if document_row(project, seen["doc_id"]) != (seen["doc_id"], seen["text"]):
        problems.append(f"document row {seen['doc_id']} missing {when}")
    if top_hit(project, seen["text"]) != str(seen["doc_id"]):
        problems.append(f"vector of document {seen['doc_id']} not found {when}")
    if project.target.redis().get(seen["key"]) != seen["text"]:
        problems.append(f"Redis key {seen['key']} missing {when}")
    uploads = project.profile.deploy.uploads_dir
    if uploads and seen["upload"] not in project.backend().file_digests(uploads):
        problems.append(f"uploaded file {seen['upload']} missing {when}")
    return problems

"""The deploy suite's steps on its throwaway project (stackprobe.deploy.DeployProject): run a
deploy command and require success, what is not up, and marker data (a document read back
through the API, or a row of the database where the API stores nothing; its vector, a cache key,
an uploaded file: each where the stack has one) written before a step and read back after it.

A failed step raises StepFailed, an AssertionError, so a check using it fails with its message.
"""

from __future__ import annotations

import secrets
from typing import Any

from stackprobe.api_write import ApiWriteFailed, read_problem, stores_documents, upload_file, write_document
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


def put_document(project: DeployProject, text: str) -> str:
    """Store a document through the backend's API; its id."""
    try:
        return write_document(project.target.http(), project.target.backend_url, project.profile.chaos, text)
    except ApiWriteFailed as error:
        raise StepFailed(f"storing a document: {error}") from None


def writes_documents(project: DeployProject) -> bool:
    return stores_documents(project.profile.absent)


def stores_uploads(project: DeployProject) -> bool:
    """Whether the backend takes uploaded files ([deploy] uploads_path; "" for a stack without)."""
    return bool(project.profile.deploy.uploads_path)


def has_vector_search(project: DeployProject) -> bool:
    return "vector_store" not in project.profile.absent.parts


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


MARKER_TABLE = "stackprobe_deploy_marker"  # in the throwaway project's own database only
MARKER_TEXT_MAX = 255  # its column's width: every marker text fits


def _marker_rows(project: DeployProject, sql: str, text: str, create: bool = False) -> list[Any]:
    """`sql` with `text` on the project's database (the marker table created first if asked)."""
    try:
        with project.target.mysql(timeout=10, read_timeout=30) as connection, connection.cursor() as cursor:
            if create:
                cursor.execute(f"CREATE TABLE IF NOT EXISTS `{MARKER_TABLE}` "
                               f"(id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR({MARKER_TEXT_MAX}) NOT NULL)")
            cursor.execute(sql, (text,))
            rows = list(cursor.fetchall())
            connection.commit()
            return rows
    except Exception as error:  # the database refused or is unreachable: one line, the step fails
        raise StepFailed(f"the marker row in {MARKER_TABLE}: {type(error).__name__}: {error}") from None


def marker(project: DeployProject) -> dict[str, Any]:
    """Write one document through the API (and its vector) or else a row into the database, one
    cache key and one uploaded file, each where the stack has one; what to read back."""
    # several random words: each marker's vector far from every other's, even under a crude
    # embedding (64 hashed dimensions: one random word in common text ties 1 time in 128)
    text = "stackprobe deploy marker " + " ".join(secrets.token_hex(3) for _ in range(6))
    seen: dict[str, Any] = {"text": text}
    if writes_documents(project):
        seen["doc_id"] = put_document(project, text)
    else:  # no API route stores anything: the text goes into the project's database itself
        _marker_rows(project, f"INSERT INTO `{MARKER_TABLE}` (v) VALUES (%s)", text, create=True)
        seen["row"] = True
    if project.profile.services.cache:
        seen["key"] = f"stackprobe:deploy:{secrets.token_hex(6)}"
        project.target.redis().set(seen["key"], text)
    if stores_uploads(project):
        seen["upload"] = put_upload(project, f"marker-{secrets.token_hex(4)}.bin", secrets.token_bytes(2048))
    return seen


def marker_problems(project: DeployProject, seen: dict[str, Any], when: str) -> list[str]:
    """What of `marker()`'s data is no longer there, `when` saying after which step."""
    target = project.target
    problems = []
    doc = seen.get("doc_id")  # None: no API write route (the rows are compared by checksum instead)
    if doc is not None:
        read = read_problem(target.http(), target.backend_url, project.profile.chaos, doc, seen["text"])
        if read:
            problems.append(f"document {doc} not read back {when} ({read})")
        hit = top_hit(project, seen["text"]) if has_vector_search(project) else doc
        if hit != doc:
            problems.append(f"vector of document {doc} not found {when}: the search for its text ranked "
                            f"{hit or 'nothing'} first")
    if "row" in seen and not _marker_rows(project, f"SELECT id FROM `{MARKER_TABLE}` WHERE v = %s", seen["text"]):
        problems.append(f"marker row in {MARKER_TABLE} missing {when}")
    if "key" in seen and target.redis().get(seen["key"]) != seen["text"]:
        problems.append(f"cache key {seen['key']} missing {when}")
    uploads = project.profile.deploy.uploads_dir
    if "upload" in seen and uploads and seen["upload"] not in project.backend().file_digests(uploads):
        problems.append(f"uploaded file {seen['upload']} missing {when}")
    return problems

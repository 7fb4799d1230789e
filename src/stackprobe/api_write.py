"""The stack's API writes, as the profile describes them: a document ([chaos] api_write_path,
api_write_body, api_write_id_field), the one way the suite stores one through the backend (the
chaos suite's probes and writer, VEC-01's canary, the backup and deploy suites' seed data), read
back at [chaos] api_read_path, and an uploaded file ([deploy] uploads_path)."""

from __future__ import annotations

from typing import Any

import httpx

from stackprobe.absence import AbsentSection
from stackprobe.jsonpath import at_path
from stackprobe.profile import ChaosSection, DeploySection


class ApiWriteFailed(AssertionError):
    """The write was refused or its answer holds no id; one line naming the profile key."""


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def stores_documents(absent: AbsentSection) -> bool:
    """Whether the API has a route that stores a document ([absent] parts api_writes says not)."""
    return "api_writes" not in absent.parts


def write_body(cfg: ChaosSection, text: str) -> dict[str, str]:
    """api_write_body with {marker} replaced by `text`."""
    return {key: value.replace("{marker}", text) for key, value in cfg.api_write_body.items()}


def id_in(cfg: ChaosSection, answer: Any) -> str | None:
    """The new document's id where api_write_id_field says (None: not there, or not a scalar)."""
    found, value = at_path(answer, cfg.api_write_id_field)
    return str(value) if found and value is not None and not isinstance(value, dict | list) else None


def write_document(client: httpx.Client, base_url: str, cfg: ChaosSection, text: str,
                   timeout_s: float = 30.0) -> str:
    """POST a document holding `text`; its id (ApiWriteFailed naming the key to fix otherwise)."""
    response = client.post(base_url + cfg.api_write_path, json=write_body(cfg, text), timeout=timeout_s)
    if not 200 <= response.status_code < 300:
        fix = " (check [chaos] api_write_path)" if response.status_code in (404, 405) else ""
        raise ApiWriteFailed(f"POST {cfg.api_write_path} answered {response.status_code}{fix}")
    ident = id_in(cfg, _json(response))
    if ident is None:
        raise ApiWriteFailed(f"POST {cfg.api_write_path} answered {response.status_code} without an id at "
                             f"{cfg.api_write_id_field!r}: set [chaos] api_write_id_field")
    return ident


def read_problem(client: httpx.Client, base_url: str, cfg: ChaosSection, ident: str, text: str,
                 timeout_s: float = 30.0) -> str:
    """GET the document `ident` ([chaos] api_read_path): "" when it answers 200 with `text` in
    it, else what it answered."""
    path = cfg.api_read_path.replace("{id}", ident)
    try:
        response = client.get(base_url + path, timeout=timeout_s)
    except httpx.HTTPError as error:
        return f"GET {path} failed: {type(error).__name__}"
    if response.status_code != 200:
        return f"GET {path} answered {response.status_code}"
    return "" if text in response.text else f"GET {path} answered 200 without the document's text"


def upload_file(client: httpx.Client, base_url: str, cfg: DeploySection, name: str, data: bytes,
                timeout_s: float = 30.0) -> str:
    """PUT a file to uploads_path; the name it was stored as (the answer's `stored_as`, else `name`)."""
    path = cfg.uploads_path.format(name=name)
    response = client.put(base_url + path, content=data, timeout=timeout_s)
    if response.status_code not in {200, 201}:
        fix = " (check [deploy] uploads_path)" if response.status_code in (404, 405) else ""
        raise ApiWriteFailed(f"uploading a file (PUT {cfg.uploads_path}) answered {response.status_code}{fix}")
    answer = _json(response)
    return str(answer.get("stored_as", name)) if isinstance(answer, dict) else name

"""The stack's vector search, as the profile describes the request and the answer ([vector_store]):
method, path, a JSON body template, and where the answer holds the ranked ids and distances."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from stackprobe.jsonpath import at_path
from stackprobe.profile import VectorStoreSection


@dataclass(frozen=True)
class SearchAnswer:
    status: int
    ids: list[str] = field(default_factory=list)
    distances: list[float] = field(default_factory=list)
    body: str = ""
    problem: str = ""  # one line: why the answer holds no ranked ids ("" when it does)


def search_body(section: VectorStoreSection, text: str, k: int) -> Any:
    return json.loads(section.query_body.replace("{text}", json.dumps(text)).replace("{k}", str(int(k))))


def search(client: httpx.Client, base_url: str, section: VectorStoreSection, text: str, k: int,
           timeout_s: float = 30.0) -> SearchAnswer:
    url = base_url + section.query_path
    try:
        response = client.request(section.query_method, url, json=search_body(section, text, k), timeout=timeout_s)
    except httpx.HTTPError as error:
        return SearchAnswer(0, problem=f"vector search {section.query_method} {section.query_path}: no answer "
                                       f"({type(error).__name__})")
    where = f"vector search {section.query_method} {section.query_path}"
    if response.status_code != 200:
        # no such route or method is the profile's to fix; anything else is the stack's answer
        fix = ("check [vector_store] query_method and query_path" if response.status_code in (404, 405)
               else f"the search itself fails ({' '.join(response.text.split())[:120]!r})")
        return SearchAnswer(response.status_code, body=response.text[:2000],
                            problem=f"{where} answered {response.status_code}: {fix}")
    try:
        parsed = response.json()
    except ValueError:
        return SearchAnswer(200, body=response.text[:2000], problem=f"{where} answered 200 but not JSON")
    found, ids = at_path(parsed, section.ids_path)
    if not found or not isinstance(ids, list):
        return SearchAnswer(200, body=response.text[:2000], problem=(
            f"{where} answered without a list at {section.ids_path!r}: check [vector_store] ids_path"))
    distances: list[float] = []
    if section.distances_path:
        found, values = at_path(parsed, section.distances_path)
        if found and isinstance(values, list):
            distances = [float(v) for v in values]
    return SearchAnswer(200, [str(i) for i in ids], distances, response.text[:2000])

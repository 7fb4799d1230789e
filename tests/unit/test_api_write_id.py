"""The stack's API write (stackprobe.api_write): the id is read where the profile says ([chaos]
api_write_id_field, a dotted path), so an API answering {"note": {"id": 7}} is as usable as one
answering {"id": 7}; an answer without one, or a refused write, is one line naming the key to fix,
never the id "None"."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from stackprobe.api_write import ApiWriteFailed, id_in, write_document
from stackprobe.profile import ChaosSection


@pytest.mark.parametrize(("field", "body", "ident"), [
    ("id", {"id": 7}, "7"),
    ("note.id", {"note": {"id": "a1"}}, "a1"),
    ("data.0.uuid", {"data": [{"uuid": "u-1"}]}, "u-1"),
    ("id", {"note": {"id": 7}}, None),  # the reference shape's field on another API: no id
    ("id", {"id": None}, None),
    ("note", {"note": {"id": 7}}, None),  # an object is no id
])
def test_the_id_is_read_where_the_profile_says(field: str, body: dict[str, Any], ident: str | None) -> None:
    assert id_in(ChaosSection(api_write_id_field=field), body) == ident


def _client(status: int, answer: Any, seen: list[httpx.Request]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=answer)
    return httpx.Client(transport=httpx.MockTransport(handle))


def test_a_write_posts_the_profiles_body_and_returns_the_id() -> None:
    cfg = ChaosSection(api_write_path="/notes", api_write_body={"text": "{marker}", "kind": "probe"},
                       api_write_id_field="note.id")
    seen: list[httpx.Request] = []
    assert write_document(_client(201, {"note": {"id": 9}}, seen), "http://stack", cfg, "hello") == "9"
    assert seen[0].url.path == "/notes" and json.loads(seen[0].content) == {"text": "hello", "kind": "probe"}


@pytest.mark.parametrize(("status", "answer", "said"), [
    (405, {}, "POST /notes answered 405 (check [chaos] api_write_path)"),
    (500, {}, "POST /notes answered 500"),
    (201, {"id": 3}, "POST /notes answered 201 without an id at 'note.id': set [chaos] api_write_id_field"),
])
def test_a_refused_write_or_one_without_an_id_is_one_line_naming_the_key(status: int, answer: Any,
                                                                          said: str) -> None:
    cfg = ChaosSection(api_write_path="/notes", api_write_id_field="note.id")
    with pytest.raises(ApiWriteFailed) as raised:
        write_document(_client(status, answer, []), "http://stack", cfg, "x")
    assert str(raised.value) == said

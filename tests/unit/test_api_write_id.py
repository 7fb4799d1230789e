"""The id of what the chaos suite writes through a stack's API is read where the profile says
([chaos] api_write_id_field, a dotted path): an API answering {"note": {"id": 7}} is as usable as
one answering {"id": 7}, and an answer without one is said, never read as the id "None"."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from stackprobe.chaos.probes import HttpAnswer, created_id
from stackprobe.profile import ChaosSection


def _created(field: str, body: dict[str, Any]) -> str | None:
    backend: Any = SimpleNamespace(target=SimpleNamespace(profile=SimpleNamespace(
        chaos=ChaosSection(api_write_id_field=field))))
    return created_id(backend, HttpAnswer(201, body, 0.0, 0.0))


@pytest.mark.parametrize(("field", "body", "ident"), [
    ("id", {"id": 7}, "7"),
    ("note.id", {"note": {"id": "a1"}}, "a1"),
    ("data.0.uuid", {"data": [{"uuid": "u-1"}]}, "u-1"),
    ("id", {"note": {"id": 7}}, None),  # the reference shape's field on another API: no id
    ("id", {"id": None}, None),
    ("note", {"note": {"id": 7}}, None),  # an object is no id
])
def test_the_id_is_read_where_the_profile_says(field: str, body: dict[str, Any], ident: str | None) -> None:
    assert _created(field, body) == ident

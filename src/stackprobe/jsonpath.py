"""Dotted paths into parsed JSON ("components.database.status", "checks.0.state"): how profiles
say where an answer holds what a check reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def at_path(data: Any, path: str) -> tuple[bool, Any]:
    """(found, value) of a dotted path ("components.database.status") in parsed JSON."""
    value = data
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value

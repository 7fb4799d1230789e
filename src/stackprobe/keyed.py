"""What differs between two keyed snapshots (before and after, live and restored): the one
comparison the backup and deploy libraries word their findings from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Change = Literal["gone", "new", "changed"]


def changes(before: Mapping[str, object], after: Mapping[str, object]) -> list[tuple[str, Change]]:
    """(key, what happened to it) for every key gone, new or with another value, in key order."""
    found: list[tuple[str, Change]] = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            found.append((key, "gone"))
        elif key not in before:
            found.append((key, "new"))
        elif before[key] != after[key]:
            found.append((key, "changed"))
    return found


def keys(found: list[tuple[str, Change]], change: Change) -> list[str]:
    return [key for key, what in found if what == change]

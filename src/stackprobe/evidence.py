"""Evidence: what a check saw, recorded into one immutable result record per check."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from stackprobe.redact import REDACTOR

_MAX_TEXT = 20_000


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        if isinstance(value, dict):
            return {str(k): _jsonable(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set):
            return [_jsonable(v) for v in value]
        return repr(value)


class Evidence:
    """Handed to every check by the `evidence` fixture."""

    def __init__(self) -> None:
        self._items: list[tuple[str, Any]] = []

    def record(self, name: str, value: Any) -> None:
        """Record an observation (JSON-like data or text); redacted on the way in."""
        value = _jsonable(value)
        if isinstance(value, str) and len(value) > _MAX_TEXT:
            value = value[:_MAX_TEXT] + f"… [{len(value) - _MAX_TEXT} more characters]"
        self._items.append((name, REDACTOR.redact_obj(value)))

    def items(self) -> list[tuple[str, Any]]:
        return list(self._items)

    def as_dict(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for name, value in self._items:
            if name in merged:
                previous = merged[name]
                merged[name] = [*(previous if isinstance(previous, list) else [previous]), value]
            else:
                merged[name] = value
        return merged


@dataclass(frozen=True)
class CheckResult:
    """One record per check; every report renders these."""

    nodeid: str
    control: str
    status: str  # passed | failed | error | skipped | aborted
    started: float
    duration_s: float
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    target: str = ""
    host: str = ""  # where the target runs: "local", an ssh:// URL, or a fleet host's name

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "control": self.control,
            "status": self.status,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "duration_s": round(self.duration_s, 3),
            "message": self.message,
            "evidence": self.evidence,
            "target": self.target,
            "host": self.host,
        }

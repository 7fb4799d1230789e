"""The health contract: how a stack's health endpoint says it is healthy, read from the profile's
[health] section. JSON (an overall status at a dotted path, dependencies in a map or each at its
own path, a timestamp) or plain text (a body such as `OK`). Every reader of health (HLT-01..04,
the chaos suite's observers and steady state) asks this module, so one profile describes any
stack's endpoint and no reader assumes the reference stack's shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from stackprobe.jsonpath import at_path
from stackprobe.profile import HealthSection

MISSING = "(missing)"


@dataclass(frozen=True)
class HealthReading:
    """One answer of the health endpoint, read under the contract."""

    http_status: int  # 0: nothing answered
    body: Any  # parsed JSON, or the text
    is_json: bool
    overall: Any = None  # the overall status value (JSON), or the stripped text
    dependencies: dict[str, Any] = field(default_factory=dict)  # declared dependency -> state or MISSING
    timestamp: Any = None
    problem: str = ""  # why the body could not be read under the contract ("" when it could)

    @property
    def answered_2xx(self) -> bool:
        return 200 <= self.http_status < 300

    def seen(self) -> str:
        """What the answer said, in a few words, for messages."""
        if self.problem:
            return self.problem
        return f"status {self.overall!r}" if self.is_json else f"body {str(self.overall)[:60]!r}"


class HealthContract:
    def __init__(self, section: HealthSection) -> None:
        self.section = section

    @property
    def is_text(self) -> bool:
        return self.section.format == "text"

    def describe(self) -> str:
        s = self.section
        if self.is_text:
            return f"plain text {s.text_healthy!r} ([health] format = \"text\")"
        where = ", ".join(f"{d} at {self.dependency_path(d)!r}" for d in s.dependencies) or "no dependencies"
        overall = f"status at {s.status_field!r} = {s.healthy_value!r}" if s.status_field else "HTTP status only"
        differs = s.dependencies and self.dependency_healthy != s.healthy_value
        fine = f" (each = {self.dependency_healthy!r})" if differs else ""
        return f"JSON: {overall}; {where}{fine}"

    @property
    def dependency_healthy(self) -> str:
        """What a dependency says when fine ([health] dependency_healthy_value, else healthy_value)."""
        return self.section.dependency_healthy_value or self.section.healthy_value

    def dependency_path(self, dependency: str) -> str:
        s = self.section
        if dependency in s.dependency_paths:
            return s.dependency_paths[dependency]
        path = f"{s.dependencies_field}.{dependency}" if s.dependencies_field else dependency
        return f"{path}.{s.dependency_status_field}" if s.dependency_status_field else path

    def read(self, http_status: int, text: str, content_type: str = "") -> HealthReading:
        """The answer under the contract; a JSON contract answered with something else is a
        reading with a `problem`, never an exception."""
        s = self.section
        if self.is_text:
            return HealthReading(http_status, text, False, overall=text.strip())
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            shown = " ".join(text.split())[:60]
            kind = content_type.split(";")[0] or "no content type"
            return HealthReading(http_status, text, False, problem=(
                f"health answered {kind} that is not JSON ({shown!r}): if the endpoint answers plain text, "
                'set [health] format = "text" and text_healthy'))
        overall = at_path(body, s.status_field)[1] if s.status_field else None
        dependencies = {}
        for dependency in s.dependencies:
            found, value = at_path(body, self.dependency_path(dependency))
            dependencies[dependency] = value if found else MISSING
        timestamp = at_path(body, s.timestamp_field)[1] if s.timestamp_field else None
        return HealthReading(http_status, body, True, overall, dependencies, timestamp)

    def healthy(self, reading: HealthReading) -> bool:
        """2xx, and the overall status (or the text) says healthy."""
        if not reading.answered_2xx or reading.problem:
            return False
        if self.is_text:
            return bool(reading.overall == self.section.text_healthy)
        return not self.section.status_field or _same(reading.overall, self.section.healthy_value)

    def missing_fields(self, reading: HealthReading) -> list[str]:
        if not reading.is_json:
            return []
        return [path for path in self.section.required_fields if not at_path(reading.body, path)[0]]

    def unhealthy_dependencies(self, reading: HealthReading) -> dict[str, Any]:
        return {d: state for d, state in reading.dependencies.items() if not _same(state, self.dependency_healthy)}

    def dependency_state(self, reading: HealthReading, dependency: str) -> Any:
        return reading.dependencies.get(dependency, MISSING) if reading.is_json else None

    def reports_down(self, reading: HealthReading, dependency: str) -> bool:
        """The answer says `dependency` is down: non-2xx and (JSON) the dependency not reported
        healthy; a text contract names no dependency, so non-2xx is all it can say."""
        if reading.http_status == 0 or reading.answered_2xx:
            return False
        if self.is_text or reading.problem:
            return True
        return not _same(reading.dependencies.get(dependency, MISSING), self.dependency_healthy)


def _same(value: Any, healthy: str) -> bool:
    """A status equals the healthy value, case aside; a JSON true or 1 is compared as "true"/"1"."""
    if isinstance(value, bool | int):
        value = json.dumps(value)
    return isinstance(value, str) and value.strip().casefold() == healthy.strip().casefold()

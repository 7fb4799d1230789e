"""What a config check reports: findings for violated controls, and errors for bad input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from stackprobe.errors import StackprobeUsageError


@dataclass(frozen=True)
class Location:
    """Where in a file a finding is: 1-based line (the SARIF export and code-scanning views use it)."""

    file: str
    line: int

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line}


@dataclass(frozen=True)
class Finding:
    """One violation of one control.

    `message` says what was expected and what was seen. It never carries a secret value:
    secrets are named by key, length and character-class counts only, because findings
    end up in terminals, JUnit XML and HTML reports.
    """

    control: str
    subject: str
    message: str
    location: Location | None = None  # when the check knows the file and line

    def __str__(self) -> str:
        # Every message names its subject already.
        return f"{self.control} {self.message}"

    def located(self) -> dict[str, Any] | None:
        """The `locations` evidence record of a finding with a file and line, else None."""
        if self.location is None:
            return None
        return {"control": self.control, **self.location.to_json(), "message": str(self)}


def at_env_keys(findings: list[Finding], path: str, lines: Mapping[str, int]) -> list[Finding]:
    """Findings about env-file keys (subject = the key), located at the line that binds the key."""
    return [replace(f, location=Location(path, lines[f.subject]))
            if f.location is None and f.subject in lines else f for f in findings]


class ConfigInputError(StackprobeUsageError):
    """An input the checks cannot read at all (missing, unreadable, unparsable).

    A subclass of the plugin's usage error, so the plugin reports it in one line with the
    usage-error exit code instead of a traceback. str() is that one line: the input and
    the fix.
    """

    def __init__(self, message: str) -> None:
        # One line, whatever the cause: newlines would split the report's summary line.
        super().__init__(" ".join(message.split()))

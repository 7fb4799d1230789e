"""What a config check reports: findings for violated controls, and errors for bad input."""

from __future__ import annotations

from dataclasses import dataclass

from stackprobe.errors import StackprobeUsageError


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
    # Where it was seen, when that is a line of a file (SEC-04 in a compose file).
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        # Every message names its subject already.
        return f"{self.control} {self.message}"


class ConfigInputError(StackprobeUsageError):
    """An input the checks cannot read at all (missing, unreadable, unparsable).

    A subclass of the plugin's usage error, so the plugin reports it in one line with the
    usage-error exit code instead of a traceback. str() is that one line: the input and
    the fix.
    """

    def __init__(self, message: str) -> None:
        # One line, whatever the cause: newlines would split the report's summary line.
        super().__init__(" ".join(message.split()))

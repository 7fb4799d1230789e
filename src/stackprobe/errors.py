"""Errors that mean 'the suite cannot run', reported in one or two lines, never a traceback."""

from __future__ import annotations


class StackprobeUsageError(Exception):
    """Bad input (profile, option, unreachable target): the message names the input and the fix."""


class ExperimentAborted(Exception):
    """The steady state did not hold before an experiment: the experiment was not run, and this
    is not a failure of its control (the report shows it as "aborted", with this reason)."""


class DependencyUnreachable(Exception):
    """A service a check needs cannot be reached (stopped, paused, not answering): that check is
    an ERROR with this one line, and the session goes on. `evidence` (what was seen) lands in
    the check's evidence when the check recorded none itself (an error met while setting up)."""

    def __init__(self, message: str, evidence: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.evidence = dict(evidence or {})


class CommandUnusable(DependencyUnreachable):
    """A deployment's command (deploy, backup, restore) cannot be run, or does not do what the
    suite's contract says (writes outside the directory it was given, ignores a variable): every
    check that needs it is an ERROR with this one line, never a failure of what it judges."""

"""Errors that mean 'the suite cannot run', reported in one or two lines, never a traceback."""

from __future__ import annotations


class StackprobeUsageError(Exception):
    """Bad input (profile, option, unreachable target): the message names the input and the fix."""


class ExperimentAborted(Exception):
    """The steady state did not hold before an experiment: the experiment was not run, and this
    is not a failure of its control (the report shows it as "aborted", with this reason)."""


class DependencyUnreachable(Exception):
    """A service a check needs cannot be reached (stopped, paused, not answering): that check is
    an ERROR with this one line, and the session goes on."""

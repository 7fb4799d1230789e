"""Errors that mean 'the suite cannot run', reported in one or two lines, never a traceback."""

from __future__ import annotations


class StackprobeUsageError(Exception):
    """Bad input (profile, option, unreachable target): the message names the input and the fix."""

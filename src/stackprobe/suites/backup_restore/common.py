"""Shared by the backup checks: what they write, for --dry-run (placeholders name the profile's
services), and one way to fail: one line naming what was seen and the fix, no trace."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar, cast

import pytest

ROUNDTRIP = pytest.mark.writes(
    "{database}: two canary databases (the edge-case dataset, the restore target), dropped afterwards",
    "stack host: a scratch backup directory (0700, removed afterwards)")
SEEDED = pytest.mark.writes("{backend}: documents and uploads to archive", on="ephemeral")
NEWEST = pytest.mark.writes(
    "{database}: a canary database the newest backup is restored into, dropped afterwards")
SCHEDULED = pytest.mark.writes("stack host: a scratch backup directory the backup command fills", on="ephemeral")
THROWAWAY_BACKEND = pytest.mark.writes("docker: a throwaway container of the {backend} image (no network, removed)")
THROWAWAY_SERVER = pytest.mark.writes(
    "docker: a throwaway {database} server in a compose project of its own (removed afterwards)",
    "stack host: a scratch backup directory (removed afterwards)")
RETENTION = pytest.mark.writes(
    "{database}: an empty canary database to dump, dropped afterwards",
    "stack host: a scratch backup directory with planted dated files (removed afterwards)")


def fail_on(problems: Iterable[str], prefix: str = "", hint: str = "") -> None:
    """Fail the check with every problem on one line (nothing to fail: return)."""
    found = [p for p in problems if p]
    if found:
        pytest.fail(f"{prefix}{'; '.join(found)}{hint}", pytrace=False)


def require(condition: object, message: str) -> None:
    """Fail the check with `message` (one line, no trace) unless `condition` holds."""
    if not condition:
        pytest.fail(message, pytrace=False)


Check = TypeVar("Check", bound=Callable[..., None])


def uses_roundtrip(check: Check) -> Check:
    """A check judging the shared round trip (canary databases, a scratch directory)."""
    return cast(Check, ROUNDTRIP(SEEDED(check)))


def reads_newest(check: Check) -> Check:
    """A nightly check of the newest backup in the backup directory (restored into a canary)."""
    return cast(Check, pytest.mark.nightly(NEWEST(SCHEDULED(check))))

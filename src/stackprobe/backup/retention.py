"""BKP-05: dated files around the retention boundary, and whether a backup run pruned exactly
the ones the policy says.

The policy is the runbook's `find BACKUP_DIR -name PATTERN -mtime +N -delete`: a backup goes once
it is more than N whole days old, so one exactly N days old stays and one N+1 days old goes.
Files between N and N+1 days are not planted (plain "older than N days" and find's whole days
disagree there). Files that match no backup pattern, and anything in a subdirectory, are never
touched, whatever their age.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass
from typing import Any

from stackprobe.targets.host import FileEntry

DAY = 86400.0
MINUTE = 60.0


@dataclass(frozen=True)
class Planted:
    name: str
    age_s: float
    keep: bool
    why: str

    def age_days(self) -> str:
        return f"{self.age_s / DAY:.3f} days"


def _stamp(moment: float) -> str:
    return time.strftime("%Y%m%d_%H%M%S", time.gmtime(moment))


def _named(pattern: str, moment: float) -> str:
    """A name the backup command would give an artifact made at `moment` (the glob's * filled)."""
    return pattern.replace("*", _stamp(moment), 1).replace("*", "x")


def plan(now: float, days: int, dump_pattern: str, archive_patterns: list[str]) -> list[Planted]:
    """Files to plant in a scratch backup directory, each with its expected fate."""
    ages: list[tuple[float, bool, str]] = [(3 * MINUTE, True, "minutes old")]
    if days >= 1:
        ages += [((days - 1) * DAY + 3 * MINUTE, True, "a day inside the retention"),
                 (days * DAY - MINUTE, True, "a minute inside the boundary")]
    ages += [
        (days * DAY, True, "exactly at the boundary (N whole days: find -mtime +N keeps it)"),
        ((days + 1) * DAY, False, "exactly N+1 days: past the boundary"),
        ((days + 1) * DAY + MINUTE, False, "a minute past N+1 days"),
        (max(3 * days, days + 2) * DAY, False, "long expired"),
    ]
    planted = []
    for offset, (age, keep, why) in enumerate(ages):
        # distinct names even where two ages name the same second
        planted.append(Planted(_named(dump_pattern, now - age - offset), age, keep, why))
    for pattern in archive_patterns:
        planted.append(Planted(_named(pattern, now - 3 * MINUTE), 3 * MINUTE, True, "an archive minutes old"))
        planted.append(Planted(_named(pattern, now - days * DAY - 1), days * DAY, True,
                               "an archive exactly at the boundary"))
        planted.append(Planted(_named(pattern, now - (days + 1) * DAY), (days + 1) * DAY, False,
                               "an archive N+1 days old"))
    old = max(3 * days, days + 2) * DAY
    stranger = _stamp(now - old)
    others = [f"notes_{stranger}.txt", "README", f"manual_{_named(dump_pattern, now - old)}",
              f"{_named(dump_pattern, now - old)}.bak", f"{_named(dump_pattern, now - old)}".removesuffix(".gz"),
              f"{_named(dump_pattern, now - old)}.part"]
    for name in others:
        if not any(fnmatch.fnmatchcase(name, p) for p in [dump_pattern, *archive_patterns]):
            planted.append(Planted(name, old, True, "not a backup name: never touched"))
    return planted


SUBDIR = "kept-by-hand"


def subdir_plan(now: float, days: int, dump_pattern: str) -> list[Planted]:
    """An old dump inside a subdirectory: retention works on the directory itself only."""
    old = max(3 * days, days + 2) * DAY
    return [Planted(_named(dump_pattern, now - old), old, True, "in a subdirectory: never touched")]


@dataclass(frozen=True)
class Verdict:
    pruned_too_early: list[Planted]
    not_pruned: list[Planted]
    strangers_touched: list[Planted]
    new_backup_missing: bool

    @property
    def ok(self) -> bool:
        return not (self.pruned_too_early or self.not_pruned or self.strangers_touched or self.new_backup_missing)

    def problems(self, days: int) -> list[str]:
        out = []
        if self.pruned_too_early:
            out.append(f"deleted {len(self.pruned_too_early)} backups the policy keeps ({days} days): "
                       + ", ".join(f"{p.name} ({p.why})" for p in self.pruned_too_early[:6]))
        if self.not_pruned:
            out.append(f"kept {len(self.not_pruned)} backups older than {days} days: "
                       + ", ".join(f"{p.name} ({p.why})" for p in self.not_pruned[:6]))
        if self.strangers_touched:
            out.append("deleted or changed files that are not backups: "
                       + ", ".join(p.name for p in self.strangers_touched[:6]))
        if self.new_backup_missing:
            out.append("the backup this run made is not in the directory afterwards")
        return out

    def summary(self) -> dict[str, Any]:
        return {"pruned_too_early": [p.name for p in self.pruned_too_early],
                "not_pruned": [p.name for p in self.not_pruned],
                "strangers_touched": [p.name for p in self.strangers_touched],
                "new_backup_missing": self.new_backup_missing}


def judge(planted: list[Planted], before: dict[str, FileEntry], after: list[FileEntry],
          subdir_intact: bool, new_dumps: int) -> Verdict:
    present = {e.name: e for e in after}
    early, late, strangers = [], [], []
    for item in planted:
        there = present.get(item.name)
        original = before.get(item.name)
        changed = there is not None and original is not None and (there.size, int(there.mtime)) != (
            original.size, int(original.mtime))
        if item.why.startswith("not a backup"):
            if there is None or changed:
                strangers.append(item)
        elif item.keep and there is None:
            early.append(item)
        elif not item.keep and there is not None:
            late.append(item)
    if not subdir_intact:
        strangers.append(Planted(SUBDIR + "/", 0.0, True, "not a backup: a subdirectory"))
    return Verdict(early, late, strangers, new_dumps < 1)

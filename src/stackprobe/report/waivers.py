"""Waivers: a reviewed, time-boxed exception that turns one control's failure into "waived".

The file is TOML, one table per waiver::

    [[waiver]]
    control = "CHS-06"                      # a catalogue ID
    justification = "partition tests blocked by the host firewall until the migration"
    approver = "J. Doe, head of operations"
    ticket = "OPS-1234"
    expires = 2026-12-31                    # a TOML date (or "YYYY-MM-DD"); valid through that day

Only a failed control is waived (an error means the check could not run at all, and that
is never waived). A malformed entry is not applied; an expired one is not applied either.
Both fail the run, each with one line that names the file, the entry and the fix
(stackprobe.report.entries, which attestations share).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from stackprobe.report.entries import EntryProblem, EntrySet, Spec, load_entries

FIELDS = ("control", "justification", "approver", "ticket", "expires")
WaiverProblem = EntryProblem


@dataclass(frozen=True)
class Waiver:
    control: str
    justification: str
    approver: str
    ticket: str
    expires: dt.date

    def credit(self) -> str:
        return f"ticket {self.ticket}, approved by {self.approver}"

    def to_json(self) -> dict[str, str]:
        return {"control": self.control, "justification": self.justification, "approver": self.approver,
                "ticket": self.ticket, "expires": self.expires.isoformat()}


class WaiverSet(EntrySet[Waiver]):
    pass


SPEC = Spec[Waiver]("waiver", "waivers", FIELDS, "--waivers/STACKPROBE_WAIVERS/[report] waivers",
                    "renew it or fix the control", Waiver)


def load_waivers(path: Path | None, today: dt.date) -> WaiverSet:
    """Parse and check a waiver file; never raises: problems are returned, one line each."""
    loaded = load_entries(path, today, SPEC)
    return WaiverSet(loaded.source, loaded.valid, loaded.expired, loaded.problems)

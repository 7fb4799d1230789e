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
Both fail the run, each with one line that names the file, the entry and the fix.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from stackprobe import catalogue

FIELDS = ("control", "justification", "approver", "ticket", "expires")


@dataclass(frozen=True)
class Waiver:
    control: str
    justification: str
    approver: str
    ticket: str
    expires: dt.date

    def to_json(self) -> dict[str, str]:
        return {"control": self.control, "justification": self.justification, "approver": self.approver,
                "ticket": self.ticket, "expires": self.expires.isoformat()}


@dataclass(frozen=True)
class WaiverProblem:
    kind: Literal["malformed", "expired"]
    line: str  # one line: file, which waiver, what is wrong, what to do
    control: str = ""


@dataclass(frozen=True)
class WaiverSet:
    source: str  # "" when no waiver file was given
    valid: tuple[Waiver, ...] = ()
    expired: tuple[Waiver, ...] = ()
    problems: tuple[WaiverProblem, ...] = ()

    def for_control(self, control: str) -> Waiver | None:
        return next((w for w in self.valid if w.control == control), None)

    def expired_for(self, control: str) -> Waiver | None:
        return next((w for w in self.expired if w.control == control), None)

    @property
    def malformed(self) -> bool:
        return any(p.kind == "malformed" for p in self.problems)


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _check_entry(entry: Any, where: str) -> tuple[Waiver | None, str]:
    if not isinstance(entry, dict):
        return None, f"{where} is not a table"
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        return None, f"{where} has unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(FIELDS)}"
    missing = [k for k in FIELDS if k not in entry or entry[k] in ("", None)]
    if missing:
        return None, f"{where} lacks {', '.join(missing)} (every waiver needs {', '.join(FIELDS)})"
    for key in ("control", "justification", "approver", "ticket"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            return None, f"{where}: {key} must be a non-empty string, got {entry[key]!r}"
    if entry["control"] not in catalogue.BY_ID:
        return None, f"{where}: unknown control {entry['control']!r} (see pytest --list-controls)"
    expires = _date(entry["expires"])
    if expires is None:
        return None, f"{where}: expires must be a date like 2026-12-31, got {entry['expires']!r}"
    return Waiver(entry["control"].strip(), entry["justification"].strip(), entry["approver"].strip(),
                  entry["ticket"].strip(), expires), ""


def load_waivers(path: Path | None, today: dt.date) -> WaiverSet:
    """Parse and check a waiver file; never raises: problems are returned, one line each."""
    if path is None:
        return WaiverSet("")
    name = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return WaiverSet(name, problems=(WaiverProblem(
            "malformed", f"waivers {name}: file does not exist; fix --waivers/STACKPROBE_WAIVERS/[report] waivers"),))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        return WaiverSet(name, problems=(WaiverProblem(
            "malformed", f"waivers {name}: not valid TOML ({error}); no waiver applied"),))
    entries = data.pop("waiver", [])
    problems: list[WaiverProblem] = []
    if data:
        problems.append(WaiverProblem("malformed", f"waivers {name}: unknown top-level key(s) "
                                      f"{', '.join(sorted(data))}; write each waiver as [[waiver]]"))
    if not isinstance(entries, list):
        entries = [entries]
    valid: list[Waiver] = []
    expired: list[Waiver] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        label = entry.get("control") if isinstance(entry, dict) else None
        where = f"waiver #{number}" + (f" for {label}" if isinstance(label, str) else "")
        waiver, wrong = _check_entry(entry, where)
        if waiver is None:
            problems.append(WaiverProblem("malformed", f"waivers {name}: {wrong}; it is not applied",
                                          label if isinstance(label, str) else ""))
            continue
        if waiver.control in seen:
            problems.append(WaiverProblem("malformed", f"waivers {name}: {where} is a second waiver for "
                                          f"{waiver.control}; keep one", waiver.control))
            continue
        seen.add(waiver.control)
        if waiver.expires < today:
            expired.append(waiver)
            problems.append(WaiverProblem(
                "expired", f"waivers {name}: {where} (ticket {waiver.ticket}, approved by {waiver.approver}) "
                f"expired on {waiver.expires.isoformat()}; renew it or fix the control", waiver.control))
        else:
            valid.append(waiver)
    return WaiverSet(name, tuple(valid), tuple(expired), tuple(problems))

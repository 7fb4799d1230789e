"""Time-boxed entries of a TOML file, one table per entry, each naming a catalogue control and
valid through its `expires` day: waivers and attestations are both this (one loader, one set).

A malformed entry (or file) is not applied and is bad input; an expired one is not applied either
and fails the run. Each problem is one line naming the file, the entry and the fix.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

from stackprobe import catalogue


class Entry(Protocol):
    @property
    def control(self) -> str: ...

    @property
    def expires(self) -> dt.date: ...

    def credit(self) -> str:
        """Who stands behind it, for the expiry line (e.g. 'ticket OPS-1, approved by J. Doe')."""
        ...


E = TypeVar("E", bound=Entry)


@dataclass(frozen=True)
class EntryProblem:
    kind: Literal["malformed", "expired"]
    line: str  # one line: file, which entry, what is wrong, what to do
    control: str = ""


@dataclass(frozen=True)
class EntrySet(Generic[E]):
    source: str  # "" when no file was given
    valid: tuple[E, ...] = ()
    expired: tuple[E, ...] = ()
    problems: tuple[EntryProblem, ...] = ()

    def for_control(self, control: str) -> E | None:
        return next((e for e in self.valid if e.control == control), None)

    def expired_for(self, control: str) -> E | None:
        return next((e for e in self.expired if e.control == control), None)

    @property
    def malformed(self) -> bool:
        return any(p.kind == "malformed" for p in self.problems)


@dataclass(frozen=True)
class Spec(Generic[E]):
    """What one kind of entry looks like."""

    table: str  # "waiver": entries are [[waiver]] tables
    label: str  # "waivers": how messages name the file
    fields: tuple[str, ...]  # every key, all required; every one but `expires` a non-empty string
    options: str  # where the file comes from, for the fix of a missing file
    renew: str  # what to do about an expired entry
    build: Callable[..., E]  # called with every field (strings stripped, expires a date)


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


def _check_entry(entry: Any, where: str, spec: Spec[E]) -> tuple[E | None, str]:
    if not isinstance(entry, dict):
        return None, f"{where} is not a table"
    fields = ", ".join(spec.fields)
    unknown = sorted(set(entry) - set(spec.fields))
    if unknown:
        return None, f"{where} has unknown key(s) {', '.join(unknown)}; valid keys: {fields}"
    missing = [k for k in spec.fields if k not in entry or entry[k] in ("", None)]
    if missing:
        return None, f"{where} lacks {', '.join(missing)} (every {spec.table} needs {fields})"
    texts = [k for k in spec.fields if k != "expires"]
    for key in texts:
        if not isinstance(entry[key], str) or not entry[key].strip():
            return None, f"{where}: {key} must be a non-empty string, got {entry[key]!r}"
    if entry["control"] not in catalogue.BY_ID:
        return None, f"{where}: unknown control {entry['control']!r} (see pytest --list-controls)"
    expires = _date(entry["expires"])
    if expires is None:
        return None, f"{where}: expires must be a date like 2026-12-31, got {entry['expires']!r}"
    return spec.build(**{k: entry[k].strip() for k in texts}, expires=expires), ""


def load_entries(path: Path | None, today: dt.date, spec: Spec[E]) -> EntrySet[E]:
    """Parse and check a file of entries; never raises: problems are returned, one line each."""
    if path is None:
        return EntrySet("")
    name = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return EntrySet(name, problems=(EntryProblem(
            "malformed", f"{spec.label} {name}: file does not exist; fix {spec.options}"),))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        return EntrySet(name, problems=(EntryProblem(
            "malformed", f"{spec.label} {name}: not valid TOML ({' '.join(str(error).split())}); "
                         f"no {spec.table} applied"),))
    entries = data.pop(spec.table, [])
    problems: list[EntryProblem] = []
    if data:
        problems.append(EntryProblem("malformed", f"{spec.label} {name}: unknown top-level key(s) "
                                     f"{', '.join(sorted(data))}; write each {spec.table} as [[{spec.table}]]"))
    if not isinstance(entries, list):
        entries = [entries]
    valid: list[E] = []
    expired: list[E] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        label = entry.get("control") if isinstance(entry, dict) else None
        where = f"{spec.table} #{number}" + (f" for {label}" if isinstance(label, str) else "")
        checked, wrong = _check_entry(entry, where, spec)
        if checked is None:
            problems.append(EntryProblem("malformed", f"{spec.label} {name}: {wrong}; it is not applied",
                                         label if isinstance(label, str) else ""))
            continue
        if checked.control in seen:
            problems.append(EntryProblem("malformed", f"{spec.label} {name}: {where} is a second {spec.table} "
                                         f"for {checked.control}; keep one", checked.control))
            continue
        seen.add(checked.control)
        if checked.expires < today:
            expired.append(checked)
            problems.append(EntryProblem(
                "expired", f"{spec.label} {name}: {where} ({checked.credit()}) expired on "
                f"{checked.expires.isoformat()}; {spec.renew}", checked.control))
        else:
            valid.append(checked)
    return EntrySet(name, tuple(valid), tuple(expired), tuple(problems))

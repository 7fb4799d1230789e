"""History: one compact JSON line per run, so a report can say what changed since the last one.

A record (format version 1)::

    {"v": 1, "run": "20261125-070000-ephemeral", "started": ..., "finished": ..., "target": ...,
     "git": ..., "statuses": {"HLT-01": "passed", ...},
     "recovery": {"CHS-01": {"backend kill": {"slo_s": {...}, "p50_s": {...}, "p95_s": {...}}}},
     "backup": {"BKP-01": {"backup_size_bytes": 1234}, "BKP-08": {"restore_seconds": 4.2}},
     "manifest_sha256": "..."}

Reading never fails: a line that is not JSON (a run killed mid-write), or a record of a
format this version does not know, is skipped with a one-line warning naming file and line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackprobe.report.model import FAILING, RunReport
from stackprobe.report.recovery import backup_figures, recoveries

VERSION = 1


@dataclass(frozen=True)
class History:
    source: str
    records: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()

    def before(self, run_id: str) -> list[dict[str, Any]]:
        """Records of other runs, oldest first, up to (not including) `run_id`."""
        out: list[dict[str, Any]] = []
        for record in self.records:
            if record["run"] == run_id:
                break
            out.append(record)
        return out


def record_of(report: RunReport, manifest_sha256: str = "") -> dict[str, Any]:
    recovery: dict[str, dict[str, Any]] = {}
    backup: dict[str, dict[str, float]] = {}
    for control in report.controls:
        for item in recoveries(control):
            recovery.setdefault(control.id, {})[item.key] = {
                "slo_s": item.slo_s, "p50_s": item.p50_s, "p95_s": item.p95_s}
        if figures := backup_figures(control):
            backup[control.id] = figures
    target = report.run.get("target")
    return {
        "v": VERSION, "run": report.run_id, "started": report.started, "finished": report.finished,
        "target": target.get("kind", "") if isinstance(target, dict) else str(target or ""),
        "git": str(report.run.get("git_revision", "")), "statuses": report.statuses(),
        "recovery": recovery, "backup": backup, "manifest_sha256": manifest_sha256,
        "verdict": report.verdict(),
    }


def _valid(record: Any) -> str:
    """'' when the record is usable, else why not."""
    if not isinstance(record, dict):
        return "not a JSON object"
    version = record.get("v")
    if version != VERSION:
        return (f"record format version {version!r} is not understood (this stackprobe writes v{VERSION}); "
                "it is left in the file but not compared")
    if not isinstance(record.get("run"), str) or not isinstance(record.get("statuses"), dict):
        return "record lacks run or statuses"
    return ""


def read_history(path: Path) -> History:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return History(str(path))
    except OSError as error:
        return History(str(path), warnings=(f"history {path}: cannot be read ({error.strerror}); no comparison",))
    records: list[dict[str, Any]] = []
    warnings: list[str] = []
    lines = raw.decode("utf-8", "replace").split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            cut = number == len(lines) and not raw.endswith(b"\n")
            why = "truncated mid-line (a run stopped while writing?)" if cut else "not valid JSON"
            warnings.append(f"history {path} line {number}: {why}; skipped")
            continue
        if problem := _valid(record):
            warnings.append(f"history {path} line {number}: {problem}")
            continue
        records.append(record)
    return History(str(path), tuple(records), tuple(warnings))


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one line with one write; a truncated last line is closed first, not extended."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size:
            with open(path, "rb") as existing:
                existing.seek(-1, os.SEEK_END)
                if existing.read(1) != b"\n":
                    line = "\n" + line
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Change:
    what: str  # new-failure | fixed | still-failing | newly-waived | recovery | backup
    control: str
    text: str


@dataclass(frozen=True)
class Diff:
    previous: str  # run id, "" when there is no earlier run
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def of(self, what: str) -> list[Change]:
        return [c for c in self.changes if c.what == what]


def _dig(value: Any, *keys: str) -> Any:
    """value[k1][k2]... or None, whatever shape an old or hand-edited record has."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _pct(old: float, new: float) -> str:
    return f"{(new - old) / old * 100:+.0f}%" if old else "new"


def _size(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value}"


def diff(previous: dict[str, Any] | None, current: dict[str, Any]) -> Diff:
    if previous is None:
        return Diff("")
    changes: list[Change] = []
    old_s, new_s = _dig(previous, "statuses") or {}, current["statuses"]
    for control, status in new_s.items():
        before = old_s.get(control, "not run")
        if status in FAILING and before not in FAILING:
            changes.append(Change("new-failure", control, f"{control}: {before} → {status}"))
        elif status in FAILING:
            changes.append(Change("still-failing", control, f"{control}: still {status}"))
        elif before in FAILING and status == "passed":
            changes.append(Change("fixed", control, f"{control}: {before} → passed"))
        elif status == "waived" and before != "waived":
            changes.append(Change("newly-waived", control, f"{control}: {before} → waived"))
    for control, series in current.get("recovery", {}).items():
        for key, figures in series.items():
            moved = []
            for phase, value in figures.get("p95_s", {}).items():
                was = _num(_dig(previous, "recovery", control, key, "p95_s", phase))
                if was is not None:
                    moved.append(f"{phase} {was:.2f} → {value:.2f} s ({_pct(was, value)})")
            if moved:
                changes.append(Change("recovery", control, f"{control} {key}, p95: " + "; ".join(moved)))
    for control, figures in current.get("backup", {}).items():
        for name, value in figures.items():
            was = _num(_dig(previous, "backup", control, name))
            if was is None:
                continue
            shown = (f"{_size(was)} → {_size(value)}" if name == "backup_size_bytes"
                     else f"{was:.2f} s → {value:.2f} s")
            changes.append(Change("backup", control, f"{control} {name.replace('_', ' ')}: {shown} "
                                  f"({_pct(was, value)})"))
    return Diff(str(previous.get("run", "")), tuple(changes))


def series(records: list[dict[str, Any]], control: str, key: str, phase: str) -> list[tuple[str, float | None]]:
    """(run, p95 of phase) per record, for a trend chart."""
    return [(r["run"], _num(_dig(r, "recovery", control, key, "p95_s", phase))) for r in records]


def backup_series(records: list[dict[str, Any]], control: str, name: str) -> list[tuple[str, float | None]]:
    return [(r["run"], _num(_dig(r, "backup", control, name))) for r in records]

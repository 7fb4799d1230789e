"""Undo records: what a fault changed, written to disk *before* the fault is injected.

One JSON file per active fault, under `<state dir>/faults/<host>_<project>/<id>.json`, so a
run killed outright (SIGKILL) leaves behind exactly what the next run must put back. A record
names its owner (pid, the process's start time, the runner's host), so a later run tells a
dead owner's record (heal it) from a concurrent run's (leave it, and refuse a second fault).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stackprobe.owners import RUNNER, owner_alive, process_start

KINDS = ("crash", "stop", "pause", "partition", "slow")


def default_dir() -> Path:
    """`STACKPROBE_FAULTS_DIR`, else `.stackprobe/faults` under the current directory."""
    given = os.environ.get("STACKPROBE_FAULTS_DIR")
    return Path(given) if given else Path.cwd() / ".stackprobe" / "faults"


@dataclass
class UndoRecord:
    kind: str  # crash | stop | pause | partition | slow
    service: str
    project: str
    host: str  # the target's label: "this host" or an ssh:// URL
    container_id: str
    container_name: str
    details: dict[str, Any] = field(default_factory=dict)
    state: str = "injecting"  # injecting -> injected (an undo of either is safe: undo is idempotent)
    id: str = field(default_factory=lambda: f"{int(time.time())}-{secrets.token_hex(4)}")
    owner_pid: int = field(default_factory=os.getpid)
    owner_started: str = field(default_factory=lambda: process_start(os.getpid()))
    runner: str = RUNNER
    created: float = field(default_factory=time.time)

    def describe(self) -> str:
        return f"{self.kind} of {self.service} ({self.container_name})"

    def owner_alive(self) -> bool:
        return owner_alive(self.owner_pid, self.runner, self.owner_started)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UndoRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "local"


class RecordStore:
    """The undo records of one target (host and project)."""

    def __init__(self, root: Path, host: str, project: str) -> None:
        self.root = root
        self.directory = root / f"{_slug(host)}__{_slug(project)}"

    def path(self, record: UndoRecord) -> Path:
        return self.directory / f"{record.id}.json"

    def write(self, record: UndoRecord) -> Path:
        """Atomically, and on disk (fsync) before the fault is injected."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.path(record)
        temporary = final.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(asdict(record), handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        with contextlib.suppress(OSError):  # the rename itself, on disk
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        return final

    def remove(self, record: UndoRecord) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(record).unlink()
        with contextlib.suppress(OSError):
            self.directory.rmdir()  # only when empty

    def records(self) -> list[UndoRecord]:
        """Every readable record, oldest first; an unreadable file is reported by `unreadable()`."""
        found = []
        for path in sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []:
            try:
                found.append(UndoRecord.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):
                continue
        return sorted(found, key=lambda r: r.created)

    def unreadable(self) -> list[Path]:
        bad = []
        for path in sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []:
            try:
                UndoRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                bad.append(path)
        return bad

    def orphaned(self) -> list[UndoRecord]:
        """Records whose run is gone: the stack still carries their fault."""
        return [r for r in self.records() if not r.owner_alive()]

    def foreign_active(self) -> list[UndoRecord]:
        """Records of another live run (a fault of theirs is in place now)."""
        return [r for r in self.records() if r.owner_alive() and r.owner_pid != os.getpid()]

    def forget(self) -> None:
        """Drop every record (the project itself is gone)."""
        for path in self.directory.glob("*.json") if self.directory.is_dir() else []:
            with contextlib.suppress(OSError):
                path.unlink()
        with contextlib.suppress(OSError):
            self.directory.rmdir()

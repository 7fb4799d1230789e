"""One JSON record per benchmark run under bench/results/: machine, date, revision, figures,
the command line. Every benchmark prints its figures and calls `write_record`."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SUITES = "src/stackprobe/suites"  # the suites, as paths from REPO
RESULTS = REPO / "bench" / "results"
sys.path.insert(0, str(REPO / "tests"))  # support.stacks: throwaway copies of the reference stack


def machine() -> dict[str, Any]:
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True).stdout.strip()
    return {"cpus": os.cpu_count(), "memory_gib": round(memory_kib / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "docker_engine": docker, "load_avg_1m_at_start": os.getloadavg()[0]}


def revision() -> str:
    out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"],
                           capture_output=True, text=True).stdout.strip()
    return out + ("-dirty" if dirty else "")


def write_record(name: str, figures: dict[str, Any], started_machine: dict[str, Any]) -> Path:
    record = {"benchmark": name, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "revision": revision(), "machine": started_machine,
              "command": " ".join([Path(sys.executable).name, *sys.argv]), "figures": figures}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"record: {path.relative_to(REPO)}")
    return path


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self) -> float:
        return round(time.monotonic() - self.started, 2)

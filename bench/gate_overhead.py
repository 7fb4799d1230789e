"""Gate overhead: the gate (every suite but chaos, ephemeral target) against its floor, one
`docker compose up --wait` plus `down -v` of the same stack, measured in the same run.

Prints the floor, the gate, their ratio (goal <= 1.5) and where the gate's time goes: per
suite (sum of its checks), and per pytest phase of the slowest items (--durations), which
shows fixture set-up such as the stack start. Usage: .venv/bin/python bench/gate_overhead.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from record import REPO, Stopwatch, machine, write_record

from stackprobe.profile import load_profile
from stackprobe.targets.base import load_image_overrides
from stackprobe.targets.ephemeral import EphemeralTarget

PROFILE = REPO / "profiles" / "reference.toml"


def floor_seconds() -> dict[str, float]:
    """The same stack the gate starts (same env generation), up --wait then down -v."""
    load_image_overrides(REPO)
    target = EphemeralTarget(load_profile(PROFILE), REPO, [REPO / "docker-compose.yml"], None)
    base = target.compose_base()
    clock = Stopwatch()
    try:
        subprocess.run([*base, "up", "-d", "--wait"], check=True, capture_output=True, cwd=REPO, timeout=600)
        up = clock()
    finally:
        subprocess.run([*base, "down", "-v", "-t", "5"], capture_output=True, cwd=REPO, timeout=300)
        target.stop()
    return {"up_wait_s": up, "up_and_down_s": clock()}


def gate_seconds(report_dir: Path) -> dict[str, object]:
    clock = Stopwatch()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "--ignore=suites/chaos", "--target", "ephemeral",
         "--profile", str(PROFILE), f"--report-dir={report_dir}", "--durations=15", "-q", "-p", "no:randomly"],
        cwd=REPO, capture_output=True, text=True, timeout=3600)
    total = clock()
    (results,) = report_dir.glob("*/results.json")
    summary = json.loads(results.read_text())
    per_suite: dict[str, float] = defaultdict(float)
    for control in summary["controls"].values():
        per_suite[control["suite"]] += control["duration_s"]
    slowest = re.findall(r"^([\d.]+)s (setup|call|teardown)\s+(\S+)$", done.stdout, re.M)
    return {"gate_s": total, "exit_code": done.returncode, "controls": summary["totals"],
            "per_suite_check_s": {k: round(v, 1) for k, v in sorted(per_suite.items())},
            "slowest_phases": [{"s": float(s), "phase": p, "item": i} for s, p, i in slowest]}


def main() -> None:
    at_start = machine()
    floor = floor_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        gate = gate_seconds(Path(tmp))
    ratio = round(float(gate["gate_s"]) / floor["up_and_down_s"], 2)  # type: ignore[arg-type]
    print(f"floor (up --wait + down -v): {floor['up_and_down_s']} s (up {floor['up_wait_s']} s)")
    print(f"gate (all suites but chaos): {gate['gate_s']} s, exit {gate['exit_code']}, {gate['controls']}")
    print(f"ratio gate/floor: {ratio} (goal <= 1.5)")
    print("per suite (sum of check durations):", gate["per_suite_check_s"])
    for phase in gate["slowest_phases"][:8]:  # type: ignore[index]
        print(f"  {phase['s']:>7.2f} s {phase['phase']:<8} {phase['item']}")
    write_record("gate_overhead", {**floor, **gate, "ratio": ratio, "goal_ratio": 1.5}, at_start)


if __name__ == "__main__":
    main()

"""Gate overhead: the gate as `make gate` runs it (every suite, chaos included, ephemeral target,
`--parallel`), against its critical path and its floor, measured in one run.

Prints the gate's wall time; each part's own time (from results.json: the worker's session,
its copy's start included); the critical path (the longest part) and gate / critical path
(goal <= 1.2); the floor as before (one `docker compose up --wait` plus `down -v` of the same
stack); and the timing-sensitive figures (CHS-01 recovery p95 per service and phase, CHS-07's
outage window and errors outside it, DEP-02's update downtime) against their SLOs. With
`--serial` the gate also runs without --parallel, and the bench prints how far each of those
figures moved. Usage: .venv/bin/python bench/gate_overhead.py [--serial]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from record import REPO, Stopwatch, machine, write_record

from stackprobe.profile import load_profile
from stackprobe.targets.base import load_image_overrides
from stackprobe.targets.ephemeral import EphemeralTarget

PROFILE = REPO / "profiles" / "reference.toml"
GOAL_S = 360.0  # make gate, chaos included, on this 2-core machine
GOAL_RATIO = 1.2


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


def run_gate(report_dir: Path, parallel: bool) -> tuple[float, int, dict[str, Any]]:
    """The gate's own command (the Makefile's), its wall time, exit code and results.json."""
    import json

    clock = Stopwatch()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "stackprobe.suites", "--target", "ephemeral",
         "--profile", str(PROFILE), f"--report-dir={report_dir}", "-q", *(["--parallel"] if parallel else [])],
        cwd=REPO, capture_output=True, text=True, timeout=3600, env=dict(os.environ))
    wall = clock()
    (results,) = {path.resolve() for path in report_dir.glob("*/results.json")}  # latest is a symlink
    return wall, done.returncode, json.loads(results.read_text())


def checks_of(summary: dict[str, Any], control: str) -> list[dict[str, Any]]:
    return list(summary["controls"].get(control, {}).get("checks", []))


def timing_figures(summary: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Each timing-sensitive figure with its SLO: CHS-01's recovery p95 per service and phase,
    CHS-07's recovery and its errors outside the outage window, DEP-02's downtime."""
    figures: dict[str, dict[str, float | None]] = {}
    for control in ("CHS-01", "CHS-07"):
        for check in checks_of(summary, control):
            recovery = check.get("evidence", {}).get("recovery")
            if not isinstance(recovery, dict):
                continue
            for phase, value in recovery.get("p95_s", {}).items():
                figures[f"{control} {recovery.get('service')} {phase} p95"] = {
                    "s": value, "slo_s": recovery.get("slo_s", {}).get(phase)}
            window = check.get("evidence", {}).get("windows")
            if control == "CHS-07" and isinstance(window, dict):
                outage = window.get("outage_window_s")
                figures["CHS-07 outage window"] = {"s": outage[1] if outage else None, "slo_s": None}
                figures["CHS-07 errors outside the outage window (count)"] = {
                    "s": float(window.get("errors_outside", 0)), "slo_s": 0.0}
    for check in checks_of(summary, "DEP-02"):
        if "downtime_s" in check.get("evidence", {}):
            figures["DEP-02 update downtime"] = {"s": check["evidence"]["downtime_s"],
                                                 "slo_s": load_profile(PROFILE).deploy.update_slo_s}
    return figures


def parts_of(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"worker": p["worker"], "parts": p["parts"], "duration_s": p["duration_s"],
             "started_after_s": p["started_after_s"]} for p in summary["run"].get("parts", [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serial", action="store_true",
                        help="also run the gate without --parallel and compare the timing-sensitive figures")
    args = parser.parse_args()
    at_start = machine()
    floor = floor_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        wall, code, summary = run_gate(Path(tmp) / "parallel", parallel=True)
        serial = run_gate(Path(tmp) / "serial", parallel=False) if args.serial else None
    parts = parts_of(summary)
    critical = max((p["started_after_s"] + p["duration_s"] for p in parts), default=0.0)
    ratio = round(wall / critical, 2) if critical else None
    print(f"floor (up --wait + down -v): {floor['up_and_down_s']} s (up {floor['up_wait_s']} s)")
    print(f"gate (--parallel, chaos included): {wall} s, exit {code}, {summary['totals']} "
          f"(goal <= {GOAL_S:.0f} s)")
    for part in parts:
        print(f"  part {'+'.join(part['parts']):<14} on {part['worker']}: {part['duration_s']:>6.1f} s "
              f"(started {part['started_after_s']:.1f} s in)")
    print(f"critical path (the longest part, from the gate's start): {critical:.1f} s; gate / critical path: "
          f"{ratio} (goal <= {GOAL_RATIO})")
    figures = timing_figures(summary)
    compared: dict[str, dict[str, float | None]] = {}
    if serial is not None:
        serial_wall, serial_code, serial_summary = serial
        print(f"serial gate: {serial_wall} s, exit {serial_code}, {serial_summary['totals']}; "
              f"parallel / serial: {wall / serial_wall:.2f}")
        before = timing_figures(serial_summary)
        for name, now in figures.items():
            then = before.get(name, {}).get("s")
            moved = None if now["s"] is None or then is None else round(float(now["s"]) - float(then), 3)
            compared[name] = {"parallel_s": now["s"], "serial_s": then, "moved_s": moved, "slo_s": now["slo_s"]}
    print("timing-sensitive figures (s; margin = SLO - figure):")
    for name, now in figures.items():
        margin = None if now["s"] is None or now["slo_s"] is None else round(float(now["slo_s"]) - float(now["s"]), 3)
        moved = compared.get(name, {}).get("moved_s")
        print(f"  {name:<48} {now['s']!s:>8}  SLO {now['slo_s']!s:>6}  margin {margin!s:>8}"
              + (f"  moved {moved:+.3f} against serial" if isinstance(moved, float) else ""))
    write_record("gate_overhead", {
        **floor, "gate_s": wall, "exit_code": code, "controls": summary["totals"], "parts": parts,
        "critical_path_s": round(critical, 1), "gate_over_critical_path": ratio, "goal_ratio": GOAL_RATIO,
        "goal_gate_s": GOAL_S, "gate_over_floor": round(wall / floor["up_and_down_s"], 2),
        "timing_figures": figures, "against_serial": compared,
        **({"serial_gate_s": serial[0], "serial_exit_code": serial[1]} if serial is not None else {}),
    }, at_start)


if __name__ == "__main__":
    main()

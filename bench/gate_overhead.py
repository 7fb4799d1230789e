"""Gate overhead: the gate (every suite but chaos, ephemeral target) against its floor, one
`docker compose up --wait` plus `down -v` of the same stack, measured in the same run.

Prints the floor, the gate, their ratio (goal <= 1.5) and where the gate's time goes: per
suite and pytest phase (set-up, call, teardown from --durations=0), per fixture (set-up and
teardown, from bench/fixture_timing.py), the time deploy.sh itself took inside the deploy
suite (the runbook's procedure), and the slowest phases. Usage: .venv/bin/python bench/gate_overhead.py
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from record import REPO, SUITES, Stopwatch, machine, write_record

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


def procedure_seconds(summary: dict[str, Any]) -> dict[str, float]:
    """Wall time of the stack's own deploy.sh commands as the deploy suite recorded them: the
    runbook's procedure (each start waits for Docker's healthchecks), not the suite's work."""
    spent: dict[str, float] = defaultdict(float)
    for control in summary["controls"].values():
        for check in control.get("checks", []):
            evidence = check.get("evidence", {})
            commands = evidence.get("commands", [])
            for step in evidence.get("update_flow", []):  # DEP-02's steps, each its own command
                spent["update flow"] += float(step.get("duration_s") or 0.0)
            for command in commands if isinstance(commands, list) else [commands]:
                words = str(command.get("cmd", "")).split()
                at = next((n for n, word in enumerate(words) if word.endswith("deploy.sh")), None)
                if at is not None:
                    name = " ".join(words[at + 1:at + 2]) or "(no subcommand)"
                    spent[name] += float(command.get("duration_s") or 0.0)
    return {name: round(s, 1) for name, s in sorted(spent.items())}


def per_fixture(timing: Path) -> list[dict[str, object]]:
    """Set-up and teardown seconds per fixture (summed over its instances), slowest first."""
    totals: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for line in timing.read_text().splitlines() if timing.is_file() else []:
        record = json.loads(line)
        key = (record["fixture"], record["scope"], record["where"])
        totals[key]["setup_s"] += record["exclusive_s"]
        totals[key]["teardown_s"] += record["teardown_s"]
        totals[key]["instances"] += 1
    rows = [{"fixture": name, "scope": scope, "where": where, "setup_s": round(t["setup_s"], 2),
             "teardown_s": round(t["teardown_s"], 2), "instances": int(t["instances"])}
            for (name, scope, where), t in totals.items()]
    return sorted(rows, key=lambda r: -(float(r["setup_s"]) + float(r["teardown_s"])))  # type: ignore[arg-type]


def gate_seconds(report_dir: Path) -> dict[str, object]:
    clock = Stopwatch()
    timing = report_dir / "fixtures.jsonl"
    env = {**os.environ, "STACKPROBE_FIXTURE_TIMING": str(timing),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "bench"), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "--ignore=src/stackprobe/suites/chaos", "--target", "ephemeral",
         "--profile", str(PROFILE), f"--report-dir={report_dir}", "--durations=0", "--durations-min=0",
         "-q", "-p", "no:randomly", "-p", "fixture_timing"],
        cwd=REPO, capture_output=True, text=True, timeout=3600, env=env)
    total = clock()
    # reports/latest is a symlink to the run's directory: one results.json, found twice.
    (results,) = {path.resolve() for path in report_dir.glob("*/results.json")}
    summary = json.loads(results.read_text())
    phases = [(float(s), p, i) for s, p, i in
              re.findall(r"^([\d.]+)s (setup|call|teardown)\s+(\S+)$", done.stdout, re.M)]
    # Per suite and phase: set-up holds the fixtures (the shared stack's start lands in the
    # first item's set-up, the round trip in the backup suite's), call the checks themselves.
    per_suite: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for seconds, phase, item in phases:
        suite = item.split("/")[3] if item.startswith(f"{SUITES}/") else "other"
        per_suite[suite][phase] += seconds
    slowest = sorted(phases, reverse=True)[:15]
    return {"gate_s": total, "exit_code": done.returncode, "controls": summary["totals"],
            "per_suite_s": {suite: {p: round(s, 1) for p, s in sorted(by.items())}
                            for suite, by in sorted(per_suite.items())},
            "phases_total_s": round(sum(s for s, _, _ in phases), 1),
            "deploy_procedure_s": procedure_seconds(summary),
            "per_fixture_s": per_fixture(timing)[:15],
            "slowest_phases": [{"s": s, "phase": p, "item": i} for s, p, i in slowest]}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()  # --help, and no stray arguments
    at_start = machine()
    floor = floor_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        gate = gate_seconds(Path(tmp))
    ratio = round(float(gate["gate_s"]) / floor["up_and_down_s"], 2)  # type: ignore[arg-type]
    print(f"floor (up --wait + down -v): {floor['up_and_down_s']} s (up {floor['up_wait_s']} s)")
    print(f"gate (all suites but chaos): {gate['gate_s']} s, exit {gate['exit_code']}, {gate['controls']}")
    print(f"ratio gate/floor: {ratio} (goal <= 1.5)")
    procedure = sum(gate["deploy_procedure_s"].values())  # type: ignore[attr-defined]
    beyond = round((float(gate["gate_s"]) - procedure) / floor["up_and_down_s"], 2)  # type: ignore[arg-type]
    print(f"of which deploy.sh itself (the runbook's procedure, run by DEP-01/02): {procedure:.1f} s "
          f"{gate['deploy_procedure_s']}; the rest / floor: {beyond}")
    # The stack starts DEP-01/02 must do are as physical as the floor's own: gate against both.
    physical = round(float(gate["gate_s"]) / (floor["up_and_down_s"] + procedure), 2)  # type: ignore[arg-type]
    print(f"gate / (floor + deploy.sh's own time): {physical}")
    print("per suite and phase (s):")
    for suite, by in gate["per_suite_s"].items():  # type: ignore[attr-defined]
        print(f"  {suite:<15} " + "  ".join(f"{p} {s:>6.1f}" for p, s in by.items()))
    for phase in gate["slowest_phases"][:8]:  # type: ignore[index]
        print(f"  {phase['s']:>7.2f} s {phase['phase']:<8} {phase['item']}")
    print("per fixture (set-up + teardown, s):")
    for row in gate["per_fixture_s"][:10]:  # type: ignore[index]
        print(f"  {row['setup_s']:>7.2f} + {row['teardown_s']:>6.2f}  {row['fixture']} ({row['scope']}, "
              f"{row['where']}, x{row['instances']})")
    write_record("gate_overhead", {**floor, **gate, "ratio": ratio, "goal_ratio": 1.5,
                                   "deploy_procedure_total_s": round(procedure, 1),
                                   "ratio_without_deploy_procedure": beyond,
                                   "ratio_to_floor_plus_procedure": physical}, at_start)


if __name__ == "__main__":
    main()

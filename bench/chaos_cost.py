"""Chaos cost: the wall time of each chaos experiment against the recovery time it measured,
i.e. how much of the suite's time is the stack itself coming back (the floor no suite can go
under) and how much is the suite (steady-state checks, observation windows, probes).

Runs the whole chaos suite once against a throwaway copy (ephemeral target, the reference
profile, so the runbook's healthcheck intervals: 10 s for mysql and redis, 30 s for the backend)
and reads every check's duration and `recovery` evidence from results.json. Per recovery, the
time the stack took is its slowest phase (usually `healthy`: one healthcheck interval at the
least), summed over trials.

Usage: .venv/bin/python bench/chaos_cost.py [--trials 1] [--fast-health]
  --fast-health  healthchecks every 2 s (tests/support/fast-health.yml), as the project's tests run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from record import REPO, SUITES, Stopwatch, machine, write_record

PROFILE = REPO / "profiles" / "reference.toml"


def stack_seconds(evidence: dict[str, Any]) -> float:
    """Seconds the stack itself took, by the check's own measurements."""
    recoveries = evidence.get("recovery") or []
    total = 0.0
    for recovery in recoveries if isinstance(recoveries, list) else [recoveries]:
        for trial in recovery.get("trials", []):
            total += max((v for v in trial.values() if isinstance(v, int | float)), default=0.0)
    if not recoveries and isinstance(evidence.get("windows"), dict):  # CHS-04: crash to the first good write
        window = evidence["windows"].get("outage_window_s")
        total += window[1] if window else 0.0
    return round(total, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1, help="CHS-01 crashes per service")
    parser.add_argument("--fast-health", action="store_true")
    args = parser.parse_args()
    at_start = machine()
    work = Path(tempfile.mkdtemp(prefix="spbench-"))
    profile = work / "profile.toml"
    profile.write_text(PROFILE.read_text() + f"\n[chaos]\ntrials = {args.trials}\n")
    compose = ["--compose-file", str(REPO / "docker-compose.yml")]
    if args.fast_health:
        compose += ["--compose-file", str(REPO / "tests" / "support" / "fast-health.yml")]
    clock = Stopwatch()
    done = subprocess.run([sys.executable, "-m", "pytest", f"{SUITES}/chaos", "--target", "ephemeral", "--profile",
                           str(profile), *compose, f"--report-dir={work / 'reports'}", "-q", "-p", "no:randomly",
                           "--durations=0"], cwd=REPO, capture_output=True, text=True, timeout=3600)
    total = clock()
    (results,) = (p for p in (work / "reports").glob("*/results.json") if p.parent.name != "latest")
    summary = json.loads(results.read_text())
    rows = []
    for control, data in sorted(summary["controls"].items()):
        for check in data["checks"]:
            stack = stack_seconds(check["evidence"])
            rows.append({"control": control, "check": check["nodeid"].split("::")[-1], "status": check["status"],
                         "wall_s": check["duration_s"], "stack_recovery_s": stack,
                         "ratio": round(check["duration_s"] / stack, 2) if stack else None})
    setup = [float(x.split("s ")[0]) for x in done.stdout.splitlines() if " setup " in x and x[:1].isdigit()]
    experiments_s = round(sum(r["wall_s"] for r in rows), 1)
    stack_s = round(sum(r["stack_recovery_s"] for r in rows), 1)
    figures = {"suite_wall_s": total, "exit_code": done.returncode, "totals": summary["totals"],
               "trials": args.trials, "healthchecks": "fast (2 s)" if args.fast_health else "reference (10 s / 30 s)",
               "experiments_wall_s": experiments_s, "stack_recovery_s": stack_s,
               "stack_share_of_experiments": round(stack_s / experiments_s, 2) if experiments_s else None,
               "setup_s_total": round(sum(setup), 1), "experiments": rows}
    print(f"chaos suite: {total:.0f} s wall ({summary['totals']}), experiments {experiments_s} s, of which the "
          f"stack recovering {stack_s} s ({figures['stack_share_of_experiments']}), "
          f"set-up {figures['setup_s_total']} s")
    print(f"{'control':<8} {'check':<62} {'wall s':>7} {'stack s':>8} {'ratio':>6}")
    for row in rows:
        print(f"{row['control']:<8} {row['check'][:62]:<62} {row['wall_s']:>7.1f} {row['stack_recovery_s']:>8.1f} "
              f"{row['ratio']!s:>6}")
    write_record("chaos_cost", figures, at_start)


if __name__ == "__main__":
    main()

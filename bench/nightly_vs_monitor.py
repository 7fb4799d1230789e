"""Nightly live smoke against the runbook's monitor.sh on the same live stack.

Both run against one throwaway copy of the reference stack: `stack/scripts/monitor.sh`
(health URL, metrics URL, container states, `docker stats`) and the nightly selection of the
smoke suite (`-m nightly`, read-only) as a live target. Prints wall times (median of
--rounds), their ratio (goal <= 2) and the number of properties each checks (goal >= 5x).

Properties are counted from what each actually verified on this stack: monitor.sh's ✓/✗
lines plus one per container state it inspected; stackprobe's from its evidence (see
`count_stackprobe_properties`). Usage: .venv/bin/python bench/nightly_vs_monitor.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from record import REPO, Stopwatch, machine, write_record
from support.stacks import REFERENCE_PROFILE, SUITES, TestStack, run_pytest, started_stack


def run_monitor(stack: TestStack) -> tuple[float, int, str]:
    backend = stack.target.backend_url
    env = {**os.environ, "STACK_ENV_FILE": str(stack.env_file), "BACKEND_URL": backend,
           "METRICS_URL": stack.target.metrics_url,
           "COMPOSE_FILE": ":".join(str(f) for f in stack.compose_files), "COMPOSE_PROJECT_NAME": stack.project}
    clock = Stopwatch()
    done = subprocess.run([str(REPO / "stack/scripts/monitor.sh")], env=env, capture_output=True, text=True,
                          timeout=120)
    elapsed = clock()
    if done.returncode != 0:
        raise SystemExit(f"monitor.sh failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    checks = sum(1 for line in done.stdout.splitlines() if line.startswith(("✓", "✗")))
    services = len(stack.compose("config", "--services").stdout.split())
    return elapsed, checks + services, done.stdout


def count_stackprobe_properties(results: dict[str, Any]) -> dict[str, int]:
    """One property per thing a check compared with its expectation, read from the evidence."""
    counts: dict[str, int] = {}
    for cid, control in results["controls"].items():
        n = 0
        for check in control["checks"]:
            ev = check["evidence"]
            if cid == "HLT-01":
                n += 2 + len(ev.get("body", {}))  # status, latency budget, each contract field
            elif cid == "HLT-02":
                n += len(ev.get("body", {}).get("services", {})) + 2  # each dependency, tz, skew
            elif cid == "MET-01":
                n += len(ev.get("families", [])) + 1  # families seen (incl. the required), promtool
            elif cid == "MET-02":
                n += ev.get("scrapes", 0)  # monotonic counters per scrape
            elif cid == "CTR-01":
                n += 4 * len(ev.get("containers", {}))  # running, healthy, restarts, recent restart
            elif cid == "CTR-02":
                n += 6 * len(ev.get("healthchecks", {}))  # present, not no-op, = compose, 3 bounds
            elif cid == "CTR-03":
                n += len(ev.get("restart_policies", {}))
            elif cid in {"DB-01", "RDS-01"}:
                n += 4 if cid == "DB-01" else 3  # reachable, version, charset(s) / persistence
            elif cid == "DB-02":
                n += 3 + len(ev.get("grants", []))  # not root, current user, each grant
            else:
                n += 1
        counts[cid] = n
    return counts


def run_nightly(stack: TestStack, report_dir: Path) -> tuple[float, dict[str, int]]:
    clock = Stopwatch()
    run = run_pytest(f"{SUITES}/smoke", "-m", "nightly", "--profile", str(REFERENCE_PROFILE), *stack.suite_args(),
                     report_dir=report_dir)
    elapsed = clock()
    if run.returncode != 0:
        raise SystemExit(f"nightly smoke failed:\n{run.tail()}")
    return elapsed, count_stackprobe_properties(run.results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    at_start = machine()
    monitor_times, nightly_times = [], []
    with started_stack() as stack, tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            m, monitor_props, _ = run_monitor(stack)
            n, props = run_nightly(stack, Path(tmp) / str(round_))
            monitor_times.append(m)
            nightly_times.append(n)
    monitor_s, nightly_s = statistics.median(monitor_times), statistics.median(nightly_times)
    figures = {"monitor_sh_s": monitor_s, "nightly_smoke_s": nightly_s, "rounds": args.rounds,
               "time_ratio": round(nightly_s / monitor_s, 2), "goal_time_ratio": 2.0,
               "monitor_properties": monitor_props, "stackprobe_properties": sum(props.values()),
               "stackprobe_properties_by_control": props,
               "property_ratio": round(sum(props.values()) / monitor_props, 1), "goal_property_ratio": 5.0,
               "samples": {"monitor_sh_s": monitor_times, "nightly_smoke_s": nightly_times}}
    print(json.dumps({k: v for k, v in figures.items() if k != "stackprobe_properties_by_control"}, indent=1))
    write_record("nightly_vs_monitor", figures, at_start)


if __name__ == "__main__":
    main()

"""Fleet wall time: the nightly smoke suite over 1 live target vs 3 (one xdist worker each).

Starts three throwaway copies of the reference stack (three compose projects on this host),
runs `pytest src/stackprobe/suites/smoke --nightly --fleet` with a fleet of the first copy, then of all three
(`-n 3 --dist each`, set by --fleet), and prints both wall times and their ratio (goal: <= 1.5).
Removes the copies afterwards. Usage: .venv/bin/python bench/fleet.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path

from record import Stopwatch, machine, write_record
from support.stacks import REFERENCE_PROFILE, SUITES, TestStack, run_pytest, started_stack


def fleet_file(path: Path, stacks: list[TestStack]) -> Path:
    entries = []
    for number, stack in enumerate(stacks):
        files = ", ".join(f'"{f}"' for f in stack.compose_files)
        entries.append(f'[[hosts]]\nname = "copy{number}"\nprofile = "{REFERENCE_PROFILE}"\n'
                       f'project_name = "{stack.project}"\nenv_file = "{stack.env_file}"\n'
                       f"compose_files = [{files}]\n")
    path.write_text("\n".join(entries))
    return path


def timed(fleet: Path, report_dir: Path, hosts: list[str]) -> tuple[float, dict[str, object]]:
    """Wall time of one fleet run, and what its one report says (checked: one run directory, every
    host in it, every result carrying its host, every control passed on every host)."""
    clock = Stopwatch()
    run = run_pytest(f"{SUITES}/smoke", "--nightly", "--fleet", str(fleet), report_dir=report_dir)
    elapsed = clock()
    if run.returncode != 0:
        raise SystemExit(f"fleet run failed ({run.returncode}):\n{run.tail()}")
    runs = [p for p in report_dir.iterdir() if p.is_dir() and not p.is_symlink()]
    checks = [c for control in run.results["controls"].values() for c in control["checks"]]
    per_host = run.results["hosts"]
    problems = []
    if len(runs) != 1 or not (runs[0] / "controls.html").is_file():
        problems.append(f"expected one report, found {[p.name for p in runs]}")
    if sorted(per_host) != sorted(hosts) or sorted({c["host"] for c in checks}) != sorted(hosts):
        problems.append(f"hosts in the report {sorted(per_host)}, on results {sorted({c['host'] for c in checks})}")
    controls = {frozenset(per_host[h]) for h in per_host}
    if len(controls) != 1 or any(set(per_host[h].values()) != {"passed"} for h in per_host):
        problems.append(f"not every control passed on every host: {per_host}")
    if problems:
        raise SystemExit("fleet report: " + "; ".join(problems))
    return elapsed, {"run_dirs": len(runs), "hosts": sorted(per_host), "checks": len(checks),
                     "controls_per_host": len(next(iter(per_host.values())))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    at_start = machine()
    ones: list[float] = []
    threes: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack_of_stacks:
        work = Path(tmp)
        clock = Stopwatch()
        stacks = [stack_of_stacks.enter_context(started_stack()) for _ in range(3)]
        copies_up_s = clock()
        print(f"3 copies up in {copies_up_s:.1f} s")
        one, three = fleet_file(work / "one.toml", stacks[:1]), fleet_file(work / "three.toml", stacks)
        report: dict[str, object] = {}
        for round_ in range(args.rounds):
            ones.append(timed(one, work / f"r1-{round_}", ["copy0"])[0])
            elapsed, report = timed(three, work / f"r3-{round_}", ["copy0", "copy1", "copy2"])
            threes.append(elapsed)
            print(f"round {round_ + 1}: 1 target {ones[-1]:.1f} s, 3 targets (-n 3) {threes[-1]:.1f} s, "
                  f"ratio {threes[-1] / ones[-1]:.2f} (goal <= 1.5)")
    one_s, three_s = statistics.median(ones), statistics.median(threes)
    write_record("fleet", {"one_target_s": one_s, "three_targets_s": three_s, "rounds": args.rounds,
                           "ratio": round(three_s / one_s, 2), "goal_ratio": 1.5, "copies_up_s": copies_up_s,
                           "samples": {"one_target_s": ones, "three_targets_s": threes},
                           "three_target_report": report}, at_start)
    print(f"one report over 3 hosts: {report}")


if __name__ == "__main__":
    main()

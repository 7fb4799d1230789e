"""Fleet wall time: the nightly smoke suite over 1 live target vs 3 (one xdist worker each).

Starts three throwaway copies of the reference stack (three compose projects on this host),
runs `pytest suites/smoke --nightly --fleet` with a fleet of the first copy, then of all three
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
from support.stacks import REFERENCE_PROFILE, TestStack, run_pytest, started_stack


def fleet_file(path: Path, stacks: list[TestStack]) -> Path:
    entries = []
    for number, stack in enumerate(stacks):
        files = ", ".join(f'"{f}"' for f in stack.compose_files)
        entries.append(f'[[hosts]]\nname = "copy{number}"\nprofile = "{REFERENCE_PROFILE}"\n'
                       f'project_name = "{stack.project}"\nenv_file = "{stack.env_file}"\n'
                       f"compose_files = [{files}]\n")
    path.write_text("\n".join(entries))
    return path


def timed(fleet: Path, report_dir: Path) -> float:
    clock = Stopwatch()
    run = run_pytest("suites/smoke", "--nightly", "--fleet", str(fleet), report_dir=report_dir)
    elapsed = clock()
    if run.returncode != 0:
        raise SystemExit(f"fleet run failed ({run.returncode}):\n{run.tail()}")
    return elapsed


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
        for round_ in range(args.rounds):
            ones.append(timed(one, work / f"r1-{round_}"))
            threes.append(timed(three, work / f"r3-{round_}"))
            print(f"round {round_ + 1}: 1 target {ones[-1]:.1f} s, 3 targets (-n 3) {threes[-1]:.1f} s, "
                  f"ratio {threes[-1] / ones[-1]:.2f} (goal <= 1.5)")
    one_s, three_s = statistics.median(ones), statistics.median(threes)
    write_record("fleet", {"one_target_s": one_s, "three_targets_s": three_s, "rounds": args.rounds,
                           "ratio": round(three_s / one_s, 2), "goal_ratio": 1.5, "copies_up_s": copies_up_s,
                           "samples": {"one_target_s": ones, "three_targets_s": threes}}, at_start)


if __name__ == "__main__":
    main()

"""`--dry-run`: the plan of a run, printed, and nothing touched.

The plan says which target the run would use, which checks (controls) would run, which of
them write and where (`@pytest.mark.writes("mysql:canary table stackprobe_canary")`), which
faults they would inject on which services (`@pytest.mark.faults("stop:{dependency_services}")`),
and which would be skipped on a live target (destructive without --allow-destructive). It is
made from the collected items and the settings alone: no fixture runs, so no Docker API call,
no SSH connection, no database connection.

A marker given `on="ephemeral"` (or "live") applies to that kind of target only.
Placeholders in `writes`/`faults` specs name profile values: `{database}`, `{cache}`,
`{backend}` (service roles), `{dependency_services}` (health.dependency_services),
`{destructive_services}` (safety.destructive_services).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackprobe import absence
from stackprobe.fleet import fleet_description
from stackprobe.safety import destructive_refusal, marker_specs
from stackprobe.session import active_run, control_of
from stackprobe.settings import RunSettings


def skip_reason(item: pytest.Item, settings: RunSettings) -> str | None:
    """Why a check does not run on this target (None: it runs): a declared-absent part, or a
    destructive check on a live target without --allow-destructive."""
    control = control_of(item)
    absent = absence.verdict(settings.profile.absent, control) if control else None
    if absent is not None and not absent.is_finding:
        return absent.message
    if item.get_closest_marker("destructive"):
        return destructive_refusal(settings)
    return None


def target_line(settings: RunSettings) -> str:
    if settings.target == "ephemeral":
        return (f"ephemeral: a throwaway copy of {', '.join(str(f) for f in settings.compose_files)} "
                f"(started, then removed)")
    where = settings.host or "this host"
    return f"live: compose project {settings.project_name!r} on {where} (attach only, never started or stopped)"


def build_plan(items: list[pytest.Item], settings: RunSettings) -> dict[str, Any]:
    checks = []
    for item in items:
        faults = marker_specs(item, "faults", settings)
        writes = marker_specs(item, "writes", settings)
        destructive = item.get_closest_marker("destructive") is not None
        if destructive and not faults and not writes:
            writes = ["(destructive; no declaration of what it changes)"]
        checks.append({
            "nodeid": item.nodeid, "control": control_of(item) or "", "nightly":
            item.get_closest_marker("nightly") is not None, "destructive": destructive,
            "writes": writes, "faults": faults, "skip": skip_reason(item, settings),
        })
    return {
        "target": target_line(settings),
        "profile": settings.profile.source,
        "env_file": str(settings.env_file) if settings.env_file else "(generated from the template)",
        "allow_destructive": settings.allow_destructive,
        "selection": "nightly only" if settings.nightly else "as selected on the command line",
        "controls": sorted({c["control"] for c in checks if c["control"] and not c["skip"]}),
        "checks": checks,
    }


def render(plan: dict[str, Any]) -> list[str]:
    lines = ["stackprobe dry run: nothing is started, attached, connected to or changed",
             f"target:   {plan['target']}", f"profile:  {plan['profile']}", f"env file: {plan['env_file']}",
             f"destructive experiments: {'allowed' if plan['allow_destructive'] else 'not allowed'}",
             f"selection: {plan['selection']}"]
    runs = [c for c in plan["checks"] if not c["skip"]]
    skipped = [c for c in plan["checks"] if c["skip"]]
    lines.append(f"would run {len(runs)} checks of {len(plan['controls'])} controls:")
    for check in runs:
        effect = []
        if check["writes"]:
            effect.append("WRITES " + "; ".join(check["writes"]))
        if check["faults"]:
            effect.append("FAULTS " + "; ".join(check["faults"]))
        lines.append(f"  {check['control'] or '-':<8} {check['nodeid']}  "
                     f"{' | '.join(effect) or 'read-only'}")
    if skipped:
        lines.append(f"would skip {len(skipped)} checks:")
        for check in skipped:
            would = "; ".join(check["faults"] + check["writes"])
            lines.append(f"  {check['control'] or '-':<8} {check['nodeid']}  ({check['skip']}"
                         f"{'; would: ' + would if would else ''})")
    writers = [c for c in runs if c["writes"]]
    faulty = [c for c in runs if c["faults"]]
    lines.append(f"writes: {len(writers)} checks" + (": " + ", ".join(sorted({w for c in writers
                                                                              for w in c['writes']}))
                                                     if writers else " (read-only run)"))
    lines.append(f"faults: {len(faulty)} checks" + (": " + ", ".join(sorted({f for c in faulty
                                                                             for f in c['faults']}))
                                                    if faulty else " (none injected)"))
    return lines


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    config = session.config
    current = active_run(config)
    if current is None:
        return None
    settings = current.settings
    if not settings.dry_run or getattr(config, "workerinput", None) is not None:
        return None
    plan = build_plan(list(session.items), settings)
    fleet = fleet_description(config)
    if fleet:
        plan["fleet"] = fleet
        plan["target"] = f"fleet of {len(fleet)} live hosts, one xdist worker each: " + ", ".join(
            f"{h['name']} ({h['host']})" for h in fleet)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for line in render(plan):
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line)
    if current.run_dir is not None:
        Path(current.run_dir, "plan.json").write_text(json.dumps(plan, indent=2), encoding="utf-8")
    return True  # the run loop is done: no test runs, no fixture is set up

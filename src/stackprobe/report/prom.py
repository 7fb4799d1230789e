"""stackprobe.prom: the run's results for node_exporter's textfile collector, so nightly results
reach the alerting people already have (as goss's Prometheus output does for its checks).

Written with prometheus_client (its own registry; `write_to_textfile` writes a temporary file
and renames it, so the collector never reads half a file) into the run directory whenever the
report is rendered, and with --prom-textfile also to that path at the end of a run. Every value
comes from the report model, i.e. results.json:

    stackprobe_control_status{control,suite,severity,status} 1    one series per control
    stackprobe_control_failing{control,severity}             1|0  failed, error or aborted (not waived)
    stackprobe_run_success                                   1|0  the run's verdict (waivers, --fail-on)
    stackprobe_run_duration_seconds, stackprobe_run_finished_timestamp_seconds
    stackprobe_last_success_timestamp_seconds   this run if it passed, else the newest passed run in the history
    stackprobe_recovery_p95_seconds{control,experiment,phase}
    stackprobe_backup_age_seconds               age of the newest backup when the run looked at it
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from stackprobe.report.model import FAILING, RunReport
from stackprobe.report.recovery import recoveries

FILE = "stackprobe.prom"


def epoch(stamp: str) -> float | None:
    """'2026-11-25T07:04:10Z' → seconds since the epoch (None when not a timestamp)."""
    try:
        parsed = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def _duration(report: RunReport) -> float | None:
    recorded = report.run.get("duration_s")
    if isinstance(recorded, int | float) and not isinstance(recorded, bool):
        return float(recorded)
    started, finished = epoch(report.started), epoch(report.finished)
    return finished - started if started is not None and finished is not None else None


def _passed(record: dict[str, object]) -> bool:
    if "verdict" in record:
        return record["verdict"] == "passed"
    statuses = record.get("statuses")
    return isinstance(statuses, dict) and bool(statuses) and not set(statuses.values()) & FAILING


def last_success(report: RunReport, history: Path | None) -> float | None:
    if report.verdict() == "passed":
        return epoch(report.finished)
    if history is None or not history.is_file():
        return None
    from stackprobe.report.history import read_history

    passed = [r for r in read_history(history).before(report.run_id) if _passed(r)]
    return epoch(str(passed[-1].get("finished", ""))) if passed else None


def backup_age_s(report: RunReport) -> float | None:
    """The newest backup's age as the backup checks recorded it (`newest` evidence, `age_h`)."""
    for control in report.controls:
        for newest in control.evidence_values("newest"):
            age = newest.get("age_h") if isinstance(newest, dict) else None
            if isinstance(age, int | float) and not isinstance(age, bool):
                return float(age) * 3600
    return None


def registry_of(report: RunReport, history: Path | None = None) -> CollectorRegistry:
    registry = CollectorRegistry()
    status = Gauge("stackprobe_control_status", "Control status of the last run (1 for the status it had)",
                   ["control", "suite", "severity", "status"], registry=registry)
    failing = Gauge("stackprobe_control_failing", "1 if the control failed, errored or was aborted (not waived)",
                    ["control", "severity"], registry=registry)
    for control in report.controls:
        status.labels(control.id, control.suite, control.severity, control.status).set(1)
        failing.labels(control.id, control.severity).set(1 if control.status in FAILING else 0)
    Gauge("stackprobe_run_success", "1 if the last run passed (waivers, attestations and --fail-on applied)",
          registry=registry).set(1 if report.verdict() == "passed" else 0)
    figures = {"stackprobe_run_duration_seconds": ("Wall time of the last run", _duration(report)),
               "stackprobe_run_finished_timestamp_seconds": ("When the last run finished", epoch(report.finished)),
               "stackprobe_last_success_timestamp_seconds": ("When the newest passing run finished",
                                                             last_success(report, history)),
               "stackprobe_backup_age_seconds": ("Age of the newest backup when the run read it",
                                                 backup_age_s(report))}
    for name, (text, value) in figures.items():
        if value is not None:  # absent rather than a made-up 0: absent() alerts on it
            Gauge(name, text, registry=registry).set(value)
    p95 = Gauge("stackprobe_recovery_p95_seconds", "p95 recovery time per chaos experiment and phase",
                ["control", "experiment", "phase"], registry=registry)
    for control in report.controls:
        for item in recoveries(control):
            for phase, value in item.p95_s.items():
                p95.labels(control.id, item.key, phase).set(value)
    return registry


def write_prom(report: RunReport, path: Path, history: Path | None = None) -> Path:
    """Write the metrics to `path` (a directory gets stackprobe.prom in it), atomically."""
    if path.is_dir():
        path = path / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry_of(report, history))
    return path

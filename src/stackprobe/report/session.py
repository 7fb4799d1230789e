"""The report at the end of a pytest session: render, judge waivers, seal with a manifest.

`finish()` runs in pytest_sessionfinish (after results.json): it writes controls.html and
sets the exit status (a malformed waiver file is bad input: usage error; an expired waiver
fails the run; a run whose only failures are waived passes). `seal()` runs in
pytest_unconfigure, after every other report (JUnit, pytest-html) is written: manifest,
then the history record carrying the manifest's hash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stackprobe.evidence import CheckResult
from stackprobe.redact import REDACTOR
from stackprobe.report import PDF, Rendered, render_run
from stackprobe.report.history import append_record
from stackprobe.report.manifest import write_manifest
from stackprobe.report.model import RunReport, build_report
from stackprobe.report.waivers import load_waivers
from stackprobe.results import control_statuses
from stackprobe.settings import RunSettings


@dataclass
class SessionReport:
    run_dir: Path | None  # None with --report-dir=none: waivers judged, nothing written
    rendered: Rendered | None = None
    report: RunReport | None = None
    lines: list[str] = field(default_factory=list)  # one-line messages for the terminal summary


REPORT = pytest.StashKey[SessionReport]()


def _exit_status(current: int, report: RunReport, results: list[CheckResult], testsfailed: int) -> int:
    waivers = report.waivers
    if waivers.malformed:
        return int(pytest.ExitCode.USAGE_ERROR) if current in (0, 1) else current
    if waivers.problems:  # expired
        return int(pytest.ExitCode.TESTS_FAILED) if current == 0 else current
    waived = {c.id for c in report.controls if c.status == "waived"}
    waived_failures = sum(1 for r in results if r.status == "failed" and r.control in waived)
    if current == int(pytest.ExitCode.TESTS_FAILED) and waived_failures and waived_failures == testsfailed:
        return int(pytest.ExitCode.OK)
    return current


def finish(session: pytest.Session, run_dir: Path, settings: RunSettings, results: list[CheckResult]) -> None:
    state = SessionReport(run_dir)
    session.config.stash[REPORT] = state
    try:
        rendered = render_run(run_dir, waivers=settings.waivers, history=settings.history, archive_waivers=True)
    except Exception as error:  # the run's own result stands; say why the page is missing
        state.lines.append(f"stackprobe: controls.html not written: {type(error).__name__}: {error}")
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        return
    state.rendered, state.report = rendered, rendered.report
    state.lines.extend(_waiver_lines(rendered.report))
    state.lines.extend(f"stackprobe: {w}" for w in rendered.warnings)
    if settings.profile.report.pdf:
        from stackprobe.report.pdf import ChromiumError, to_pdf

        try:
            to_pdf(rendered.html, run_dir / PDF)
        except (ChromiumError, OSError) as error:
            state.lines.append(f"stackprobe: controls.pdf not written: {error}")
    session.exitstatus = _exit_status(int(session.exitstatus), rendered.report, results, session.testsfailed)


def _waiver_lines(report: RunReport) -> list[str]:
    lines = [f"stackprobe: {p.line}" for p in report.waivers.problems]
    for control in report.controls:
        if control.waiver is not None:
            lines.append(f"stackprobe: {control.id} failed and is waived until "
                         f"{control.waiver.expires.isoformat()} (ticket {control.waiver.ticket})")
    return lines


def judge(session: pytest.Session, settings: RunSettings, results: list[CheckResult]) -> None:
    """--report-dir=none: no page, history or manifest, but waivers still decide the exit code."""
    if settings.waivers is None:
        return
    summary = {"controls": {cid: {"status": status} for cid, status in control_statuses(results).items()}}
    report = build_report(summary, "", load_waivers(settings.waivers, dt.datetime.now(dt.UTC).date()))
    session.config.stash[REPORT] = SessionReport(None, report=report, lines=_waiver_lines(report))
    session.exitstatus = _exit_status(int(session.exitstatus), report, results, session.testsfailed)


def statuses(config: pytest.Config) -> dict[str, str] | None:
    """Control statuses with waivers applied, once the report is rendered."""
    state = config.stash.get(REPORT, None)
    return state.report.statuses() if state and state.report else None


def lines(config: pytest.Config) -> list[str]:
    state = config.stash.get(REPORT, None)
    return [REDACTOR.redact(line) for line in state.lines] if state else []


def seal(config: pytest.Config, settings: RunSettings) -> None:
    """Manifest of every artifact, then the history record (with the manifest's hash)."""
    state = config.stash.get(REPORT, None)
    if state is None or state.run_dir is None:
        return
    digest = write_manifest(state.run_dir)
    if state.rendered is not None and settings.history is not None:
        record = dict(state.rendered.record, manifest_sha256=digest)
        try:
            append_record(settings.history, REDACTOR.redact_obj(record))
        except OSError as error:
            import sys

            sys.stderr.write(f"stackprobe: history {settings.history} not updated: {error}\n")

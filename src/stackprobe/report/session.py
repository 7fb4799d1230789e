"""The report at the end of a pytest session: render, judge waivers, seal with a manifest.

`finish()` runs in pytest_sessionfinish (after results.json): it writes controls.html (and the
HDF, SARIF and Prometheus files) and sets the exit status (a malformed waiver or attestation
file is bad input: usage error; an expired one fails the run; a run whose only failures are
waived or below --fail-on passes). `seal()` runs in pytest_unconfigure, after every other
report (JUnit, pytest-html) is written: manifest (signed with --sign-key), then the history
record carrying the manifest's hash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stackprobe.evidence import CheckResult
from stackprobe.redact import REDACTOR
from stackprobe.report import PDF, Rendered, render_run
from stackprobe.report.attestations import load_attestations
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
    if report.waivers.malformed or report.attestations.malformed:
        return int(pytest.ExitCode.USAGE_ERROR) if current in (0, 1) else current
    if report.problems:  # expired
        return int(pytest.ExitCode.TESTS_FAILED) if current == 0 else current
    # failures that do not fail the run: waived, or of a control below --fail-on
    tolerated = {c.id for c in report.controls if c.status == "waived"} | {c.id for c in report.below_threshold()}
    tolerated_failures = sum(1 for r in results if r.status == "failed" and r.control in tolerated)
    if current == int(pytest.ExitCode.TESTS_FAILED) and tolerated_failures and tolerated_failures == testsfailed:
        return int(pytest.ExitCode.OK)
    return current


def finish(session: pytest.Session, run_dir: Path, settings: RunSettings, results: list[CheckResult]) -> None:
    state = SessionReport(run_dir)
    session.config.stash[REPORT] = state
    try:
        rendered = render_run(run_dir, waivers=settings.waivers, history=settings.history, archive_waivers=True,
                              attestations=settings.attestations, fail_on=settings.fail_on)
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
    if settings.prom_textfile is not None:
        _write_prom(state, settings, rendered)


def _write_prom(state: SessionReport, settings: RunSettings, rendered: Rendered) -> None:
    """The run's metrics where node_exporter reads them (--prom-textfile)."""
    from stackprobe.report.prom import write_prom

    assert settings.prom_textfile is not None
    try:
        write_prom(rendered.report, settings.prom_textfile, settings.history)
    except OSError as error:
        state.lines.append(f"stackprobe: --prom-textfile {settings.prom_textfile}: not written: "
                           f"{error.strerror or error}")


def _waiver_lines(report: RunReport) -> list[str]:
    lines = [f"stackprobe: {p.line}" for p in report.problems]
    for control in report.controls:
        if control.waiver is not None:
            lines.append(f"stackprobe: {control.id} failed and is waived until "
                         f"{control.waiver.expires.isoformat()} (ticket {control.waiver.ticket})")
        if control.attestation is not None:
            lines.append(f"stackprobe: {control.id} attested by {control.attestation.attested_by} until "
                         f"{control.attestation.expires.isoformat()} (no automated result)")
    for control in report.below_threshold():
        lines.append(f"stackprobe: {control.id} ({control.severity}) failed below the threshold (fail-on "
                     f"{report.fail_on}): it does not fail the run")
    return lines


def judge(session: pytest.Session, settings: RunSettings, results: list[CheckResult]) -> None:
    """--report-dir=none: no page, history or manifest, but waivers, attestations and --fail-on still
    decide the exit code."""
    if settings.waivers is None and settings.attestations is None and settings.fail_on == "low":
        return
    summary = {"controls": {cid: {"status": status} for cid, status in control_statuses(results).items()}}
    today = dt.datetime.now(dt.UTC).date()
    report = build_report(summary, "", load_waivers(settings.waivers, today),
                          load_attestations(settings.attestations, today), settings.fail_on)
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
    if settings.sign_key is not None:
        from stackprobe.report.signing import SigningError, sign_sums

        try:
            sign_sums(state.run_dir, settings.sign_key)
        except SigningError as error:
            import sys

            sys.stderr.write(f"stackprobe: {error}\n")
    if state.rendered is not None and settings.history is not None:
        record = dict(state.rendered.record, manifest_sha256=digest)
        try:
            append_record(settings.history, REDACTOR.redact_obj(record))
        except OSError as error:
            import sys

            sys.stderr.write(f"stackprobe: history {settings.history} not updated: {error}\n")

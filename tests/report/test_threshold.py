"""--fail-on: which failures fail the run, said on the page; and the project's example SAF
threshold file, run by the MITRE SAF CLI against the HDF export of a clean run and of a run with
a critical failure."""

from __future__ import annotations

import subprocess
from pathlib import Path

import fabricate as fab
import pytest
from pageparse import Page
from saftools import REPO, saf_cli

from stackprobe.report import HDF, render_run
from stackprobe.report.model import at_or_above

THRESHOLD = REPO / "profiles" / "saf-threshold.example.yml"
CLEAN = {"SEC-06": "passed", "CHS-06": "passed", "DEP-03": "passed"}


def _saf_threshold(run: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(saf_cli()), "validate", "threshold", "-i", str(run / HDF), "-T", str(THRESHOLD)],
                          capture_output=True, text=True, timeout=120, cwd=run.parent)


def test_severity_order() -> None:
    assert at_or_above("critical", "high") and at_or_above("high", "high")
    assert not at_or_above("medium", "high") and not at_or_above("low", "medium")
    assert all(at_or_above(s, "low") for s in ("critical", "high", "medium", "low"))
    assert at_or_above("unknown", "critical")  # a severity nobody knows never slips under the threshold


def test_failures_below_the_threshold_are_named_and_do_not_fail_the_verdict(tmp_path: Path) -> None:
    # LOG-04 is low, MET-01 medium, SEC-06 critical
    data = fab.summary({"SEC-06": "passed", "CHS-06": "passed", "DEP-03": "passed", "LOG-04": "failed",
                        "MET-01": "failed"})
    run = fab.write_run(tmp_path, "r1", data)
    report = render_run(run, fail_on="high").report
    assert [c.id for c in report.below_threshold()] == ["MET-01", "LOG-04"]
    assert report.verdict() == "passed"
    page = Page((run / "controls.html").read_text())
    assert "Failed below the threshold (fail-on high)" in page.text and "LOG-04" in page.text
    assert dict(page.controls)["LOG-04"] == "failed"  # still shown as what it is
    assert render_run(run, fail_on="medium").report.verdict() == "failed"  # MET-01 is medium
    assert render_run(run).report.verdict() == "failed"  # default: every failure counts
    data["run"]["fail_on"] = "low"  # what the run recorded is the default of a re-render
    data["controls"]["DEP-03"]["status"] = "error"
    run = fab.write_run(tmp_path, "r2", data)
    report = render_run(run, fail_on="critical").report
    assert report.verdict() == "failed"  # an error proved nothing: no threshold excuses it


def test_saf_threshold_passes_a_clean_run(tmp_path: Path) -> None:
    run = fab.write_run(tmp_path, "clean", fab.summary(CLEAN))
    render_run(run)
    done = _saf_threshold(run)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]


def test_saf_threshold_fails_a_run_with_a_critical_failure(tmp_path: Path) -> None:
    run = fab.write_run(tmp_path, "critical", fab.summary({**CLEAN, "SEC-06": "failed"}))  # SEC-06 is critical
    render_run(run)
    done = _saf_threshold(run)
    assert done.returncode != 0
    assert "failed.critical.max" in done.stdout + done.stderr


@pytest.mark.parametrize("status", ["failed", "error"])
def test_saf_threshold_fails_on_high_failures_and_errors(tmp_path: Path, status: str) -> None:
    run = fab.write_run(tmp_path, status, fab.summary({**CLEAN, "DEP-03": status}))  # DEP-03 is high
    render_run(run)
    assert _saf_threshold(run).returncode != 0

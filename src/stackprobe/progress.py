"""Progress of a `stackprobe run`: one line when a suite starts, one when a control's checks are done.

A gate takes minutes (a chaos suite tens of them); pytest's dots say little about where it is.
Loaded by the command only (`-p stackprobe.progress`), never in a plain pytest session.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from stackprobe.activation import SUITES_DIR

_WORST = ("error", "failed", "skipped", "passed")  # a control's status: the worst of its checks


def suite_of(path: Path) -> str:
    """The suite an item belongs to: its directory under stackprobe's suites, else its own directory."""
    resolved = path.resolve()
    if SUITES_DIR in resolved.parents:
        return resolved.relative_to(SUITES_DIR).parts[0]
    return resolved.parent.name


class Progress:
    def __init__(self) -> None:
        self.suite_of: dict[str, str] = {}
        self.control_of: dict[str, str] = {}
        self.remaining: Counter[str] = Counter()
        self.status: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.suite_sizes: Counter[str] = Counter()
        self.current_suite = ""
        self.config: pytest.Config | None = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            suite = self.suite_of[item.nodeid] = suite_of(Path(str(item.path)))
            self.suite_sizes[suite] += 1
            marker = item.get_closest_marker("control")
            if marker and marker.args:
                self.control_of[item.nodeid] = control = str(marker.args[0])
                self.remaining[control] += 1

    def _line(self, text: str) -> None:
        reporter: Any = self.config.pluginmanager.get_plugin("terminalreporter") if self.config else None
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(f"stackprobe: {text}")

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        suite = self.suite_of.get(nodeid, "")
        if suite and suite != self.current_suite:
            self.current_suite = suite
            self._line(f"suite {suite}: {self.suite_sizes[suite]} check(s)")
        control = self.control_of.get(nodeid)
        if control:
            self.started.setdefault(control, time.monotonic())

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport) -> Generator[None, Any, Any]:
        """No dot per check of a control: the control's line says it (categories stay pytest's)."""
        status = yield
        if status and report.nodeid in self.control_of:
            category, _letter, word = status
            return category, "", word
        return status

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        control = self.control_of.get(report.nodeid)
        if control is None:
            return
        outcome = "error" if report.failed and report.when != "call" else report.outcome
        if report.when == "call" or report.outcome != "passed":
            before = self.status.get(control, "passed")
            self.status[control] = min(before, outcome, key=_WORST.index)
        if report.when == "teardown":
            self.remaining[control] -= 1
            if self.remaining[control] == 0:
                took = time.monotonic() - self.started.get(control, time.monotonic())
                self._line(f"  {control} {self.status.get(control, 'passed')} ({took:.1f} s)")


def pytest_configure(config: pytest.Config) -> None:
    progress = Progress()
    progress.config = config
    config.pluginmanager.register(progress, "stackprobe-progress-lines")

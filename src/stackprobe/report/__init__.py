"""The auditor's report of a run: controls.html (+ PDF), waivers, history and trends, manifest.

`render_run()` builds the page from a run directory's results.json (and the waiver and
history files); the plugin calls it at the end of a session, `python -m stackprobe.report`
calls it without running anything.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe.redact import REDACTOR
from stackprobe.report.hdf import to_hdf
from stackprobe.report.history import Diff, diff, read_history, record_of
from stackprobe.report.model import RunReport, build_report, load_summary
from stackprobe.report.render import render_page
from stackprobe.report.waivers import WaiverSet, load_waivers

HTML = "controls.html"
HDF = "controls.hdf.json"
PDF = "controls.pdf"
WAIVERS_COPY = "waivers.toml"

__all__ = ["HDF", "HTML", "PDF", "Rendered", "render_run", "run_date"]


@dataclass(frozen=True)
class Rendered:
    report: RunReport
    html: Path
    record: dict[str, Any]  # the run's history record (without manifest hash)
    diff: Diff
    warnings: tuple[str, ...]

    @property
    def waivers(self) -> WaiverSet:
        return self.report.waivers


def run_date(summary: dict[str, Any]) -> dt.date:
    """The day waivers are judged on: the run's end (so a re-render months later agrees)."""
    run = summary.get("run") if isinstance(summary.get("run"), dict) else {}
    for key in ("finished", "started"):
        value = (run or {}).get(key)
        if isinstance(value, str) and len(value) >= 10:
            try:
                return dt.date.fromisoformat(value[:10])
            except ValueError:
                continue
    return dt.datetime.now(dt.UTC).date()


def _version(report: RunReport) -> str:
    versions = report.run.get("versions")
    return str(versions.get("stackprobe", "")) if isinstance(versions, dict) else ""


def render_run(run_dir: Path, *, waivers: Path | None = None, history: Path | None = None,
               today: dt.date | None = None, archive_waivers: bool = False) -> Rendered:
    """Write run_dir/controls.html; raises model.ResultsError when results.json is unusable."""
    summary = load_summary(run_dir)
    if waivers is not None and archive_waivers and waivers.is_file():
        copy = run_dir / WAIVERS_COPY
        if waivers.resolve() != copy.resolve():  # archived with the run, redacted like every artifact
            copy.write_text(REDACTOR.redact(waivers.read_text(encoding="utf-8", errors="replace")), encoding="utf-8")
    waiver_set = load_waivers(waivers, today or run_date(summary))
    report = build_report(summary, run_dir.name, waiver_set)
    record = record_of(report)
    warnings: list[str] = []
    earlier: list[dict[str, Any]] = []
    source = ""
    if history is not None:
        read = read_history(history)
        warnings.extend(read.warnings)
        earlier = read.before(report.run_id)
        source = read.source
    changes = diff(earlier[-1] if earlier else None, record) if history is not None else Diff("")
    page = render_page(report, diff=changes if history is not None else None, history=earlier, current=record,
                       history_source=source, warnings=warnings,
                       generated=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    path = run_dir / HTML
    path.write_text(page, encoding="utf-8")
    hdf = REDACTOR.redact_obj(to_hdf(report, _version(report)))
    (run_dir / HDF).write_text(json.dumps(hdf, indent=1, ensure_ascii=False), encoding="utf-8")
    return Rendered(report, path, record, changes, tuple(warnings))

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
from stackprobe.report.attestations import load_attestations
from stackprobe.report.hdf import to_hdf
from stackprobe.report.history import Diff, diff, read_history, record_of
from stackprobe.report.model import RunReport, build_report, load_summary
from stackprobe.report.render import render_page
from stackprobe.report.waivers import WaiverSet, load_waivers

HTML = "controls.html"
HDF = "controls.hdf.json"
PDF = "controls.pdf"
SARIF = "controls.sarif"
PROM = "stackprobe.prom"
WAIVERS_COPY = "waivers.toml"
ATTESTATIONS_COPY = "attestations.toml"

__all__ = ["HDF", "HTML", "PDF", "PROM", "SARIF", "Rendered", "render_run", "run_date"]


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


def _archive(source: Path | None, copy: Path) -> None:
    """Keep the file with the run (redacted like every artifact), so a re-render judges the same."""
    if source is not None and source.is_file() and source.resolve() != copy.resolve():
        copy.write_text(REDACTOR.redact(source.read_text(encoding="utf-8", errors="replace")), encoding="utf-8")


def render_run(run_dir: Path, *, waivers: Path | None = None, history: Path | None = None,
               today: dt.date | None = None, archive_waivers: bool = False, attestations: Path | None = None,
               fail_on: str | None = None) -> Rendered:
    """Write run_dir/controls.html, the HDF and SARIF exports; raises model.ResultsError when
    results.json is unusable. `fail_on` defaults to the threshold the run recorded."""
    from stackprobe.report.prom import write_prom
    from stackprobe.report.sarif import to_sarif

    summary = load_summary(run_dir)
    if archive_waivers:
        _archive(waivers, run_dir / WAIVERS_COPY)
        _archive(attestations, run_dir / ATTESTATIONS_COPY)
    day = today or run_date(summary)
    report = build_report(summary, run_dir.name, load_waivers(waivers, day), load_attestations(attestations, day),
                          fail_on)
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
    sarif = REDACTOR.redact_obj(to_sarif(report, _version(report)))
    (run_dir / SARIF).write_text(json.dumps(sarif, indent=1, ensure_ascii=False), encoding="utf-8")
    write_prom(report, run_dir / PROM, history)
    return Rendered(report, path, record, changes, tuple(warnings))

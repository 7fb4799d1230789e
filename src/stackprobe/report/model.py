"""The report's model: results.json read back, with the catalogue and the waivers applied.

results.json is the record of the run; the model only reads it, tolerating fields that an
older or newer stackprobe did not write (they show as "not recorded").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackprobe import catalogue
from stackprobe.report.attestations import ATTESTABLE, Attestation, AttestationSet
from stackprobe.report.waivers import Waiver, WaiverSet

STATUSES = ("failed", "error", "aborted", "waived", "attested", "skipped", "not_applicable", "passed")
FAILING = frozenset({"failed", "error", "aborted"})
SEVERITIES = ("critical", "high", "medium", "low")


def at_or_above(severity: str, threshold: str) -> bool:
    """Whether a control of `severity` fails the run under --fail-on `threshold` (unknown: it does)."""
    if severity not in SEVERITIES or threshold not in SEVERITIES:
        return True
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


class ResultsError(Exception):
    """results.json missing or unreadable: the one-line message names the file."""


@dataclass(frozen=True)
class Check:
    nodeid: str
    status: str
    started: str
    duration_s: float
    message: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class ControlResult:
    id: str
    title: str
    suite: str
    severity: str
    why: str
    fix: str
    tags: tuple[str, ...]
    raw_status: str  # what the checks said ("not run": only an attestation brought it into the report)
    duration_s: float
    checks: tuple[Check, ...]
    waiver: Waiver | None = None  # applied (status "waived")
    expired_waiver: Waiver | None = None  # present but expired: not applied
    nist: tuple[str, ...] = ()  # NIST SP 800-53 rev. 5 tags
    attestation: Attestation | None = None  # applied (status "attested")
    # given but not applied: expired, or the control has an automated result of its own
    unapplied_attestation: Attestation | None = None
    unapplied_why: str = ""  # "expired on ...", or the automated result that decides instead

    @property
    def status(self) -> str:
        if self.waiver is not None:
            return "waived"
        if self.attestation is not None:
            return "attested"
        return "skipped" if self.raw_status == "not run" else self.raw_status

    def evidence_values(self, name: str) -> list[Any]:
        """Every value recorded under `name` by the checks (repeated records are lists)."""
        found: list[Any] = []
        for check in self.checks:
            if name in check.evidence:
                value = check.evidence[name]
                found.extend(value if isinstance(value, list) else [value])
        return found


@dataclass(frozen=True)
class RunReport:
    run_id: str
    run: dict[str, Any]
    controls: tuple[ControlResult, ...]
    waivers: WaiverSet = field(default_factory=lambda: WaiverSet(""))
    attestations: AttestationSet = field(default_factory=lambda: AttestationSet(""))
    fail_on: str = "low"  # lowest severity whose failure fails the run

    @property
    def started(self) -> str:
        return str(self.run.get("started", ""))

    @property
    def finished(self) -> str:
        return str(self.run.get("finished", ""))

    def by_id(self) -> dict[str, ControlResult]:
        return {c.id: c for c in self.controls}

    def statuses(self) -> dict[str, str]:
        return {c.id: c.status for c in self.controls}

    @property
    def problems(self) -> tuple[Any, ...]:
        """Waiver and attestation problems (EntryProblem): malformed is bad input, expired fails the run."""
        return (*self.waivers.problems, *self.attestations.problems)

    def below_threshold(self) -> list[ControlResult]:
        """Failed controls whose severity is below --fail-on: reported, but they do not fail the run.
        An error or an aborted experiment proved nothing either way, so no threshold excuses it."""
        return [c for c in self.controls if c.status == "failed" and not at_or_above(c.severity, self.fail_on)]

    def verdict(self) -> str:
        tolerated = {c.id for c in self.below_threshold()}
        if any(c.status in FAILING and c.id not in tolerated for c in self.controls) or self.problems:
            return "failed"
        return "passed" if self.controls else "empty"


def _check(data: dict[str, Any]) -> Check:
    evidence = data.get("evidence")
    return Check(str(data.get("nodeid", "?")), str(data.get("status", "error")), str(data.get("started", "")),
                 float(data.get("duration_s") or 0.0), str(data.get("message") or ""),
                 evidence if isinstance(evidence, dict) else {})


def _control(control_id: str, data: dict[str, Any], waivers: WaiverSet, attestations: AttestationSet) -> ControlResult:
    known = catalogue.BY_ID.get(control_id)

    def pick(key: str, default: str) -> str:
        value = data.get(key)
        return str(value) if value else (str(getattr(known, key)) if known else default)

    tags = data.get("tags") if isinstance(data.get("tags"), list) else (list(known.tags) if known else [])
    nist = data.get("nist") if isinstance(data.get("nist"), list) else (list(known.nist) if known else [])
    raw = str(data.get("status", "error"))
    checks = tuple(_check(c) for c in data.get("checks", []) if isinstance(c, dict))
    waiver = waivers.for_control(control_id) if raw == "failed" else None
    attestation = attestations.for_control(control_id) if raw in ATTESTABLE else None
    unapplied, why = None, ""
    if attestation is None:
        if (expired := attestations.expired_for(control_id)) is not None:
            unapplied, why = expired, f"expired on {expired.expires.isoformat()}"
        elif (given := attestations.for_control(control_id)) is not None:
            unapplied, why = given, f"the automated checks decide ({raw})"
    return ControlResult(
        control_id, pick("title", "(not in this stackprobe's catalogue)"), pick("suite", "other"),
        pick("severity", "medium"), pick("why", ""), pick("fix", ""), tuple(str(t) for t in tags or []),
        raw, float(data.get("duration_s") or sum(c.duration_s for c in checks)), checks, waiver,
        waivers.expired_for(control_id), tuple(str(t) for t in nist or []), attestation, unapplied, why,
    )


def _order(control: ControlResult) -> tuple[int, str]:
    ids = list(catalogue.BY_ID)
    return (ids.index(control.id) if control.id in ids else len(ids), control.id)


def build_report(summary: dict[str, Any], run_id: str, waivers: WaiverSet,
                 attestations: AttestationSet | None = None, fail_on: str | None = None) -> RunReport:
    """The run's controls with waivers and attestations applied; a control the run did not check
    but an attestation names joins the report ("not run" underneath). `fail_on` defaults to the
    threshold the run recorded."""
    attestations = attestations or AttestationSet("")
    controls = dict(summary.get("controls") or {}) if isinstance(summary.get("controls"), dict) else {}
    for attested in (*attestations.valid, *attestations.expired):
        controls.setdefault(attested.control, {"status": "not run", "checks": []})
    run = summary.get("run") if isinstance(summary.get("run"), dict) else {}
    built = [_control(cid, data, waivers, attestations) for cid, data in controls.items() if isinstance(data, dict)]
    threshold = fail_on or str((run or {}).get("fail_on") or "low")
    return RunReport(run_id, run or {}, tuple(sorted(built, key=_order)), waivers, attestations, threshold)


def load_summary(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path} does not exist: point at a run directory under reports/") from None
    except (OSError, ValueError) as error:
        raise ResultsError(f"{path} cannot be read as JSON: {error}") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path} is not a results object")
    return data


def not_run(report: RunReport) -> list[catalogue.Control]:
    """Catalogue controls with no check in this run (the auditor asks about those too)."""
    seen = {c.id for c in report.controls}
    return [c for c in catalogue.CONTROLS if c.id not in seen]

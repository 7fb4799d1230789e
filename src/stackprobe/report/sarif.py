"""SARIF 2.1.0 export (controls.sarif) for code-scanning views: one result per finding the checks
located in a file (env-file keys, compose files: any check that records one), read from the
`locations` evidence of results.json, the same record every other output reads.

rule = control ID; level from severity (critical/high → error, medium → warning, low → note);
a finding of a waived control carries an accepted external suppression with the justification.
Paths under the project directory are relative to PROJECTROOT (as code-scanning uploads expect);
others stay absolute file URIs.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from stackprobe.report.model import ControlResult, RunReport

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
EVIDENCE = "locations"  # evidence name: [{"file", "line", "message"}], see checks.findings.Location


def located(control: ControlResult) -> list[dict[str, Any]]:
    """Every recorded finding location of the control that names a file and a line."""
    return [item for item in control.evidence_values(EVIDENCE)
            if isinstance(item, dict) and isinstance(item.get("file"), str) and item["file"]
            and isinstance(item.get("line"), int) and item["line"] >= 1]


def _project_root(report: RunReport) -> str:
    target = report.run.get("target")
    root = report.run.get("project_dir") or (target.get("project_dir") if isinstance(target, dict) else None)
    return str(root) if isinstance(root, str) and root.startswith("/") else ""


def _artifact(file: str, root: str) -> dict[str, Any]:
    path = PurePosixPath(file)
    if root and path.is_relative_to(root):
        return {"uri": path.relative_to(root).as_posix(), "uriBaseId": "PROJECTROOT"}
    return {"uri": Path(file).as_uri() if path.is_absolute() else path.as_posix()}


def _rule(control: ControlResult) -> dict[str, Any]:
    return {"id": control.id, "name": control.id.replace("-", ""), "shortDescription": {"text": control.title},
            "fullDescription": {"text": control.why or control.title}, "help": {"text": control.fix or control.title},
            "defaultConfiguration": {"level": LEVEL.get(control.severity, "warning")},
            "properties": {"severity": control.severity, "suite": control.suite,
                           "tags": [*control.tags, *(f"NIST-800-53:{t}" for t in control.nist)]}}


def _result(control: ControlResult, rule_index: int, item: dict[str, Any], root: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": control.id, "ruleIndex": rule_index, "level": LEVEL.get(control.severity, "warning"),
        "message": {"text": str(item.get("message") or control.title)},
        "locations": [{"physicalLocation": {"artifactLocation": _artifact(item["file"], root),
                                            "region": {"startLine": item["line"]}}}],
    }
    if control.waiver is not None:
        w = control.waiver
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": f"{w.justification} (approved by {w.approver}, ticket "
                                                    f"{w.ticket}, expires {w.expires.isoformat()})"}]
    return result


def to_sarif(report: RunReport, version: str = "") -> dict[str, Any]:
    root = _project_root(report)
    rules: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for control in report.controls:
        items = located(control)
        if not items:
            continue
        rules.append(_rule(control))
        results.extend(_result(control, len(rules) - 1, item, root) for item in items)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "stackprobe", "version": version or "0", "rules": rules}},
        "automationDetails": {"id": f"stackprobe/{report.run_id}"},
        "results": results,
    }
    if root:
        run["originalUriBaseIds"] = {"PROJECTROOT": {"uri": Path(root).as_uri() + "/"}}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}

"""Export in the Heimdall Data Format (InSpec exec JSON 1.0), for the tools auditors already use
(MITRE SAF CLI, Heimdall). One HDF control per stackprobe control, one result per check.

Status mapping (HDF has no "waived" or "aborted"): passed → passed; failed → failed;
error/aborted → error (Heimdall: "Profile Error"); skipped → skipped ("Not Reviewed");
waived → the failed results plus `waiver_data` with `skipped_due_to_waiver`, which Heimdall
shows as "Not Applicable" with the justification, as it does for InSpec's own waivers.
Severity maps to impact as InSpec does (critical 0.9, high 0.7, medium 0.5, low 0.3).
NIST SP 800-53 tags go to `tags.nist`, where Heimdall's NIST view places a control.
Attested → the skipped (or no) automated results plus a passed attestation segment and
`attestation_data`, as `saf attest apply` writes them; an expired attestation gives a skipped
segment ("Not Reviewed"), so an attested control passes only until it expires.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from stackprobe.report.attestations import Attestation
from stackprobe.report.model import ControlResult, RunReport

IMPACT = {"critical": 0.9, "high": 0.7, "medium": 0.5, "low": 0.3}
_RESULT_STATUS = {"passed": "passed", "failed": "failed", "skipped": "skipped", "error": "error", "aborted": "error",
                  "not_applicable": "skipped"}
# what Heimdall shows for each stackprobe status (see the module docstring)
HEIMDALL_STATUS = {"passed": "Passed", "failed": "Failed", "error": "Profile Error", "aborted": "Profile Error",
                   "skipped": "Not Reviewed", "waived": "Not Applicable", "attested": "Passed",
                   "not_applicable": "Not Applicable"}


def _result(check: Any) -> dict[str, Any]:
    status = _RESULT_STATUS.get(check.status, "error")
    result: dict[str, Any] = {
        "status": status, "code_desc": check.nodeid, "run_time": round(check.duration_s, 3),
        "start_time": check.started, "resource": "stackprobe check",
    }
    evidence = json.dumps(check.evidence, ensure_ascii=False, sort_keys=True)
    if status in ("skipped", "not_applicable"):
        result["skip_message"] = check.message or "skipped"
    elif status in {"failed", "error"}:
        result["message"] = (check.message or status) + (f"\nevidence: {evidence}" if check.evidence else "")
    else:
        result["message"] = f"evidence: {evidence}" if check.evidence else ""
    return result


def _attestation(attestation: Attestation, applied: bool, as_of: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(attestation_data, result segment) in the shape `saf attest apply` gives them: valid from the
    run's day through `expires`, so updated + frequency is the expiry."""
    updated = as_of[:10] or attestation.expires.isoformat()
    try:
        days = max((attestation.expires - dt.date.fromisoformat(updated)).days, 0)
    except ValueError:
        days = 0
    data = {"control_id": attestation.control, "status": "passed", "updated": updated,
            "updated_by": attestation.attested_by, "frequency": f"{days}d",
            "explanation": f"{attestation.statement} (evidence: {attestation.evidence})"}
    head = "Attestation:" if applied else "Expired Attestation:\nExpired Status: passed"
    message = (f"{head}\nStatus: passed\nExplanation: {data['explanation']}\n\nUpdated: {updated}\n"
               f"Updated By: {attestation.attested_by}\nExpires: {attestation.expires.isoformat()}")
    segment = {"status": "passed" if applied else "skipped", "message": message, "start_time": as_of,
               "code_desc": "Manually verified status provided through attestation" if applied
               else "Manual verification status provided through attestation has expired"}
    return data, segment


def _control(control: ControlResult, as_of: str) -> dict[str, Any]:
    results = [_result(c) for c in control.checks]
    attested = control.attestation or (control.unapplied_attestation if control.raw_status in {"skipped", "not run"}
                                       else None)
    attestation_data = None
    if attested is not None:
        attestation_data, segment = _attestation(attested, control.attestation is not None, as_of)
        results.append(segment)
    results = results or [
        {"status": "error", "code_desc": control.id, "start_time": "", "message": "no check result recorded"}]
    out: dict[str, Any] = {
        "id": control.id, "title": control.title, "desc": control.why,
        "descriptions": [{"label": "default", "data": control.why}, {"label": "fix", "data": control.fix},
                         {"label": "check", "data": f"{len(control.checks)} automated check(s) by stackprobe"}],
        # impact 0 is InSpec's (and Heimdall's) "Not Applicable": a part the profile declared absent
        "impact": 0.0 if control.status == "not_applicable" else IMPACT.get(control.severity, 0.5), "refs": [],
        "tags": {"severity": control.severity, "suite": control.suite, "frameworks": list(control.tags),
                 "stackprobe_status": control.status, "nist": list(control.nist)},
        "code": "", "source_location": {"ref": control.checks[0].nodeid.split("::")[0] if control.checks else "",
                                        "line": 0},
        "results": results,
    }
    if attestation_data is not None:
        out["attestation_data"] = attestation_data
    if control.waiver is not None:
        w = control.waiver
        out["waiver_data"] = {
            "justification": f"{w.justification} (approved by {w.approver}, ticket {w.ticket})",
            "expiration_date": w.expires.isoformat(), "run": True, "skipped_due_to_waiver": True,
            "message": "failure waived",
        }
    return out


def to_hdf(report: RunReport, version: str = "") -> dict[str, Any]:
    controls = [_control(c, report.finished or report.started) for c in report.controls]
    suites: dict[str, list[str]] = {}
    for control in report.controls:
        suites.setdefault(control.suite, []).append(control.id)
    target = report.run.get("target") if isinstance(report.run.get("target"), dict) else {}
    engine = report.run.get("images", {}).get("_engine", "") if isinstance(report.run.get("images"), dict) else ""
    duration = sum(c.duration_s for c in report.controls)
    catalogue_digest = hashlib.sha256(json.dumps(
        [[c["id"], c["title"], c["impact"]] for c in controls]).encode()).hexdigest()
    return {
        "platform": {"name": f"docker-compose ({(target or {}).get('kind', 'unknown')} target)",
                     "release": f"Docker engine {engine or 'unknown'}",
                     "target_id": str((target or {}).get("project") or "")},
        "version": version or "stackprobe",
        "statistics": {"duration": round(duration, 3)},
        "profiles": [{
            "name": "stackprobe", "version": version or None, "title": f"stackprobe controls, run {report.run_id}",
            "maintainer": "stackprobe", "summary": "Operational controls of a Docker Compose stack",
            "license": None, "copyright": None, "copyright_email": None, "supports": [], "attributes": [],
            "depends": [], "status": "loaded", "sha256": catalogue_digest,
            "groups": [{"id": f"suites/{suite}", "title": suite, "controls": ids} for suite, ids in suites.items()],
            "controls": controls,
        }],
        "passthrough": {"stackprobe": {"run": report.run_id, "started": report.started,
                                       "finished": report.finished, "verdict": report.verdict()}},
    }

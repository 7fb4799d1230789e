"""The Heimdall Data Format export: its mapping, InSpec's own strict parser (inspecjs, which
SAF and Heimdall use), the MITRE SAF CLI's summary, and Heimdall Lite served on 127.0.0.1 and
read in headless Chromium, which must show as many controls as the run has."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import fabricate as fab
import pytest
from saftools import NPM, heimdall, saf_cli

from stackprobe.report import HDF, render_run
from stackprobe.report.hdf import HEIMDALL_STATUS, IMPACT
from stackprobe.report.pdf import run_chromium

WAIVER = """
[[waiver]]
control = "CHS-06"
justification = "Partition tests need iptables, missing on the runner until OPS-77"
approver = "J. Doe, head of operations"
ticket = "OPS-1234"
expires = 2026-12-31
"""
ATTESTATION = """
[[attestation]]
control = "LOG-02"
statement = "Rotation under load verified by hand on the staging host"
attested_by = "J. Doe, head of operations"
evidence = "https://tickets.example/OPS-1301"
expires = 2026-12-31
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hdf")
    run = fab.write_run(root, "20261125-070000-live", fab.summary())
    (root / "waivers.toml").write_text(WAIVER)
    (root / "attestations.toml").write_text(ATTESTATION)
    render_run(run, waivers=root / "waivers.toml", attestations=root / "attestations.toml")
    return run


@pytest.fixture(scope="module")
def statuses(run: Path) -> dict[str, str]:
    found = dict(re.findall(r'data-control="([^"]+)" data-status="([^"]+)"', (run / "controls.html").read_text()))
    assert found["CHS-06"] == "waived" and found["LOG-02"] == "attested"
    return found


def _tools() -> Path:
    return saf_cli()


def test_mapping(run: Path, statuses: dict[str, str]) -> None:
    hdf = json.loads((run / HDF).read_text())
    (profile,) = hdf["profiles"]
    controls = {c["id"]: c for c in profile["controls"]}
    assert list(controls) == list(statuses)
    assert controls["SEC-06"]["results"][0]["status"] == "failed" and controls["SEC-06"]["impact"] == IMPACT["critical"]
    assert controls["DEP-03"]["results"][0]["status"] == "error"
    assert [r["status"] for r in controls["LOG-02"]["results"]] == ["skipped", "passed"]  # + the attestation
    assert controls["LOG-02"]["attestation_data"]["updated_by"] == "J. Doe, head of operations"
    assert controls["SEC-06"]["tags"]["nist"] == ["SC-7", "CM-7"]
    waived = controls["CHS-06"]
    assert waived["waiver_data"]["skipped_due_to_waiver"] is True
    assert waived["waiver_data"]["expiration_date"] == "2026-12-31"
    assert "OPS-1234" in waived["waiver_data"]["justification"]
    assert {g["title"] for g in profile["groups"]} == {"smoke", "config", "backup_restore", "logs", "chaos", "deploy"}
    assert "latency_ms" in controls["HLT-01"]["results"][0]["message"]  # evidence travels with the result


def test_inspecjs_parses_it_strictly_with_our_statuses(run: Path, statuses: dict[str, str]) -> None:
    _tools()
    script = """
        const ij = require('inspecjs');
        const parsed = ij.convertFile(require('fs').readFileSync(process.argv[1], 'utf8'));
        const ctx = ij.contextualizeEvaluation(parsed['1_0_ExecJson']);
        const out = {};
        for (const p of ctx.contains) for (const c of p.contains) out[c.data.id] = c.root.hdf.status;
        console.log(JSON.stringify({formats: Object.keys(parsed), statuses: out}));
    """
    done = subprocess.run(["node", "-e", script, str(run / HDF)], capture_output=True, text=True,
                          env={**os.environ, "NODE_PATH": str(NPM)}, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout)
    assert seen["formats"] == ["1_0_ExecJson"]
    assert seen["statuses"] == {cid: HEIMDALL_STATUS[s] for cid, s in statuses.items()}


def test_saf_cli_summary_agrees(run: Path, statuses: dict[str, str]) -> None:
    saf = _tools()
    done = subprocess.run([str(saf), "view", "summary", "-i", str(run / HDF), "-f", "json", "-s"],
                          capture_output=True, text=True, timeout=120, cwd=run.parent)  # it writes saf-cli.log
    assert done.returncode == 0, done.stderr[-2000:]
    (summary,) = json.loads(done.stdout[done.stdout.index("["):])
    counts = {s: list(statuses.values()).count(s) for s in set(statuses.values())}
    assert summary["passed"]["total"] == counts["passed"] + counts["attested"]  # InSpec: attested passes
    assert summary["failed"]["total"] == counts["failed"]
    assert summary["skipped"]["total"] == counts.get("skipped", 0)
    assert summary["error"]["total"] == counts["error"]
    assert summary["no_impact"]["total"] == counts["waived"]


def test_heimdall_lite_shows_our_control_count(run: Path, statuses: dict[str, str]) -> None:
    with heimdall(HDF, (run / HDF).read_text()) as base:
        done = run_chromium(f"{base}/?predefinedLoad=true", "--dump-dom", "--virtual-time-budget=20000",
                            "--window-size=1400,1000", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<style[^>]*>.*?</style>", " ", done.stdout,
                                                                  flags=re.S)))
    assert f"Filename: {HDF}" in text, text[:1500]
    shown = re.search(r"Status Counts ([\d ]+) Total (\d+)", text)
    assert shown, text[:3000]
    assert int(shown.group(2)) == len(statuses)
    assert f"0/{len(statuses)} Controls Viewed" in text
    passed = list(statuses.values()).count("passed") + list(statuses.values()).count("attested")
    assert f"Passed: {passed}" in text
    assert f"Failed: {list(statuses.values()).count('failed')}" in text

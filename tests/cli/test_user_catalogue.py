"""Users' own controls: a catalogue file beside the profile, two controls, checks marked with their
IDs; they appear in `stackprobe controls`, results.json, controls.html and the HDF export like
built-in ones. An unknown or duplicate ID is one line naming the file."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from .test_cli import stackprobe

CATALOGUE = """
[[control]]
id = "ACME-01"
title = "Invoices are archived every night"
why = "Auditors ask for any invoice of the last ten years."
fix = "Enable the archive job (ops/archive.md)."
severity = "high"
suite = "acme"
tags = ["ISO27001:A.5.33"]

[[control]]
id = "ACME-02"
title = "The payment provider's certificate is valid for 30 more days"
why = "An expired certificate stops every payment."
fix = "Renew it; the renewal job alerts at 45 days."
severity = "critical"
suite = "acme"
"""
CHECKS = """
import pytest

@pytest.mark.control("ACME-01")
def test_archive(evidence):
    evidence.record("archived_invoices", 42)

@pytest.mark.control("ACME-02")
def test_certificate(evidence):
    evidence.record("days_left", 3)
    assert False, "certificate expires in 3 days"

@pytest.mark.control("SEC-03")
def test_a_builtin_beside_them():
    pass
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in list(os.environ):
        if name.startswith("STACKPROBE_"):
            monkeypatch.delenv(name)
    ops = pytester.mkdir("ops")
    (ops / "stackprobe.toml").write_text('[catalogue]\nextra = "controls.toml"\n')
    (ops / "controls.toml").write_text(CATALOGUE)
    pytester.makepyfile(test_acme=CHECKS)
    return pytester


def test_custom_controls_appear_in_every_report(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--profile", "ops/stackprobe.toml",
                                          "--report-dir", "out")
    assert result.ret == 1, result.outlines  # ACME-02 fails
    assert any("FAILED  ACME-02 (critical) The payment provider's certificate" in line for line in result.outlines)
    run = (project.path / "out" / "latest").resolve()
    summary = json.loads((run / "results.json").read_text())
    acme = {cid: c for cid, c in summary["controls"].items() if cid.startswith("ACME")}
    assert {cid: c["status"] for cid, c in acme.items()} == {"ACME-01": "passed", "ACME-02": "failed"}
    assert acme["ACME-01"]["suite"] == "acme" and acme["ACME-01"]["tags"] == ["ISO27001:A.5.33"]
    assert acme["ACME-02"]["severity"] == "critical"
    page = (run / "controls.html").read_text()
    for cid, status in (("ACME-01", "passed"), ("ACME-02", "failed")):
        assert f'data-control="{cid}" data-status="{status}"' in page
    assert "Invoices are archived every night" in page and "Renew it; the renewal job alerts at 45 days." in page
    hdf = json.loads((run / "controls.hdf.json").read_text())
    controls = {c["id"]: c for profile in hdf["profiles"] for c in profile["controls"]}
    assert controls["ACME-02"]["impact"] == 0.9 and controls["ACME-02"]["results"][0]["status"] == "failed"
    assert controls["ACME-01"]["results"][0]["status"] == "passed" and "SEC-03" in controls
    junit = (run / "junit.xml").read_text()
    assert 'name="control" value="ACME-01"' in junit


def test_custom_controls_are_listed(project: pytest.Pytester) -> None:
    text = stackprobe("controls", "--profile", "ops/stackprobe.toml", cwd=project.path).stdout
    assert "\nacme\n  ACME-01 high     Invoices are archived every night" in text
    # no --profile: ./stackprobe.toml in the working directory
    listed = json.loads(stackprobe("controls", "--format", "json", cwd=project.path / "ops").stdout)
    assert [c["id"] for c in listed][-2:] == ["ACME-01", "ACME-02"]
    markdown = stackprobe("controls", "--format", "markdown", "--profile", "ops/stackprobe.toml",
                          cwd=project.path).stdout
    assert "| ACME-02 | acme | critical |" in markdown
    listing = project.runpytest_subprocess("-p", "no:cacheprovider", "--list-controls", "--profile",
                                           "ops/stackprobe.toml")
    assert listing.ret == 0 and any(line.startswith("  ACME-02 critical") for line in listing.outlines)


@pytest.mark.parametrize(("catalogue", "checks", "expected"), [
    (CATALOGUE, CHECKS.replace('"ACME-02"', '"ACME-99"', 1), "unknown control 'ACME-99' (not in the built-in "
                                                             "catalogue or {file}"),
    (CATALOGUE + CATALOGUE[CATALOGUE.index("[[control]]", 10):], CHECKS, "catalogue {file}: ACME-02 is defined twice"),
    (CATALOGUE.replace('"ACME-01"', '"SEC-03"'), CHECKS, "catalogue {file}: SEC-03 is a built-in control"),
    (CATALOGUE.replace('severity = "high"', 'severity = "urgent"'), CHECKS, "catalogue {file}: control #1 (ACME-01): "
                                                                             "severity 'urgent'"),
])
def test_unknown_or_duplicate_id_is_one_line_naming_the_file(project: pytest.Pytester, catalogue: str, checks: str,
                                                             expected: str) -> None:
    file = project.path / "ops" / "controls.toml"
    file.write_text(catalogue)
    project.makepyfile(test_acme=checks)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--profile", "ops/stackprobe.toml",
                                          "--report-dir", "none")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.errlines if line.strip()]
    assert len(lines) == 1, result.errlines
    assert expected.format(file=Path("ops/controls.toml")) in lines[0], lines[0]
    listed = stackprobe("controls", "--profile", "ops/stackprobe.toml", cwd=project.path)
    if "unknown control" not in expected:  # the catalogue itself is wrong: `controls` says so too
        assert listed.returncode == pytest.ExitCode.USAGE_ERROR and listed.stderr.count("\n") == 1
        assert expected.format(file="ops/controls.toml") in listed.stderr


def test_catalogue_path_is_relative_to_the_profile(project: pytest.Pytester) -> None:
    (project.path / "ops" / "stackprobe.toml").write_text('[catalogue]\nextra = "missing.toml"\n')
    done = stackprobe("controls", "--profile", "ops/stackprobe.toml", cwd=project.path)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert done.stderr.strip() == ("stackprobe: catalogue ops/missing.toml does not exist: fix [catalogue] extra "
                                   "in the profile")
    assert textwrap.dedent(done.stdout) == ""

"""The new outputs at the end of a real pytest session (pytester): --fail-on decides the exit code
and says which failures were below it, attestations (their own status; never over an automated
failure; malformed: one line, exit 4), stackprobe.prom in the run and at --prom-textfile, and
SHA256SUMS signed with --sign-key, checked by `verify --allowed-signers`."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pageparse import Page
from test_plugin_report import _day, _lines, _run_dir

CHECKS = """
import pytest

@pytest.mark.control("SEC-03")
def test_rounds(evidence):
    evidence.record("rounds", 12)

@pytest.mark.control("CHS-06")
def test_partition(evidence):
    assert PASS_CHS06, "partition did not heal"

@pytest.mark.control("BKP-09")
def test_offsite(evidence):
    pytest.skip("the off-site copy cannot be checked from here")
"""


def _attestation(control: str, expires: str) -> str:
    return textwrap.dedent(f"""
        [[attestation]]
        control = "{control}"
        statement = "Off-site copies checked by hand; restore drill signed off"
        attested_by = "J. Doe, head of operations"
        evidence = "https://tickets.example/OPS-1300"
        expires = {expires}
    """)


@pytest.fixture
def failing(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_checks=CHECKS.replace("PASS_CHS06", "False"))  # CHS-06 is medium
    return pytester


def test_fail_on_from_option_variable_and_profile(failing: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = failing.runpytest_subprocess("--report-dir=none", "-p", "no:warnings")
    assert plain.ret == pytest.ExitCode.TESTS_FAILED  # default: every failure counts
    high = failing.runpytest_subprocess("--report-dir=out", "--fail-on=high", "-p", "no:warnings")
    high.assert_outcomes(passed=1, failed=1, skipped=1)
    assert high.ret == 0, high.stdout.str()[-2000:]
    (line,) = _lines(high, "below the threshold")
    assert line == "stackprobe: CHS-06 (medium) failed below the threshold (fail-on high): it does not fail the run"
    page = Page((_run_dir(failing) / "controls.html").read_text())
    assert ("CHS-06", "failed") in page.controls and "Failed below the threshold (fail-on high)" in page.text
    assert json.loads((_run_dir(failing) / "results.json").read_text())["run"]["fail_on"] == "high"
    assert failing.runpytest_subprocess("--report-dir=none", "--fail-on=medium").ret == pytest.ExitCode.TESTS_FAILED
    monkeypatch.setenv("STACKPROBE_FAIL_ON", "critical")
    assert failing.runpytest_subprocess("--report-dir=none").ret == 0
    monkeypatch.setenv("STACKPROBE_FAIL_ON", "severe")
    bad = failing.runpytest_subprocess("--report-dir=none")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR and "'severe'" in bad.stderr.str()
    monkeypatch.delenv("STACKPROBE_FAIL_ON")
    failing.makefile(".toml", profile='[report]\nfail_on = "high"\n')
    assert failing.runpytest_subprocess("--report-dir=none", "--profile=profile.toml").ret == 0


def test_attested_control_passes_until_it_expires_never_over_a_failure(failing: pytest.Pytester) -> None:
    failing.makefile(".toml", attestations=_attestation("BKP-09", _day(30)) + _attestation("CHS-06", _day(30))
                     + _attestation("BKP-10", _day(30)))
    result = failing.runpytest_subprocess("--report-dir=out", "--attestations=attestations.toml",
                                          "-p", "no:warnings")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # CHS-06's automated failure stands
    run = _run_dir(failing)
    page = Page((run / "controls.html").read_text())
    statuses = dict(page.controls)
    assert statuses["BKP-09"] == "attested" and statuses["BKP-10"] == "attested"  # skipped / not run
    assert statuses["CHS-06"] == "failed" and "the automated checks decide (failed)" in page.text
    assert "https://tickets.example/OPS-1300" in page.text and (run / "attestations.toml").is_file()
    hdf = {c["id"]: c for c in json.loads((run / "controls.hdf.json").read_text())["profiles"][0]["controls"]}
    assert hdf["BKP-09"]["attestation_data"]["status"] == "passed"
    assert hdf["BKP-09"]["results"][-1]["status"] == "passed"
    assert "attestation_data" not in hdf["CHS-06"]
    assert [r["status"] for r in hdf["CHS-06"]["results"]] == ["failed"]
    assert _lines(result, "stackprobe: BKP-09 attested by J. Doe")
    # a re-render judges with the attestations the run archived
    rendered = subprocess.run([sys.executable, "-m", "stackprobe.report", "render", str(run)],
                              capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    assert dict(Page((run / "controls.html").read_text()).controls)["BKP-10"] == "attested"


def test_expired_attestation_fails_the_run_and_is_not_applied(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_checks=CHECKS.replace("PASS_CHS06", "True"))
    pytester.makefile(".toml", attestations=_attestation("BKP-09", _day(-1)))
    result = pytester.runpytest_subprocess("--report-dir=out", "--attestations=attestations.toml",
                                           "-p", "no:warnings")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (line,) = _lines(result, "expired on")
    assert "attestation #1 for BKP-09 (attested by J. Doe, head of operations)" in line
    run = _run_dir(pytester)
    assert dict(Page((run / "controls.html").read_text()).controls)["BKP-09"] == "skipped"
    hdf = {c["id"]: c for c in json.loads((run / "controls.hdf.json").read_text())["profiles"][0]["controls"]}
    assert hdf["BKP-09"]["results"][-1]["status"] == "skipped"  # Heimdall: Not Reviewed, as SAF does


def test_malformed_attestation_file_is_one_line_exit_4(failing: pytest.Pytester,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    failing.makefile(".toml", attestations='[[attestation]]\ncontrol = "BKP-09"\nstatement = "ok"\n')
    monkeypatch.setenv("STACKPROBE_ATTESTATIONS", "attestations.toml")
    result = failing.runpytest_subprocess("--report-dir=out", "-p", "no:warnings")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = _lines(result, "stackprobe: attestations")
    assert "attestation #1 for BKP-09 lacks attested_by, evidence, expires" in line
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    failing.makefile(".toml", attestations="[[attestation]\n")
    result = failing.runpytest_subprocess("--report-dir=none", "-p", "no:warnings")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and len(_lines(result, "not valid TOML")) == 1


def test_prom_textfile_written_atomically_where_asked(failing: pytest.Pytester) -> None:
    target = failing.path / "node_exporter" / "stackprobe.prom"
    result = failing.runpytest_subprocess("--report-dir=out", f"--prom-textfile={target}", "-p", "no:warnings")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    run = _run_dir(failing)
    assert target.read_text() == (run / "stackprobe.prom").read_text()
    assert 'stackprobe_control_failing{control="CHS-06",severity="medium"} 1.0' in target.read_text()
    assert [p.name for p in target.parent.iterdir()] == ["stackprobe.prom"]  # no temporary left
    assert "stackprobe.prom" in json.loads((run / "manifest.json").read_text())["files"]


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="needs OpenSSH's ssh-keygen")
def test_signed_run_verifies_and_tampering_is_named(failing: pytest.Pytester, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("ops", "intruder"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(keys / name)], check=True)
    failing.makefile(".toml", profile=f'[report]\nsign_key = "{keys / "ops"}"\n')
    result = failing.runpytest_subprocess("--report-dir=out", "--profile=profile.toml", "-p", "no:warnings")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    run = _run_dir(failing)
    private = (keys / "ops").read_bytes()
    assert (run / "SHA256SUMS.sig").is_file()
    for path in run.rglob("*"):
        assert not path.is_file() or private not in path.read_bytes(), path  # the key never lands in the report
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"ops@example {(keys / 'ops.pub').read_text()}")

    def verify(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stackprobe.report", "verify", str(run), *extra],
                              capture_output=True, text=True, timeout=120)

    good = verify("--allowed-signers", str(allowed))
    assert good.returncode == 0 and "signed by ops@example" in good.stdout, good.stdout + good.stderr
    stranger = tmp_path / "other_signers"
    stranger.write_text(f"intruder@example {(keys / 'intruder.pub').read_text()}")
    refused = verify("--allowed-signers", str(stranger))
    assert refused.returncode == 1 and refused.stdout.startswith("BADSIG    SHA256SUMS.sig: not made by a key in")
    page = run / "controls.html"
    page.write_bytes(page.read_bytes().replace(b"stackprobe control report", b"stackprobe control rep0rt", 1))
    tampered = verify("--allowed-signers", str(allowed))
    assert tampered.returncode == 1
    (line,) = tampered.stdout.splitlines()
    assert line.startswith("MODIFIED  controls.html: sha256 ")
    # the edit hidden in manifest.json as well (SHA256SUMS, which is signed, left alone)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["files"]["controls.html"]["sha256"] = hashlib.sha256(page.read_bytes()).hexdigest()
    (run / "manifest.json").write_text(json.dumps(manifest))
    # (an auditor with the run directory alone: no history to compare the manifest's hash with)
    hidden = verify("--allowed-signers", str(allowed), "--history", str(tmp_path / "no-history.jsonl"))
    assert hidden.returncode == 1 and hidden.stdout.splitlines() == [
        "MODIFIED  controls.html: does not match the signed SHA256SUMS",
        "DIFFERS   manifest.json: does not list what the signed SHA256SUMS lists"]
    page.write_bytes(page.read_bytes().replace(b"rep0rt", b"report", 1))
    manifest["files"]["controls.html"]["sha256"] = hashlib.sha256(page.read_bytes()).hexdigest()
    (run / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    sums = run / "SHA256SUMS"  # an edit of the signed list itself
    sums.write_text(sums.read_text().replace("controls.html", "controls.htm", 1))
    edited = verify("--allowed-signers", str(allowed))
    (line,) = edited.stdout.splitlines()
    assert edited.returncode == 1 and line.startswith("BADSIG    SHA256SUMS: the signature by ops@example does not")
    sums.write_text(sums.read_text().replace("controls.htm\n", "controls.html\n", 1))
    (run / "SHA256SUMS.sig").unlink()
    unsigned = verify("--allowed-signers", str(allowed))
    assert unsigned.returncode == 1
    assert unsigned.stdout.splitlines() == ["UNSIGNED  SHA256SUMS.sig is missing: the run was not signed, or its "
                                            "signature was removed"]
    assert verify().returncode == 0  # without signers: the manifest alone, as before
    missing = failing.runpytest_subprocess("--report-dir=none", f"--sign-key={keys / 'nope'}")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR and "sign key" in missing.stderr.str()

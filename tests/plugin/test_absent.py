"""A part the profile declares absent is a state, not a failure: its controls are "not applicable"
on every output (terminal, results.json, HDF impact 0, the auditor's page lists it), and an
absence the profile calls a finding fails its control naming the declaration. Checks that touch
no fixture, so no Docker engine is needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CHECKS = '''
import pytest

@pytest.mark.control("MET-01")
def test_metrics():
    raise AssertionError("must not run: metrics are declared absent")

@pytest.mark.control("LOG-04")
def test_logrotate():
    raise AssertionError("must not run: logrotate is declared absent")

@pytest.fixture
def archives():
    raise AssertionError("must not run: no fixture of an absent part is set up")

@pytest.mark.control("BKP-06")
def test_archives(archives):
    raise AssertionError("must not run: the absence is the finding")

@pytest.mark.control("HLT-01")
def test_health():
    pass
'''


def test_declared_absent_parts_are_not_applicable_everywhere(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_user_checks=CHECKS)
    profile = tmp_path / "p.toml"
    profile.write_text('[absent]\nparts = ["metrics", "logrotate", "file_archives"]\n')
    reports = tmp_path / "reports"
    result = pytester.runpytest("-p", "no:cacheprovider", "--profile", str(profile), f"--report-dir={reports}",
                                "-rs")
    result.assert_outcomes(passed=1, skipped=2, failed=1)
    out = result.stdout.str()
    assert "not applicable: declared absent in [absent] parts (metrics): the stack has no Prometheus metrics" in out
    assert "must not run" not in out
    (run_dir,) = [p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()]
    results = json.loads((run_dir / "results.json").read_text())
    statuses = {cid: c["status"] for cid, c in results["controls"].items()}
    assert statuses == {"MET-01": "not_applicable", "LOG-04": "not_applicable", "BKP-06": "failed",
                        "HLT-01": "passed"}
    (finding,) = results["controls"]["BKP-06"]["checks"]
    assert ("the backup archives no files: uploads and vector data are not backed up (declared absent in "
            "[absent] parts: file_archives); [absent] findings makes that a finding") in finding["message"]
    assert set(results["run"]["absent"]) == {"metrics", "logrotate", "file_archives"}
    hdf = json.loads((run_dir / "controls.hdf.json").read_text())
    impact = {c["id"]: c["impact"] for c in hdf["profiles"][0]["controls"]}
    assert impact["MET-01"] == 0.0 and impact["LOG-04"] == 0.0 and impact["BKP-06"] > 0
    page = (run_dir / "controls.html").read_text()
    assert "declared absent" in page and "the log is rotated in-process only" in page


def test_an_unknown_part_action_or_an_empty_restore_command_is_one_line(pytester: pytest.Pytester,
                                                                       tmp_path: Path) -> None:
    pytester.makepyfile(test_user_checks=CHECKS)
    profile = tmp_path / "p.toml"
    profile.write_text('[absent]\nparts = ["metric"]\n')
    result = pytester.runpytest("-p", "no:cacheprovider", "--profile", str(profile), "--report-dir=none")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert ("absent.parts names ['metric']: known parts are metrics, vector_store, logrotate, log_file, "
            "backup, file_archives, signing_key, migrations, cache, api_writes"
            in result.stderr.str())
    profile.write_text("[backup]\nrestore_command = []\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--profile", str(profile), "--report-dir=none")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*backup.restore_command is empty*name the deployment's restore command*"])
    profile.write_text('[deploy.actions]\nupgrade = ["{deploy}", "upgrade"]\n')  # update_flow's, not an action
    result = pytester.runpytest("-p", "no:cacheprovider", "--profile", str(profile), "--report-dir=none")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert ("deploy.actions names ['upgrade']: the suite's actions are help, init, start, stop, restart, logs, "
            "backup, clean") in result.stderr.str()


def test_a_stack_without_a_cache_gets_no_check_experiment_or_canary_of_one(pytester: pytest.Pytester,
                                                                         tmp_path: Path) -> None:
    """[absent] parts = ["cache"]: no service plays the role (whatever [services] cache says), the
    cache's controls are not applicable, and the chaos suite crashes no cache."""
    from stackprobe.profile import load_profile

    profile = tmp_path / "p.toml"
    profile.write_text('[services]\ncache = "redis"\n\n[absent]\nparts = ["cache"]\n')
    assert load_profile(profile).services.cache == ""
    collected = pytester.runpytest("--pyargs", "stackprobe.suites.chaos", "--collect-only", "-q", "-p",
                                   "no:cacheprovider", "--profile", str(profile), "--report-dir=none")
    ids = [line for line in collected.stdout.lines if "::" in line]
    assert ids and not [i for i in ids if "redis" in i or "[]" in i], ids
    assert any(i.endswith("test_crashed_service_recovers_within_slo[mysql]") for i in ids), ids
    pytester.makepyfile(test_user_checks='''
import pytest

@pytest.mark.control("RDS-02")
def test_redis_auth():
    raise AssertionError("must not run: the cache is declared absent")
''')
    result = pytester.runpytest("test_user_checks.py", "-p", "no:cacheprovider", "--profile", str(profile),
                                "--report-dir=none", "-rs")
    result.assert_outcomes(skipped=1)
    assert "declared absent in [absent] parts (cache): the stack has no cache service" in result.stdout.str()


BACKUP_CHECKS = '''
import pytest

@pytest.fixture(scope="session", autouse=True)
def contract_probe():
    raise AssertionError("must not run: there is no backup command to probe")

@pytest.mark.control("BKP-01")
def test_dump():
    raise AssertionError("must not run")

@pytest.mark.control("BKP-07")
def test_newest():
    raise AssertionError("must not run")
'''


@pytest.mark.parametrize("findings", [None, []], ids=["a finding by default", "accepted"])
def test_a_deployment_without_any_backup_fails_every_backup_control_unless_accepted(
        pytester: pytest.Pytester, tmp_path: Path, findings: list[str] | None) -> None:
    """No backup procedure at all ([absent] parts backup): every BKP control fails naming the
    declaration, with no fixture set up (there is no command to run), or is not applicable where
    the profile accepts it; the empty restore command is then no profile error."""
    pytester.makepyfile(test_backup_checks=BACKUP_CHECKS)
    profile = tmp_path / "p.toml"
    profile.write_text('[absent]\nparts = ["backup"]\n' + ("" if findings is None else "findings = []\n")
                       + "[backup]\nrestore_command = []\n")
    reports = tmp_path / "reports"
    result = pytester.runpytest("-p", "no:cacheprovider", "--profile", str(profile), f"--report-dir={reports}")
    if findings is None:
        result.assert_outcomes(failed=2)
    else:
        result.assert_outcomes(skipped=2)
    assert "must not run" not in result.stdout.str()
    (run_dir,) = [p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()]
    results = json.loads((run_dir / "results.json").read_text())
    expected = "failed" if findings is None else "not_applicable"
    assert {cid: c["status"] for cid, c in results["controls"].items()} == {"BKP-01": expected, "BKP-07": expected}
    message = results["controls"]["BKP-07"]["checks"][0]["message"]
    assert "the deployment has no backup procedure ([backup] command)" in message, message

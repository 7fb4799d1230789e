"""Plugin behaviour: options and their precedence, markers, catalogue, usage errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SHOW_SETTINGS = """
import pytest
def test_show(stackprobe_settings):
    s = stackprobe_settings
    print("SETTINGS", s.target, s.project_name, s.allow_destructive,
          ",".join(p.name for p in s.compose_files), s.profile.health.latency_budget_ms)
"""


def _settings_line(result: pytest.RunResult) -> list[str]:
    line = next(x[x.index("SETTINGS"):] for x in result.outlines if "SETTINGS" in x)
    return line.split()[1:]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_show=SHOW_SETTINGS)
    pytester.makefile(".toml", profile=textwrap.dedent("""
        [stack]
        project_name = "from_profile"
        compose_files = ["profile.yml"]
        [health]
        latency_budget_ms = 250
        [safety]
        allow_destructive = true
    """))
    return pytester


def test_defaults_without_profile(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TARGET", "PROFILE", "PROJECT_NAME", "ALLOW_DESTRUCTIVE", "COMPOSE_FILE"):
        monkeypatch.delenv(f"STACKPROBE_{name}", raising=False)
    result = project.runpytest_subprocess("-s", "--report-dir=none")
    assert _settings_line(result) == ["ephemeral", "None", "False", "docker-compose.yml", "1000"]


def test_profile_beats_defaults(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-s", "--report-dir=none", "--profile=profile.toml", "--target=live")
    assert _settings_line(result) == ["live", "from_profile", "True", "profile.yml", "250"]


def test_environment_beats_profile(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKPROBE_TARGET", "live")
    monkeypatch.setenv("STACKPROBE_PROJECT_NAME", "from_env")
    monkeypatch.setenv("STACKPROBE_ALLOW_DESTRUCTIVE", "false")
    monkeypatch.setenv("STACKPROBE_COMPOSE_FILE", "env-a.yml:env-b.yml")
    result = project.runpytest_subprocess("-s", "--report-dir=none", "--profile=profile.toml")
    assert _settings_line(result) == ["live", "from_env", "False", "env-a.yml,env-b.yml", "250"]


def test_command_line_beats_environment(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKPROBE_TARGET", "live")
    monkeypatch.setenv("STACKPROBE_PROJECT_NAME", "from_env")
    monkeypatch.setenv("STACKPROBE_COMPOSE_FILE", "env-a.yml")
    result = project.runpytest_subprocess("-s", "--report-dir=none", "--profile=profile.toml",
                               "--target=ephemeral", "--project-name=from_cli",
                               "--compose-file=a.yml", "--compose-file=b.yml", "--allow-destructive")
    assert _settings_line(result) == ["ephemeral", "from_cli", "True", "a.yml,b.yml", "250"]


def test_misspelt_profile_key_is_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", bad="[health]\nlatency_budget = 5\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_subprocess("--profile=bad.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "bad.toml" in err and "health.'latency_budget'" in err and "latency_budget_ms" in err
    assert "Traceback" not in err


def test_wrong_type_and_missing_profile(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", bad='[metrics]\nscrapes = "many"\n')
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_subprocess("--profile=bad.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "metrics.scrapes must be int, got str" in result.stderr.str()
    result = pytester.runpytest_subprocess("--profile=nope.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "profile nope.toml does not exist" in result.stderr.str()


def test_unknown_control_is_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.control("XYZ-99")
        def test_x(): pass
    """)
    result = pytester.runpytest_subprocess("--report-dir=none")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown control 'XYZ-99'" in result.stderr.str()


def test_suite_check_without_control_is_rejected(pytester: pytest.Pytester) -> None:
    pytester.mkdir("suites")
    pytester.path.joinpath("suites", "test_y.py").write_text("def test_y(): pass\n")
    result = pytester.runpytest_subprocess("--report-dir=none", "suites")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "needs @pytest.mark.control" in result.stderr.str()


def test_list_controls_prints_catalogue(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--list-controls")
    assert result.ret == 0
    out = result.stdout.str()
    for control_id in ("HLT-01", "SEC-04", "BKP-03", "LOG-03", "CHS-08", "DEP-03"):
        assert control_id in out


def test_no_clash_with_testinfra(pytester: pytest.Pytester) -> None:
    """testinfra's `host` fixture and --hosts option still work beside ours."""
    pytester.makepyfile("""
        def test_host(host, stackprobe_settings):
            assert host.backend.get_connection_type() == "local"
    """)
    result = pytester.runpytest_subprocess("--hosts=local://", "--report-dir=none")
    result.assert_outcomes(passed=1)


def test_results_and_junit_properties(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.control("SEC-03")
        def test_ok(evidence):
            evidence.record("rounds", 12)
        @pytest.mark.control("SEC-03")
        def test_bad(evidence):
            evidence.record("rounds", 10)
            assert False, "BCRYPT_ROUNDS is 10"
    """)
    result = pytester.runpytest_subprocess("--report-dir=out")
    result.assert_outcomes(passed=1, failed=1)
    run = next((pytester.path / "out").glob("*-ephemeral"))
    import json
    summary = json.loads((run / "results.json").read_text())
    assert summary["controls"]["SEC-03"]["status"] == "failed"
    assert [c["evidence"]["rounds"] for c in summary["controls"]["SEC-03"]["checks"]] == [12, 10]
    junit = (run / "junit.xml").read_text()
    assert '<property name="control" value="SEC-03"' in junit
    assert '<property name="severity" value="high"' in junit
    assert (run / "report.html").is_file()


def test_repo_layout_has_reference_profile() -> None:
    from stackprobe.profile import load_profile

    profile = load_profile(REPO / "profiles" / "reference.toml")
    assert "10.11." in profile.database.version_prefixes
    load_profile(REPO / "profiles" / "production.example.toml")


def test_collect_only_writes_no_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_subprocess("--collect-only", "-q", "--report-dir=reports")
    assert result.ret == pytest.ExitCode.OK
    assert not (pytester.path / "reports").exists(), "a collection-only run wrote reports/"
    result = pytester.runpytest_subprocess("-q", "--report-dir=reports")
    assert result.ret == pytest.ExitCode.OK and (pytester.path / "reports" / "latest").exists()


def test_hypothesis_plugin_dropped_only_when_no_test_uses_it(pytester: pytest.Pytester) -> None:
    """Its end-of-run summary imports all of hypothesis (1.3 s of a nightly smoke run)."""
    pytester.makeconftest("""
        def pytest_sessionfinish(session):
            kept = session.config.pluginmanager.get_plugin("hypothesispytest") is not None
            print(f"hypothesis plugin kept: {kept}")
    """)
    pytester.makepyfile(test_plain="def test_x(): pass")
    pytester.makepyfile(test_given="""
        from hypothesis import given, strategies as st
        @given(st.integers())
        def test_y(n): assert n == n
    """)
    plain = pytester.runpytest_subprocess("-s", "--report-dir=none", "test_plain.py")
    plain.stdout.fnmatch_lines(["*hypothesis plugin kept: False*"])
    both = pytester.runpytest_subprocess("-s", "--report-dir=none")
    both.stdout.fnmatch_lines(["*hypothesis plugin kept: True*"])
    assert both.ret == pytest.ExitCode.OK

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
    """The rule holds for stackprobe's own suites (here a stand-in directory the conftest names as
    them), not for a user's directory that happens to be called suites/."""
    for name in ("suites", "mine"):
        pytester.mkdir(name)
        pytester.path.joinpath(name, "test_y.py").write_text("def test_y(): pass\n")
    pytester.makeconftest("""
        from pathlib import Path
        import stackprobe.activation
        stackprobe.activation.SUITES_DIR = Path(__file__).resolve().parent / "mine"
    """)
    result = pytester.runpytest_subprocess("--report-dir=none", "mine")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "needs @pytest.mark.control" in result.stderr.str()
    assert pytester.runpytest_subprocess("--report-dir=none", "suites").ret == 0


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


# --- every option from a STACKPROBE_* variable -------------------------------------------
_OUR_VARIABLES = ("TARGET", "PROFILE", "ENV_FILE", "PROJECT_NAME", "COMPOSE_FILE", "ALLOW_DESTRUCTIVE",
                  "LIVE_HOST", "LIST_CONTROLS", "DRY_RUN", "NIGHTLY", "FLEET")


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No STACKPROBE_* variable of the calling shell leaks into the runs under test."""
    for name in _OUR_VARIABLES:
        monkeypatch.delenv(f"STACKPROBE_{name}", raising=False)
    return monkeypatch


def test_list_controls_from_environment(pytester: pytest.Pytester, clean_environment: pytest.MonkeyPatch) -> None:
    pytester.makepyfile("def test_x(): print('TEST RAN')")
    clean_environment.setenv("STACKPROBE_LIST_CONTROLS", "yes")
    listed = pytester.runpytest_subprocess("-s", "--report-dir=none")
    assert listed.ret == 0
    assert "HLT-01" in listed.stdout.str() and "TEST RAN" not in listed.stdout.str()
    clean_environment.setenv("STACKPROBE_LIST_CONTROLS", "off")
    ran = pytester.runpytest_subprocess("-s", "--report-dir=none")
    ran.assert_outcomes(passed=1)
    assert "TEST RAN" in ran.stdout.str() and "HLT-01" not in ran.stdout.str()
    clean_environment.setenv("STACKPROBE_LIST_CONTROLS", "maybe")
    bad = pytester.runpytest_subprocess("--report-dir=none")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "STACKPROBE_LIST_CONTROLS='maybe' is not a boolean" in bad.stderr.str()
    assert "Traceback" not in bad.stdout.str() + bad.stderr.str()


def test_dry_run_from_environment(pytester: pytest.Pytester, clean_environment: pytest.MonkeyPatch) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.control("SEC-03")
        def test_x(): print('TEST RAN')
    """)
    clean_environment.setenv("STACKPROBE_DRY_RUN", "1")
    result = pytester.runpytest_subprocess("-s", "--report-dir=none")
    assert result.ret == 0 and "TEST RAN" not in result.stdout.str()
    assert "SEC-03" in result.stdout.str()  # the plan names the check's control


def test_every_option_has_its_variable_and_is_in_readme(pytester: pytest.Pytester) -> None:
    """Each option of the stackprobe group names its STACKPROBE_* variable in --help, the
    code reads that variable, and the README lists the option."""
    config = pytester.parseconfig()
    options = config._parser.getgroup("stackprobe").options
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    source = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "src" / "stackprobe").glob("*.py"))
    longs = [name for option in options for name in option.names() if name.startswith("--")]
    assert len(longs) >= 16 and "--list-controls" in longs and "--dry-run" in longs
    for option in options:
        (long,) = [name for name in option.names() if name.startswith("--")]
        suffix = long[2:].upper().replace("-", "_")
        assert f"STACKPROBE_{suffix}" in str(option.attrs().get("help")), f"{long}: help names no variable"
        assert f'"{suffix}"' in source or f'"STACKPROBE_{suffix}"' in source, f"{long}: variable never read"
        assert f"`{long}" in readme, f"{long} is not in README's option list"


# --- precedence of the profile and the env file -------------------------------------------
SHOW_SOURCES = """
from pathlib import Path
def test_sources(stackprobe_settings):
    s = stackprobe_settings
    env_file = s.env_file.name if s.env_file is not None else None
    print("SOURCES", Path(s.profile.source).name, env_file, s.profile.health.latency_budget_ms)
"""


def _sources(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = pytester.runpytest_subprocess("-s", "--report-dir=none", "test_sources.py", *args)
    assert result.ret == 0, result.stdout.str()[-2000:] + result.stderr.str()[-2000:]
    line = next(x[x.index("SOURCES"):] for x in result.outlines if "SOURCES" in x)
    return line.split()[1:]


def test_profile_from_environment_and_option_beats_it(
    project: pytest.Pytester, clean_environment: pytest.MonkeyPatch,
) -> None:
    project.makepyfile(test_sources=SHOW_SOURCES)
    project.makefile(".toml", other="[health]\nlatency_budget_ms = 500\n")
    assert _sources(project) == ["(defaults)", "None", "1000"]
    clean_environment.setenv("STACKPROBE_PROFILE", "profile.toml")
    assert _sources(project) == ["profile.toml", "None", "250"]  # the variable selects the profile
    assert _sources(project, "--profile=other.toml") == ["other.toml", "None", "500"]


def test_env_file_option_beats_environment_beats_profile(
    project: pytest.Pytester, clean_environment: pytest.MonkeyPatch,
) -> None:
    project.makepyfile(test_sources=SHOW_SOURCES)
    project.makefile(".toml", envprofile='[stack]\nenv_file = "profile.env"\n')
    assert _sources(project, "--target=live") == ["(defaults)", ".env", "1000"]  # the default profile's
    assert _sources(project, "--target=live", "--profile=envprofile.toml") == ["envprofile.toml", "profile.env", "1000"]
    clean_environment.setenv("STACKPROBE_ENV_FILE", "from-environment.env")
    assert _sources(project, "--target=live", "--profile=envprofile.toml") == [
        "envprofile.toml", "from-environment.env", "1000"]
    assert _sources(project, "--target=live", "--profile=envprofile.toml", "--env-file=cli.env") == [
        "envprofile.toml", "cli.env", "1000"]
    # ephemeral: no env file unless one is given (one is generated), and a given one is used
    assert _sources(project, "--env-file=cli.env") == ["(defaults)", "cli.env", "1000"]
    clean_environment.delenv("STACKPROBE_ENV_FILE")
    assert _sources(project) == ["(defaults)", "None", "1000"]

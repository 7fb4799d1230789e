"""Installed in an environment, the plugin stays out of sessions that ask nothing of it, and its
markers are registered in every session (a user suite passes --strict-markers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stackprobe import activation


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STACKPROBE_"):
            monkeypatch.delenv(name)


def test_unrelated_project_session_prints_nothing_and_writes_nothing(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_environment(monkeypatch)
    pytester.makepyfile(test_one="def test_one():\n    assert 1 + 1 == 2\n")
    before = _files(pytester.path)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    assert result.ret == 0, result.outlines
    output = result.stdout.str() + result.stderr.str()
    assert "stackprobe" not in output.lower() and "report" not in output.lower(), output
    assert "1 passed" in output
    own = ("__pycache__", "runpytest-", "stdout", "stderr")  # pytester's own files and Python's
    written = {name for name in _files(pytester.path) - before if not name.startswith(own)}
    assert written == set(), written  # no reports/, no junit.xml, no .stackprobe/


def test_a_stackprobe_option_activates_the_reports(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The counterpart: one stackprobe option and the run directory is there."""
    _clean_environment(monkeypatch)
    pytester.makepyfile(test_one="def test_one(): pass\n")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "--report-dir=out")
    assert result.ret == 0, result.outlines
    assert list((pytester.path / "out").glob("*/junit.xml")), _files(pytester.path)


def test_user_suite_with_the_markers_passes_strict_markers(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_environment(monkeypatch)
    pytester.makepyfile(test_mine="""
        import pytest

        @pytest.mark.control("HLT-01")
        @pytest.mark.nightly
        @pytest.mark.writes("mysql:canary table t", on="live")
        def test_read_only():
            pass

        @pytest.mark.destructive
        @pytest.mark.faults("stop:{backend}")
        @pytest.mark.slow
        @pytest.mark.needs_docker
        def test_breaks_things():
            pass
    """)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "--strict-markers")
    assert result.ret == 0, result.outlines
    result.assert_outcomes(passed=2)
    assert not (pytester.path / "reports").exists()


def test_activation_decision(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each trigger alone activates the plugin: an option, a STACKPROBE_* variable, a profile in the
    working directory, the suites named by path or module; nothing else does."""
    _clean_environment(monkeypatch)
    monkeypatch.chdir(pytester.path)

    def active(*args: str, environ: dict[str, str] | None = None) -> bool:
        config = pytester.parseconfig(*args)
        return activation.requested(config, environ if environ is not None else {})

    assert not active()
    assert not active("tests")
    assert not active(environ={"OTHER": "1", "STACKPROBE_": ""})
    assert active("--report-dir=none")
    assert active("--nightly")
    assert active(environ={"STACKPROBE_TARGET": "live"})
    assert active("--pyargs", "stackprobe.suites.smoke")
    assert active(str(activation.SUITES_DIR / "smoke" / "test_health.py") + "::test_x")
    (pytester.path / activation.DEFAULT_PROFILE).write_text("")
    assert active()

"""The report at the end of a real pytest session (pytester): waivers decide the exit code,
history grows one line per run, every artifact is in the manifest, --report-dir=none writes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest
from pageparse import Page

from stackprobe.report.manifest import verify_manifest

CANARY = "Pytester-Canary-9f3a-secret"
CHECKS = f"""
import pytest
from stackprobe.redact import REDACTOR

REDACTOR.add("{CANARY}", "CANARY_TOKEN")

@pytest.mark.control("SEC-03")
def test_rounds(evidence):
    evidence.record("rounds", 12)

@pytest.mark.control("CHS-06")
def test_partition(evidence):
    evidence.record("partition", "not healed; token {CANARY}")
    assert FAIL_CHS06, "partition did not heal (saw {CANARY})"
"""


def _day(offset: int) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=offset)).isoformat()


def _waiver(expires: str, control: str = "CHS-06") -> str:
    return textwrap.dedent(f"""
        [[waiver]]
        control = "{control}"
        justification = "Partition tests need iptables; runner lacks it until OPS-77"
        approver = "J. Doe, head of operations"
        ticket = "OPS-1234"
        expires = {expires}
    """)


@pytest.fixture
def checks(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_checks=CHECKS.replace("FAIL_CHS06", "False"))
    return pytester


def _run_dir(pytester: pytest.Pytester) -> Path:
    return Path(pytester.path / "out" / "latest").resolve()


def _lines(result: pytest.RunResult, needle: str) -> list[str]:
    return [line for line in result.outlines + result.errlines if needle in line]


def test_waiver_expiring_tomorrow_waives_and_passes(checks: pytest.Pytester) -> None:
    checks.makefile(".toml", waivers=_waiver(_day(1)))
    result = checks.runpytest_subprocess("--report-dir=out", "--waivers=waivers.toml", "-p", "no:warnings")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert _lines(result, "stackprobe: CHS-06 failed and is waived until")
    run = _run_dir(checks)
    raw = json.loads((run / "results.json").read_text())
    assert raw["controls"]["CHS-06"]["status"] == "failed"  # the record keeps what the check saw
    page = Page((run / "controls.html").read_text())
    assert page.controls == [("SEC-03", "passed"), ("CHS-06", "waived")]
    assert "runner lacks it until OPS-77" in page.text and "J. Doe, head of operations" in page.text
    assert (run / "waivers.toml").is_file()
    # no secret value of the run in the terminal or in any artifact (the canary was in evidence and messages)
    assert CANARY not in result.stdout.str() + result.stderr.str()
    files = [p for p in (checks.path / "out").rglob("*") if p.is_file()]
    assert {"controls.html", "history.jsonl", "results.json", "junit.xml", "report.html"} <= {p.name for p in files}
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path
    assert "«redacted:CANARY_TOKEN»" in (run / "controls.html").read_text()


def test_waiver_expired_yesterday_fails_the_run(checks: pytest.Pytester) -> None:
    checks.makefile(".toml", waivers=_waiver(_day(-1)))
    result = checks.runpytest_subprocess("--report-dir=out", "--waivers=waivers.toml", "-p", "no:warnings")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (line,) = _lines(result, "expired on")
    assert line.startswith("stackprobe: waivers ") and "waiver #1 for CHS-06" in line and _day(-1) in line
    page = Page((_run_dir(checks) / "controls.html").read_text())
    assert ("CHS-06", "failed") in page.controls and "Waiver expired on" in page.text


def test_expired_waiver_fails_even_a_passing_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_checks=CHECKS.replace("FAIL_CHS06", "True"))
    pytester.makefile(".toml", waivers=_waiver(_day(-1)))
    result = pytester.runpytest_subprocess("--report-dir=out", "--waivers=waivers.toml", "-p", "no:warnings")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED and _lines(result, "expired on")


def test_malformed_waiver_file_is_bad_input_report_still_written(checks: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    checks.makefile(".toml", waivers='[[waiver]]\ncontrol = "CHS-06"\nexpires = "someday"\n')
    monkeypatch.setenv("STACKPROBE_WAIVERS", "waivers.toml")  # the environment names it this time
    (checks.path / "out").mkdir()
    (checks.path / "out" / "history.jsonl").write_text('{"v": 1, "run": "20261124-0')  # a killed run's half line
    result = checks.runpytest_subprocess("--report-dir=out", "-p", "no:warnings")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = _lines(result, "stackprobe: waivers")
    assert "waiver #1 for CHS-06 lacks justification, approver, ticket" in line
    (warning,) = _lines(result, "stackprobe: history")
    assert "history.jsonl line 1: truncated mid-line" in warning
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    run = _run_dir(checks)
    page = Page((run / "controls.html").read_text())
    assert page.controls == [("SEC-03", "passed"), ("CHS-06", "failed")] and "Waiver problems" in page.text
    assert "truncated mid-line" in page.text
    # this run's record starts on a line of its own: the next run reads it
    lines = (checks.path / "out" / "history.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["run"] == run.name
    assert verify_manifest(run)[1] == []


def test_a_failure_outside_the_waiver_keeps_the_run_failed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_checks=CHECKS.replace("FAIL_CHS06", "False"),
                        test_other="def test_plain():\n    assert False\n")
    pytester.makefile(".toml", waivers=_waiver(_day(30)))
    result = pytester.runpytest_subprocess("--report-dir=out", "--waivers=waivers.toml", "-p", "no:warnings")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_history_manifest_and_profile_keys(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", profile=textwrap.dedent("""
        [report]
        history = "audit/history.jsonl"
        waivers = "waivers.toml"
    """))
    pytester.makefile(".toml", waivers=_waiver(_day(10), control="SEC-06"))
    pytester.makepyfile(test_checks=CHECKS.replace("FAIL_CHS06", "True"))
    first = pytester.runpytest_subprocess("--report-dir=out", "--profile=profile.toml", "-p", "no:warnings")
    assert first.ret == 0
    first_run = _run_dir(pytester)
    pytester.makepyfile(test_checks=CHECKS.replace("FAIL_CHS06", "False"))
    import time
    time.sleep(1.1)  # run directories are named by the second
    second = pytester.runpytest_subprocess("--report-dir=out", "--profile=profile.toml", "-p", "no:warnings")
    assert second.ret == pytest.ExitCode.TESTS_FAILED
    second_run = _run_dir(pytester)
    assert first_run != second_run
    records = [json.loads(line) for line in (pytester.path / "audit" / "history.jsonl").read_text().splitlines()]
    assert [r["run"] for r in records] == [first_run.name, second_run.name]
    assert [r["statuses"]["CHS-06"] for r in records] == ["passed", "failed"]
    for record, run in zip(records, (first_run, second_run), strict=True):
        assert record["manifest_sha256"] == hashlib.sha256((run / "manifest.json").read_bytes()).hexdigest()
        checked, problems = verify_manifest(run)
        assert problems == [] and checked >= 6  # results, controls, hdf, junit, report.html, waivers
        listed = json.loads((run / "manifest.json").read_text())["files"]
        assert {"results.json", "controls.html", "controls.hdf.json", "junit.xml", "report.html",
                "waivers.toml"} <= set(listed)
    page = Page((second_run / "controls.html").read_text())
    assert "CHS-06: passed → failed" in page.changes["new-failure"]


def test_report_dir_none_writes_nothing(checks: pytest.Pytester) -> None:
    checks.makefile(".toml", waivers=_waiver(_day(1)))
    result = checks.runpytest_subprocess("--report-dir=none", "--waivers=waivers.toml",
                                         "--history=h.jsonl", "-p", "no:warnings")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == 0 and _lines(result, "stackprobe: CHS-06 failed and is waived until")  # still judged
    written = {p.name for p in checks.path.rglob("*")}
    assert not written & {"reports", "h.jsonl", "history.jsonl", "controls.html", "results.json", "manifest.json",
                          "SHA256SUMS", "junit.xml", "report.html"}, sorted(written)


def test_report_dir_none_still_fails_on_an_expired_waiver(checks: pytest.Pytester) -> None:
    checks.makefile(".toml", waivers=_waiver(_day(-1)))
    result = checks.runpytest_subprocess("--report-dir=none", "--waivers=waivers.toml", "-p", "no:warnings")
    assert result.ret == pytest.ExitCode.TESTS_FAILED and _lines(result, "expired on")
    assert not (checks.path / "reports").exists()


class _PytestHtml(HTMLParser):
    """pytest-html's page: the URLs its resource tags load, its inline styles and scripts, and
    the JSON blob its script renders the tests from (extras included)."""

    RESOURCE_TAGS: ClassVar[set[str]] = {"script", "link", "img", "iframe", "embed", "object", "source",
                                         "audio", "video"}

    def __init__(self, text: str) -> None:
        super().__init__()
        self.loads: list[str] = []  # URLs the page would request
        self.inline: dict[str, int] = {"style": 0, "script": 0}
        self.blob: dict[str, object] = {}
        self._open = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in self.RESOURCE_TAGS:
            self.loads += [v for k, v in values.items() if k in {"src", "href", "data", "srcset"} and v.strip()]
        if "data-jsonblob" in values:
            self.blob = json.loads(values["data-jsonblob"])
        self._open = tag

    def handle_data(self, data: str) -> None:
        if self._open in self.inline and data.strip():
            self.inline[self._open] += 1


def test_pytest_html_report_is_self_contained_and_carries_evidence(checks: pytest.Pytester) -> None:
    result = checks.runpytest_subprocess("--report-dir=out", "-p", "no:warnings")
    result.assert_outcomes(passed=1, failed=1)
    run = _run_dir(checks)
    text = (run / "report.html").read_text(encoding="utf-8")
    page = _PytestHtml(text)
    # self-contained: styles and scripts inline, nothing loaded from anywhere, no assets/ beside it
    assert page.loads == [], page.loads
    assert page.inline["style"] >= 1 and page.inline["script"] >= 1
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text) and "@import" not in text
    assert not (run / "assets").exists()
    # each check's recorded evidence is attached to it, redacted
    tests = page.blob["tests"]
    assert isinstance(tests, dict)

    def evidence_of(name: str) -> object:
        (extra,) = [e for entry in tests[f"test_checks.py::{name}"] for e in entry["extras"]]
        assert extra["format_type"] == "html" and Page(extra["content"]).external_urls() == []
        (body,) = re.findall(r"<b>evidence</b><pre>(.*)</pre>", extra["content"], re.S)
        return json.loads(html.unescape(body))

    assert evidence_of("test_rounds") == {"rounds": 12}
    assert evidence_of("test_partition") == {"partition": "not healed; token «redacted:CANARY_TOKEN»"}
    assert CANARY not in text

"""controls.html from fabricated results.json: controls and statuses, waivers, recovery charts,
history diffs and trends, bad history input, secrets, manifest tampering, the CLI."""

from __future__ import annotations

import html
import subprocess
import sys
from pathlib import Path

import fabricate as fab
from pageparse import Page

from stackprobe.redact import REDACTOR
from stackprobe.report import render_run
from stackprobe.report.history import append_record, read_history
from stackprobe.report.manifest import verify_manifest, write_manifest
from stackprobe.report.svg import nice_ticks, trend_chart

WAIVE_CHS06 = """
[[waiver]]
control = "CHS-06"
justification = "Partition tests need iptables, missing on the runner until OPS-77"
approver = "J. Doe, head of operations"
ticket = "OPS-1234"
expires = {expires}
"""


def page(run: Path) -> Page:
    return Page((run / "controls.html").read_text(encoding="utf-8"))


def test_every_control_once_with_its_status(tmp_path: Path) -> None:
    data = fab.summary()
    run = fab.write_run(tmp_path, "20261125-070000-live", data)
    rendered = render_run(run)
    shown = page(run)
    assert shown.controls == [(cid, c["status"]) for cid, c in data["controls"].items()]
    assert rendered.report.verdict() == "failed"
    text = shown.text
    for control in data["controls"].values():
        assert control["title"] in text and control["why"] in text and control["fix"] in text
        assert control["checks"][0]["nodeid"] in text
        assert control["tags"] and all(tag in text for tag in control["tags"])  # framework mappings too
    assert any(":" in tag for c in data["controls"].values() for tag in c["tags"]), "no framework tag was shown"
    assert "@media print" in (run / "controls.html").read_text()  # the page prints cleanly (its own stylesheet)
    # header: environment of the run
    for needle in ("ci-runner-7", "profiles/reference.toml", "ab" * 32, "cd" * 32, "ef" * 32,
                   "mysql@sha256:" + "3" * 64, "0123456789abcdef0123456789abcdef01234567", "2026-11-25T07:04:10Z",
                   "stackprobe/ai-assistant-backend:local", "20.10.24"):
        assert needle in text, needle
    # the summary matrix counts by suite and by severity, and not-run catalogue controls are listed
    assert 'data-matrix="suite"' in (run / "controls.html").read_text()
    assert "HLT-02" in text and "Catalogue controls not run" in text


def test_recovery_chart_against_the_slo(tmp_path: Path) -> None:
    data = fab.summary(healthy=[6.0, 7.0, 41.0])  # one trial far over the 30 s SLO
    run = fab.write_run(tmp_path, "r1", data)
    render_run(run)
    text = (run / "controls.html").read_text()
    chs = text[text.index('id="CHS-01"'):text.index('id="CHS-06"')]
    assert chs.count('<svg class="chart recovery"') == 2  # backend and mysql
    assert "backend kill: 3 trial(s); running p95 12.3 s (SLO 10 s); healthy p95 41 s (SLO 30 s)" in html.unescape(chs)
    assert "p95 over the SLO: running, healthy, http_200" in html.unescape(chs)
    assert 'stroke-dasharray="4 3"><title>SLO 30 s</title>' in chs
    assert "<title>trial 3: 41 s</title>" in chs


def test_waiver_expiring_tomorrow_waives_with_reason(tmp_path: Path) -> None:
    run = fab.write_run(tmp_path, "r1", fab.summary())
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(WAIVE_CHS06.format(expires="2026-11-26"))  # the run finished on 2026-11-25
    rendered = render_run(run, waivers=waivers, archive_waivers=True)
    shown = page(run)
    assert ("CHS-06", "waived") in shown.controls and not rendered.waivers.problems
    assert "Partition tests need iptables" in shown.text and "OPS-1234" in shown.text
    assert "applied: failure waived" in shown.text
    assert (run / "waivers.toml").read_text() == waivers.read_text()  # archived with the run


def test_waiver_expired_yesterday_fails_and_is_shown(tmp_path: Path) -> None:
    run = fab.write_run(tmp_path, "r1", fab.summary())
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(WAIVE_CHS06.format(expires="2026-11-24"))
    rendered = render_run(run, waivers=waivers)
    shown = page(run)
    assert ("CHS-06", "failed") in shown.controls
    assert rendered.waivers.problems[0].kind == "expired"
    assert "Waiver expired on 2026-11-24" in shown.text and "Waiver problems" in shown.text
    # judged on the run's day, not today's: a later re-render agrees with the run
    assert render_run(run, waivers=waivers).report.statuses()["CHS-06"] == "failed"


def test_waiver_never_turns_an_error_or_a_pass_into_waived(tmp_path: Path) -> None:
    run = fab.write_run(tmp_path, "r1", fab.summary())
    waivers = tmp_path / "w.toml"
    waivers.write_text(WAIVE_CHS06.replace("CHS-06", "DEP-03").format(expires="2027-01-01")
                       + WAIVE_CHS06.replace("CHS-06", "HLT-01").format(expires="2027-01-01"))
    statuses = render_run(run, waivers=waivers).report.statuses()
    assert statuses["DEP-03"] == "error" and statuses["HLT-01"] == "passed"
    assert "not needed (control passed)" in page(run).text


def test_malformed_waiver_file_still_renders(tmp_path: Path) -> None:
    run = fab.write_run(tmp_path, "r1", fab.summary())
    waivers = tmp_path / "w.toml"
    waivers.write_text("[[waiver]]\ncontrol = 'CHS-06'\n")
    rendered = render_run(run, waivers=waivers)
    assert rendered.waivers.malformed and ("CHS-06", "failed") in page(run).controls
    assert "lacks justification, approver, ticket, expires" in page(run).text


def _two_runs(tmp_path: Path) -> tuple[Path, Path]:
    history = tmp_path / "history.jsonl"
    first = fab.write_run(tmp_path, "20261124-070000-live", fab.summary(
        {"SEC-06": "passed", "DEP-03": "error"}, healthy=[5.0, 6.0, 7.0], backup_size=40_000, restore_s=3.0,
        started="2026-11-24T07:00:00Z", finished="2026-11-24T07:04:00Z"))
    append_record(history, render_run(first, history=history).record)
    second = fab.write_run(tmp_path, "20261125-070000-live", fab.summary(
        {"SEC-06": "failed", "DEP-03": "passed"}, healthy=[6.0, 8.0, 9.5], backup_size=80_000, restore_s=3.3))
    return history, second


def test_history_diff_and_trends(tmp_path: Path) -> None:
    history, second = _two_runs(tmp_path)
    rendered = render_run(second, history=history)
    assert rendered.diff.previous == "20261124-070000-live"
    changes = page(second).changes
    assert "SEC-06: passed → failed" in changes["new-failure"]
    assert "DEP-03: error → passed" in changes["fixed"]
    assert "CHS-06: still failed" in changes["still-failing"]
    assert "CHS-01 backend kill, p95:" in changes["recovery"] and "healthy 7.00 → 9.50 s (+36%)" in changes["recovery"]
    assert "BKP-01 backup size bytes: 39.1 KiB → 78.1 KiB (+100%)" in changes["backup"]
    assert "BKP-08 restore seconds: 3.00 s → 3.30 s (+10%)" in changes["backup"]
    text = (second / "controls.html").read_text()
    chs = text[text.index('id="CHS-01"'):text.index('id="CHS-06"')]
    assert chs.count('class="chart trend"') == 2 and "backend kill: p95 healthy (s): 2 run(s), latest 9.5 s" in chs
    # re-rendering the first run later does not compare it with itself or with later runs
    first = tmp_path / "20261124-070000-live"
    append_record(history, rendered.record)
    assert render_run(first, history=history).diff.previous == ""


def test_history_truncated_and_old_format(tmp_path: Path) -> None:
    history, second = _two_runs(tmp_path)
    good = history.read_text()
    history.write_text('{"run": "20261101-000000-live", "controls": {"HLT-01": "passed"}}\n' + good
                       + '{"v": 1, "run": "20261124-2')  # killed mid-write
    rendered = render_run(second, history=history)
    assert rendered.diff.previous == "20261124-070000-live"
    assert any("line 1: record format version None is not understood" in w for w in rendered.warnings)
    assert any("line 3: truncated mid-line" in w for w in rendered.warnings)
    assert "Warnings" in page(second).text and "truncated mid-line" in page(second).text
    # the next append starts on a new line, so the truncated line does not swallow it
    append_record(history, rendered.record)
    assert [r["run"] for r in read_history(history).records] == ["20261124-070000-live", "20261125-070000-live"]


def test_unreadable_history_line_is_skipped_not_fatal(tmp_path: Path) -> None:
    history, second = _two_runs(tmp_path)
    history.write_text("not json\n" + history.read_text() + '{"v": 1, "run": 5, "statuses": {}}\n')
    rendered = render_run(second, history=history)
    assert rendered.diff.previous == "20261124-070000-live" and len(rendered.warnings) == 2


def test_no_secret_in_the_page(tmp_path: Path) -> None:
    REDACTOR.add(fab.CANARY, "CANARY_PASSWORD")
    data = fab.summary()
    data["controls"]["SEC-06"]["checks"][0]["evidence"]["leak"] = f"mysql://app:{fab.CANARY}@db"
    data["controls"]["SEC-06"]["checks"][0]["message"] = f"saw {fab.CANARY}"
    run = fab.write_run(tmp_path, "r1", data)
    render_run(run)
    text = (run / "controls.html").read_text()
    assert fab.CANARY not in text and "«redacted:CANARY_PASSWORD»" in text


def test_page_is_self_contained(tmp_path: Path) -> None:
    run = fab.write_run(tmp_path, "r1", fab.summary())
    render_run(run)
    shown = page(run)
    assert shown.external_urls() == []
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(shown.tags)
    assert "default-src 'none'" in (run / "controls.html").read_text()


def test_manifest_detects_tampering(tmp_path: Path) -> None:
    run = fab.write_run(tmp_path, "r1", fab.summary())
    render_run(run)
    (run / "junit.xml").write_text("<testsuites/>")
    write_manifest(run)
    assert verify_manifest(run) == (6, [])  # results, controls.html, .hdf.json, .sarif, stackprobe.prom, junit
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=run).returncode == 0
    page_file = run / "controls.html"
    page_file.write_text(page_file.read_text().replace('data-status="failed"', 'data-status="passed"'))
    (run / "junit.xml").unlink()
    (run / "extra.txt").write_text("added later")
    checked, problems = verify_manifest(run)
    assert checked == 6
    assert [p.split()[0] + " " + p.split()[1].rstrip(":") for p in problems] == [
        "MODIFIED controls.html", "MISSING junit.xml", "UNLISTED extra.txt"]
    result = subprocess.run([sys.executable, "-m", "stackprobe.report", "verify", str(run)],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "MODIFIED  controls.html" in result.stdout


def test_manifest_regenerated_after_the_run_is_caught_through_the_history(tmp_path: Path) -> None:
    run = fab.write_run(tmp_path, "r1", fab.summary())
    rendered = render_run(run)
    append_record(tmp_path / "history.jsonl", dict(rendered.record, manifest_sha256=write_manifest(run)))
    verify = [sys.executable, "-m", "stackprobe.report", "verify", str(run)]
    assert subprocess.run(verify, capture_output=True).returncode == 0
    page_file = run / "controls.html"  # edited, then the manifest written again to match
    page_file.write_text(page_file.read_text().replace('data-status="failed"', 'data-status="passed"'))
    write_manifest(run)
    assert verify_manifest(run) == (5, [])  # the manifest alone cannot tell
    result = subprocess.run(verify, capture_output=True, text=True)
    assert result.returncode == 1 and "REWRITTEN manifest.json" in result.stdout, result.stdout
    assert str(tmp_path / "history.jsonl") in result.stdout


def test_cli_renders_without_running_tests(tmp_path: Path) -> None:
    _, second = _two_runs(tmp_path)
    (second / "waivers.toml").write_text(WAIVE_CHS06.format(expires="2026-12-31"))
    cli = [sys.executable, "-m", "stackprobe.report"]
    result = subprocess.run([*cli, "render", str(second)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert ("CHS-06", "waived") in page(second).controls  # the run's archived waiver file
    assert "Compared with run" in page(second).text  # history.jsonl beside the run directory
    assert subprocess.run([*cli, "verify", str(second)], capture_output=True).returncode == 0
    late = subprocess.run([*cli, "render", str(second), "--as-of", "2027-01-01"], capture_output=True, text=True)
    assert late.returncode == 1 and "expired on 2026-12-31" in late.stderr
    missing = subprocess.run([*cli, "render", str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "results.json does not exist" in missing.stderr


def test_results_of_other_versions_still_render(tmp_path: Path) -> None:
    """Missing fields (older results.json) show as not recorded; unknown ones are listed."""
    data = {"run": {"started": "2026-11-25T07:00:00Z", "future_field": {"x": 1}},
            "controls": {"ZZZ-01": {"status": "passed", "checks": [{"nodeid": "t::x"}]},
                         "HLT-01": {"status": "failed", "checks": []}}}
    run = fab.write_run(tmp_path, "old", data)
    render_run(run)
    shown = page(run)
    assert shown.controls == [("HLT-01", "failed"), ("ZZZ-01", "passed")]
    assert "future field" in shown.text and "not in this stackprobe's catalogue" in shown.text


def test_chart_helpers() -> None:
    assert nice_ticks(41) == [0, 10, 20, 30, 40, 50] and nice_ticks(0) == [0.0, 1.0]
    chart = trend_chart([("a", 1.0), ("b", None), ("c", 2.0), ("d", 3.0)], "t", "s", slo=2.5)
    assert chart.count("<polyline") == 1 and chart.count("<circle") == 3  # gap at b
    assert trend_chart([("a", None)], "t", "s") == ""


def test_a_parallel_runs_parts_are_listed_with_their_copies(tmp_path: Path) -> None:
    data = fab.summary()
    data["run"]["parts"] = [
        {"worker": "gw0", "parts": ["isolated"], "target": {"kind": "ephemeral", "project": "spx1x0a"},
         "started_after_s": 2.5, "duration_s": 351.2},
        {"worker": "gw1", "parts": ["own"], "target": None, "started_after_s": 2.4, "duration_s": 180.0},
    ]
    run = fab.write_run(tmp_path, "20261206-150000-ephemeral", data)
    render_run(run)
    text = page(run).text
    assert "parts (--parallel)" in text
    assert "isolated on gw0 · copy spx1x0a · 351.2 s" in " ".join(text.split()), text
    assert "own on gw1 · no copy of the stack · 180.0 s" in " ".join(text.split())

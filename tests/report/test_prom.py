"""stackprobe.prom: node_exporter textfile-collector format, accepted by `promtool check metrics`,
every value equal to what results.json (and the history) say."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import fabricate as fab
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stackprobe.report import render_run
from stackprobe.report.history import append_record
from stackprobe.report.prom import FILE, epoch, write_prom

pytestmark = pytest.mark.skipif(not shutil.which("promtool"), reason="needs promtool (tools/setup.sh installs it)")


def _samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(path.read_text()) for s in family.samples}


def _promtool(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", "check", "metrics"], input=path.read_text(), capture_output=True, text=True,
                          timeout=60)


def test_prom_file_passes_promtool_and_matches_results(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    first = fab.write_run(tmp_path, "20261124-070000-live", fab.summary(
        {"SEC-06": "passed", "CHS-06": "passed", "DEP-03": "passed"}, started="2026-11-24T07:00:00Z",
        finished="2026-11-24T07:03:30Z"))
    append_record(history, render_run(first, history=history).record)  # a passing run
    data = fab.summary(healthy=[6.1, 7.4, 6.8, 9.2, 33.0])
    data["controls"]["BKP-08"]["checks"][0]["evidence"]["newest"] = {"age_h": 7.25, "newest": "backup.sql.gz"}
    run = fab.write_run(tmp_path, "20261125-070000-live", data)
    report = render_run(run, history=history).report  # writes run/stackprobe.prom
    textfile = tmp_path / "textfile" / "stackprobe.prom"
    assert write_prom(report, textfile, history) == textfile
    assert textfile.read_text() == (run / FILE).read_text()
    assert not list(textfile.parent.glob("*.prom.*"))  # the temporary file was renamed, not left
    checked = _promtool(run / FILE)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    samples = _samples(run / FILE)
    results = json.loads((run / "results.json").read_text())
    for cid, control in results["controls"].items():
        key = ("stackprobe_control_status", (("control", cid), ("severity", control["severity"]),
                                             ("status", control["status"]), ("suite", control["suite"])))
        assert samples[key] == 1, cid
        failing = samples[("stackprobe_control_failing", (("control", cid), ("severity", control["severity"])))]
        assert failing == (1 if control["status"] in {"failed", "error", "aborted"} else 0), cid
    assert samples[("stackprobe_run_success", ())] == 0  # SEC-06 failed, DEP-03 errored
    run_info = results["run"]
    assert samples[("stackprobe_run_finished_timestamp_seconds", ())] == epoch(run_info["finished"])
    assert samples[("stackprobe_run_duration_seconds", ())] == epoch(run_info["finished"]) - epoch(run_info["started"])
    # this run failed: the last success is the earlier passing run of the history
    assert samples[("stackprobe_last_success_timestamp_seconds", ())] == epoch("2026-11-24T07:03:30Z")
    assert samples[("stackprobe_backup_age_seconds", ())] == 7.25 * 3600
    for item in results["controls"]["CHS-01"]["checks"][0]["evidence"]["recovery"]:
        experiment = f"{item['service']} {item['fault']}"
        for phase, value in item["p95_s"].items():
            key = ("stackprobe_recovery_p95_seconds", (("control", "CHS-01"), ("experiment", experiment),
                                                       ("phase", phase)))
            assert samples[key] == value


def test_a_passing_run_is_its_own_last_success_and_absent_figures_stay_absent(tmp_path: Path) -> None:
    run = fab.write_run(tmp_path, "r1", fab.summary({"SEC-06": "passed", "CHS-06": "passed", "DEP-03": "passed"}))
    report = render_run(run).report
    assert write_prom(report, tmp_path) == tmp_path / FILE  # a directory: stackprobe.prom in it
    samples = _samples(tmp_path / FILE)
    assert samples[("stackprobe_run_success", ())] == 1
    assert samples[("stackprobe_last_success_timestamp_seconds", ())] == epoch(report.finished)
    assert not any(name == "stackprobe_backup_age_seconds" for name, _ in samples)  # not recorded: no 0
    assert _promtool(tmp_path / FILE).returncode == 0


def test_promtool_tells_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.prom"
    broken.write_text("# TYPE stackprobe_run_success gauge\nstackprobe_run_success{control=} one\n")
    assert _promtool(broken).returncode != 0

"""The report in a real browser: Debian's headless Chromium reads controls.html (DOM dump),
prints it to PDF and takes a screenshot; its NetLog shows the page made no request at all.
No Docker needed; Chromium, pdfinfo, pdftotext and pdftoppm are host tools set up by tools/setup.sh."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import fabricate as fab
import pytest
from pageparse import Page
from saftools import Treemap, heimdall

from stackprobe.redact import REDACTOR
from stackprobe.report import HDF, render_run
from stackprobe.report.history import append_record
from stackprobe.report.pdf import run_chromium, screenshot, to_pdf

pytestmark = pytest.mark.skipif(not shutil.which("chromium") or not shutil.which("pdftotext"),
                                reason="needs Debian's chromium and poppler-utils (tools/setup.sh installs them)")

WAIVER = """
[[waiver]]
control = "CHS-06"
justification = "Partition tests need iptables, missing on the runner until OPS-77"
approver = "J. Doe, head of operations"
ticket = "OPS-1234"
expires = 2026-12-31
"""
_LOCAL_SCHEMES = ("file:", "data:", "about:", "chrome:", "blob:")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs (history), a waiver, chaos recovery data and a secret in the evidence."""
    REDACTOR.add(fab.CANARY, "CANARY_PASSWORD")
    root = tmp_path_factory.mktemp("browser")
    history = root / "history.jsonl"
    first = fab.write_run(root, "20261124-070000-live", fab.summary(
        {"SEC-06": "passed"}, healthy=[5.0, 6.0, 7.5], backup_size=40_000, started="2026-11-24T07:00:00Z",
        finished="2026-11-24T07:04:00Z"))
    append_record(history, render_run(first, history=history).record)
    data = fab.summary(healthy=[6.1, 7.4, 6.8, 9.2, 33.0])
    data["controls"]["SEC-06"]["checks"][0]["evidence"]["dsn"] = f"mysql://app:{fab.CANARY}@mysql/app"
    second = fab.write_run(root, "20261125-070000-live", data)
    (root / "waivers.toml").write_text(WAIVER)
    render_run(second, waivers=root / "waivers.toml", history=history)
    return second


def _expected(run: Path) -> dict[str, str]:
    statuses = {cid: c["status"] for cid, c in json.loads((run / "results.json").read_text())["controls"].items()}
    statuses["CHS-06"] = "waived"  # failed in results.json, waived by the waiver file
    return statuses


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself asked for (Chromium's own background fetches excluded)."""
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params: dict[str, Any] = event.get("params") or {}
        if event["type"] != start_job or "url" not in params:
            continue
        from_page = params.get("initiator") != "not an origin" or str(
            params.get("network_isolation_key", "")).startswith("file://")
        if from_page and not params["url"].startswith(_LOCAL_SCHEMES):
            urls.append(params["url"])
    return urls


def test_dom_shows_every_control_once_with_its_status(run: Path) -> None:
    result = run_chromium(run / "controls.html", "--dump-dom")
    assert result.returncode == 0, result.stderr[-500:]
    dom = Page(result.stdout)
    assert len(dom.controls) == len({c for c, _ in dom.controls})  # each once
    assert dict(dom.controls) == _expected(run)
    assert dom.external_urls() == []
    assert "Partition tests need iptables" in dom.text and "CHS-01" in dom.text
    assert "SEC-06: passed → failed" in dom.changes["new-failure"]
    assert fab.CANARY not in result.stdout


class _Counter(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Counter.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_page_makes_no_network_request(run: Path, tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # positive control: a page that does fetch something is caught by the same detector
        leaky = tmp_path / "leaky.html"
        leaky.write_text(f'<!DOCTYPE html><img src="http://127.0.0.1:{server.server_port}/pixel.png">')
        # (the renderer resolves no name at all, loopback included; lift that for this page only)
        run_chromium(leaky, "--dump-dom", f"--log-net-log={tmp_path / 'leaky.json'}",
                     "--host-resolver-rules=MAP nothing.invalid ~NOTFOUND")
        assert page_requests(tmp_path / "leaky.json") == [f"http://127.0.0.1:{server.server_port}/pixel.png"]
        assert _Counter.hits == ["/pixel.png"]
        _Counter.hits.clear()
        for flag in ("--dump-dom", f"--print-to-pdf={tmp_path / 'x.pdf'}"):
            net_log = tmp_path / "report-net.json"
            run_chromium(run / "controls.html", flag, f"--log-net-log={net_log}")
            assert page_requests(net_log) == [], flag
        assert _Counter.hits == []
    finally:
        server.shutdown()


def test_pdf_has_pages_text_and_no_secret(run: Path, tmp_path: Path, artifacts_dir: Path) -> None:
    pdf = to_pdf(run / "controls.html", artifacts_dir / "controls.pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages >= 2
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for control, status in _expected(run).items():
        assert control in text, control
        assert status in text
    assert "stackprobe control report" in text and "Partition tests need iptables" in text
    assert "RECOVERY TIME AGAINST THE SLO" in text.upper()
    assert fab.CANARY not in text
    for old in artifacts_dir.glob("pdf-page*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", str(pdf), str(artifacts_dir / "pdf-page")],
                   check=True)
    (png,) = artifacts_dir.glob("pdf-page*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    print(f"PDF first page: {png}")


def test_screenshot_of_the_summary(run: Path, artifacts_dir: Path, record_property: Any) -> None:
    png = screenshot(run / "controls.html", artifacts_dir / "summary.png", width=1280, height=1400)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    record_property("screenshot", str(png))
    print(f"summary screenshot: {png}")


# --- Heimdall Lite's NIST SP 800-53 view of the HDF export ----------------------------------------
_HEIMDALL_FLAGS = ("--virtual-time-budget=20000", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")


def _treemap(hdf_text: str, png: Path | None = None) -> dict[str, int]:
    """Heimdall Lite (served on 127.0.0.1) with the file loaded: leaf cells per NIST family of its
    treemap, read from the DOM; with `png`, also a screenshot of the page."""
    with heimdall(HDF, hdf_text) as base:
        url = f"{base}/?predefinedLoad=true"
        done = run_chromium(url, "--dump-dom", "--window-size=1400,1000", *_HEIMDALL_FLAGS)
        if png is not None:
            png.unlink(missing_ok=True)
            run_chromium(url, f"--screenshot={png}", "--window-size=1400,2400", *_HEIMDALL_FLAGS)
    assert "NIST SP 800-53 Security and Privacy Control Coverage" in done.stdout, done.stdout[-1500:]
    return Treemap(done.stdout).families


def test_heimdall_nist_view_places_every_control(run: Path, artifacts_dir: Path, record_property: Any) -> None:
    hdf = json.loads((run / HDF).read_text())
    controls = hdf["profiles"][0]["controls"]
    expected: dict[str, int] = {}
    for control in controls:
        assert control["tags"]["nist"], control["id"]
        for tag in control["tags"]["nist"]:
            expected[tag.split("-")[0]] = expected.get(tag.split("-")[0], 0) + 1
    png = artifacts_dir / "heimdall-nist.png"
    families = _treemap((run / HDF).read_text(), png)
    assert families.get("UM") == 0, families  # nothing unmapped
    assert {f: n for f, n in families.items() if n} == expected
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    record_property("screenshot", str(png))
    print(f"Heimdall NIST view: {png}")
    # the same run without tags: Heimdall puts every control under UM-1 (the check can tell)
    for control in controls:
        control["tags"]["nist"] = []
    assert {f: n for f, n in _treemap(json.dumps(hdf)).items() if n} == {"UM": len(controls)}

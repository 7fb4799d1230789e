"""The MITRE SAF CLI and Heimdall Lite that tools/setup.sh (step saf) installs in .stackprobe/npm,
for the tests that check the HDF export with the tools auditors use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NPM = REPO / ".stackprobe" / "npm" / "node_modules"


def saf_cli() -> Path:
    saf = Path(os.environ.get("STACKPROBE_SAF") or NPM / ".bin" / "saf")
    if not saf.exists() or not shutil.which("node"):
        pytest.skip("needs the SAF CLI: tools/setup.sh (step saf) installs it in .stackprobe/npm")
    return saf


def node_json(script: str, *args: str) -> Any:
    """Run a node script with the SAF CLI's modules on its path; its stdout as JSON."""
    saf_cli()
    done = subprocess.run(["node", "-e", script, *args], capture_output=True, text=True,
                          env={**os.environ, "NODE_PATH": str(NPM)}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


class HeimdallHandler(SimpleHTTPRequestHandler):
    """Heimdall Lite's static build, plus the file list `saf view heimdall -f` would serve."""

    predefined = b"[]"

    def do_GET(self) -> None:
        if self.path.lower().startswith("/dynamic/predefinedload.json"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.predefined)))
            self.end_headers()
            self.wfile.write(self.predefined)
            return
        super().do_GET()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def heimdall(filename: str, hdf_text: str) -> Iterator[str]:
    """Heimdall Lite on 127.0.0.1 with one HDF file preloaded; yields its base URL."""
    saf_cli()
    dist = NPM / "@mitre" / "heimdall-lite" / "dist"
    assert (dist / "index.html").is_file()
    HeimdallHandler.predefined = json.dumps([{"filename": filename, "data": hdf_text}]).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(HeimdallHandler, directory=str(dist)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


class Treemap(HTMLParser):
    """Heimdall's NIST SP 800-53 treemap (svg#chartBody) in a DOM dump: per family label (AC ... UM),
    its leaf cells, one per (control, NIST tag) Heimdall placed; an untagged control is a leaf of UM."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.inside = False
        self.stack: list[dict[str, Any]] = []  # open <g> elements of the chart
        self.families: dict[str, int] = {}
        self._text = False
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg" and a.get("id") == "chartBody":
            self.inside = True
        if not self.inside:
            return
        if tag == "g":
            self.stack.append({"leaves": 0, "label": ""})
        elif tag == "rect" and "leaf" in (a.get("class") or "").split():
            for g in self.stack:
                g["leaves"] += 1
        elif tag == "text":
            self._text = True

    def handle_data(self, data: str) -> None:
        if self.inside and self._text and data.strip() and self.stack:
            # the label belongs to the innermost group that has none yet
            for g in reversed(self.stack):
                if not g["label"]:
                    g["label"] = data.strip()
                    break

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "text":
            self._text = False
        elif tag == "g" and self.stack:
            g = self.stack.pop()
            if g["label"]:
                self.families[g["label"]] = self.families.get(g["label"], 0) + g["leaves"]
        elif tag == "svg":
            self.inside = False

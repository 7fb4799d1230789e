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

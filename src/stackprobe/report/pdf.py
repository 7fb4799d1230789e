"""controls.html to PDF (and PNG screenshots) with Debian's headless Chromium; nothing downloaded."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
# quiet, offline, repeatable: no first-run, sync, component or background network activity
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
          "--no-default-browser-check", "--disable-breakpad", "--disable-client-side-phishing-detection",
          # no name resolves: the browser's own update/sign-in/dictionary fetches go nowhere
          "--host-resolver-rules=MAP * ~NOTFOUND")


class ChromiumError(Exception):
    pass


def chromium() -> str:
    found = os.environ.get("STACKPROBE_CHROMIUM") or next(
        (p for p in (shutil.which(c) for c in CHROMIUM_CANDIDATES) if p), None)
    if not found:
        raise ChromiumError("no Chromium found (apt-get install chromium, or set STACKPROBE_CHROMIUM)")
    return found


def run_chromium(page: Path | str, *extra: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on a local file (or a URL) with a throwaway profile; a later flag
    in `extra` overrides the same flag of the defaults."""
    url = page.resolve().as_uri() if isinstance(page, Path) else page
    with tempfile.TemporaryDirectory(prefix="stackprobe-chromium-") as profile_dir:
        command = [chromium(), *_FLAGS, f"--user-data-dir={profile_dir}", *extra, url]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ChromiumError(f"Chromium did not finish within {timeout:.0f} s on {page}") from None
    return result


def to_pdf(page: Path, pdf: Path) -> Path:
    pdf.unlink(missing_ok=True)
    result = run_chromium(page, f"--print-to-pdf={pdf.resolve()}", "--no-pdf-header-footer")
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise ChromiumError(f"Chromium wrote no PDF for {page} (exit {result.returncode}): "
                            f"{result.stderr.strip()[-300:]}")
    return pdf


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 1800) -> Path:
    png.unlink(missing_ok=True)
    result = run_chromium(page, f"--screenshot={png.resolve()}", f"--window-size={width},{height}")
    if not png.is_file():
        raise ChromiumError(f"Chromium wrote no screenshot for {page} (exit {result.returncode}): "
                            f"{result.stderr.strip()[-300:]}")
    return png

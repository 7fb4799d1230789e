"""Running a command of the deployment (deploy, backup, restore scripts; host tools): one
runner for every suite and host, bounded in time, killed with its whole process group, and one
record of what ran and what it printed (redacted wherever it is shown)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe.redact import REDACTOR


@dataclass(frozen=True)
class CommandRun:
    """One run of a command: what ran, how it ended, how long it took, what it printed."""

    argv: list[str]
    exit_code: int
    duration_s: float
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def summary(self, tail: int = 1500) -> dict[str, Any]:
        return {"cmd": " ".join(self.argv), "exit": self.exit_code, "duration_s": round(self.duration_s, 2),
                "timed_out": self.timed_out, "output_tail": REDACTOR.redact(self.output[-tail:])}

    def describe(self, tail: int = 600) -> str:
        """One line for assertion messages: the command, its exit and the end of its output."""
        ending = " ".join(self.output.strip().splitlines()[-6:])[-tail:]
        how = "timed out" if self.timed_out else f"exited {self.exit_code}"
        return REDACTOR.redact(f"`{' '.join(self.argv)}` {how}: {ending or '(no output)'}")


def run_command(argv: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float) -> CommandRun:
    """Run `argv` in its own process group with no stdin (so nothing can prompt); on timeout the
    whole group is killed, children (docker compose) included, and so it is when the run is
    interrupted (Ctrl-C, SIGTERM): its own session does not get the terminal's signal."""
    started = time.monotonic()
    try:
        process = subprocess.Popen(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                                   start_new_session=True)
    except OSError as error:  # what a shell says and exits with, not a traceback
        code = 127 if isinstance(error, FileNotFoundError) else 126
        return CommandRun(list(argv), code, time.monotonic() - started, "",
                          f"{argv[0] if argv else ''}: {error.strerror or error}\n")
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        timed_out = True
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(Exception):
            process.communicate(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        raise
    return CommandRun(list(argv), process.returncode if not timed_out else -9,
                      time.monotonic() - started, stdout or "", stderr or "", timed_out)


def parse_sha256sum(output: str) -> dict[str, str]:
    """relative path -> digest, from `find . -type f -exec sha256sum {} +` output. A name with a
    backslash or a newline comes escaped (GNU coreutils: the line starts with `\\`, and `\\\\`
    and `\\n` stand for them), so it is unescaped, not read as another file."""
    digests = {}
    for line in output.split("\n"):
        escaped = line.startswith("\\")
        digest, _, path = line.removeprefix("\\").partition("  ")
        if len(digest) == 64 and path:
            if escaped:
                path = re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), path)
            digests[path.removeprefix("./")] = digest
    return digests

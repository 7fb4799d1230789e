"""Bad input ends a run with one line and pytest's usage-error exit code, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHECK = '''
from pathlib import Path
from stackprobe.checks import {call}

def test_config() -> None:
    {call}({args})
'''


@pytest.mark.parametrize(
    ("name", "content", "call", "expected"),
    [
        (".env", "A=1\nB='never closed\n", "read_env_file",
         "is not valid: line 2 cannot be parsed (python-dotenv)"),
        ("compose.yml", "services:\n  db:\n    imag: mysql:8.0\n", "render_compose",
         "docker compose rejects compose file compose.yml: validating"),
    ],
)
def test_one_line_no_traceback(
    tmp_path: Path, name: str, content: str, call: str, expected: str
) -> None:
    bad = tmp_path / name
    bad.write_text(content)
    path = f"Path({str(bad)!r})"
    args = f"[{path}], None" if call == "render_compose" else path
    (tmp_path / "test_input.py").write_text(CHECK.format(call=call, args=args))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert "Traceback" not in output and "stackprobe/checks" not in output, output
    (line,) = [line for line in output.splitlines() if expected in line]
    assert str(bad) in line or name in line

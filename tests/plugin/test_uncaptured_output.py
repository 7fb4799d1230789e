"""Output that bypasses the reports is redacted too: `-s` (no capture), `--capture=tee-sys`, live
logging (`log_cli`) and `--log-file`. The secret is taught to the redactor the way the target
does (REDACTOR.add) and then printed in pieces, logged with args and with a traceback."""

from __future__ import annotations

import secrets

import pytest

CHECKS = '''
import logging, sys
import pytest
from stackprobe.redact import REDACTOR

SECRET = "{secret}"

@pytest.fixture(autouse=True)
def learnt():
    REDACTOR.add(SECRET, "SECRET_KEY")

@pytest.mark.control("SEC-01")
def test_leaks(evidence):
    print("print:", SECRET)
    print("pieces:", SECRET[:10], end="")
    print(SECRET[10:])
    sys.stdout.write("partial " + SECRET[:8])
    sys.stdout.write(SECRET[8:] + " done\\n")
    sys.stderr.write(f"stderr: {{SECRET}}\\n")
    logging.getLogger("leak").warning("log args: %s", SECRET)
    try:
        raise ValueError("in a traceback: " + SECRET)
    except ValueError:
        logging.getLogger("leak").exception("logged exception")
    assert False, "message: " + SECRET
'''


@pytest.mark.parametrize("mode", [
    ["-s"],
    ["--capture=tee-sys"],
    ["-o", "log_cli=true", "-o", "log_cli_level=WARNING"],
    ["-s", "-o", "log_cli=true", "--log-file=live.log", "--log-file-level=WARNING"],
], ids=["no-capture", "tee-sys", "log-cli", "no-capture+log-file"])
def test_uncaptured_output_is_redacted(mode: list[str], pytester: pytest.Pytester) -> None:
    secret = "CANARY" + secrets.token_hex(16)
    pytester.makepyfile(test_leaky=CHECKS.format(secret=secret))
    result = pytester.runpytest_subprocess("--report-dir=none", "-p", "no:randomly", *mode)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 1, output[-3000:]
    assert secret not in output, f"secret reached the terminal with {mode}"
    assert secret[:12] not in output, "a piece of the secret reached the terminal"
    assert "«redacted:SECRET_KEY»" in output, output[-3000:]
    log_file = pytester.path / "live.log"
    if "--log-file=live.log" in mode:
        text = log_file.read_text()
        assert "log args: «redacted:SECRET_KEY»" in text and "in a traceback: «redacted:SECRET_KEY»" in text, text
        assert secret not in text

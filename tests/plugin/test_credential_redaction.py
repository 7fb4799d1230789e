"""Profile credentials (a bearer token, a basic-auth password, read from the environment variables
the profile names) never reach an output: the plugin teaches the redactor their values before any
check runs, as the target does when it builds its HTTP client. No Docker: the checks read the
values themselves or build the target's client without a stack behind it."""

from __future__ import annotations

import base64
import json
import secrets
import textwrap
from pathlib import Path

import pytest

PROFILE = """
[credentials]
bearer_token_env = "SPX_TEST_BEARER_TOKEN"
basic_user_env = "SPX_TEST_BASIC_USER"
basic_password_env = "SPX_TEST_BASIC_PASSWORD"
"""

LEAKY_CHECKS = '''
import logging, os, sys
import httpx, pytest
from stackprobe.targets.base import Target

TOKEN = os.environ["SPX_TEST_BEARER_TOKEN"]
PASSWORD = os.environ["SPX_TEST_BASIC_PASSWORD"]

@pytest.mark.control("HLT-01")
def test_prints_credentials(evidence):
    print("stdout:", TOKEN, PASSWORD)
    sys.stderr.write(f"stderr: {TOKEN} {PASSWORD}\\n")
    logging.getLogger("leak").error("log: %s %s", TOKEN, PASSWORD)
    evidence.record("authorization", f"Bearer {TOKEN}")
    evidence.record("password", PASSWORD)
    assert TOKEN == PASSWORD, f"message: {TOKEN} {PASSWORD}"

@pytest.mark.control("HLT-02")
def test_dumps_the_targets_request(profile, tmp_path, evidence):
    """The target's own client, as a check reaching a protected endpoint uses it."""
    client = Target(profile, "nostack", tmp_path, [], [], {}).http()
    request = next(client.auth.sync_auth_flow(client.build_request("GET", "http://127.0.0.1:9/health")))
    headers = dict(request.headers)
    evidence.record("request headers", headers)
    raise RuntimeError(f"GET /health refused; sent {headers}")
'''


def test_profile_credentials_never_reach_any_output(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    token, password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    basic_header = base64.b64encode(f"auditor:{password}".encode()).decode()
    monkeypatch.setenv("SPX_TEST_BEARER_TOKEN", token)
    monkeypatch.setenv("SPX_TEST_BASIC_USER", "auditor")
    monkeypatch.setenv("SPX_TEST_BASIC_PASSWORD", password)
    for name in ("PROFILE", "TARGET", "LIVE_HOST", "FLEET", "DRY_RUN", "LIST_CONTROLS"):
        monkeypatch.delenv(f"STACKPROBE_{name}", raising=False)
    pytester.makefile(".toml", creds=textwrap.dedent(PROFILE))
    pytester.makepyfile(test_leaky=LEAKY_CHECKS)
    result = pytester.runpytest_subprocess("--profile=creds.toml", "--report-dir=out", "-rA", "-vv",
                                           "--showlocals", "--log-level=INFO", "-p", "no:randomly")
    result.assert_outcomes(failed=2)
    terminal = result.stdout.str() + result.stderr.str()
    leaked = {"token": token, "password": password, "basic header": basic_header}
    for what, value in leaked.items():
        assert value not in terminal, f"the {what} reached the terminal"
    # the values were there to leak: each output carries them redacted
    for marker in ("«redacted:SPX_TEST_BEARER_TOKEN»", "«redacted:SPX_TEST_BASIC_PASSWORD»"):
        assert marker in terminal, marker
    run = Path(pytester.path / "out" / "latest").resolve()
    written = {p.name: p for p in run.iterdir() if p.is_file()}
    assert {"report.html", "junit.xml", "results.json"} <= set(written)
    for path in (pytester.path / "out").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for what, value in leaked.items():
                assert value.encode() not in content, f"the {what} leaked into {path}"
    junit = written["junit.xml"].read_text(encoding="utf-8")
    html = written["report.html"].read_text(encoding="utf-8")
    for text in (junit, html):
        assert "redacted:SPX_TEST_BEARER_TOKEN" in text and "redacted:SPX_TEST_BASIC_PASSWORD" in text
    controls = json.loads(written["results.json"].read_text(encoding="utf-8"))["controls"]
    evidence = controls["HLT-01"]["checks"][0]["evidence"]
    assert evidence == {"authorization": "Bearer «redacted:SPX_TEST_BEARER_TOKEN»",
                        "password": "«redacted:SPX_TEST_BASIC_PASSWORD»"}
    headers = controls["HLT-02"]["checks"][0]["evidence"]["request headers"]
    assert headers["authorization"] == "Basic «redacted:SPX_TEST_BASIC_PASSWORD»"

"""A run whose checks fail printing password hashes, JWTs, private keys, Authorization headers
and URLs with credentials, and skip with a short secret in the reason: none of them reaches the
terminal or any output file, and pytest stays whole (no INTERNALERROR on the skip's report,
whose longrepr pytest asserts to be a tuple). No Docker."""

from __future__ import annotations

import json
import textwrap

import pytest
from unit.test_distinctive_and_redaction import derived_secrets

from stackprobe.checks import generate_secret

CHECKS = '''
import json, logging, os, sys
import pytest
from stackprobe.redact import REDACTOR

LEAKS = json.loads(open(os.environ["SPX_TEST_LEAKS"]).read())
REDACTOR.add_environment({"MARIADB_PASSWORD": "ctfd", "MARIADB_DATABASE": "ctfd"})
REDACTOR.add_names(["ctfd"])

@pytest.mark.control("DB-02")
def test_grants_and_hashes(evidence):
    for what, text in LEAKS.items():
        print(text)
        sys.stderr.write(text + "\\n")
        logging.getLogger("leak").error("%s: %s", what, text)
    evidence.record("grants", list(LEAKS.values()))
    assert not LEAKS, "grants: " + " | ".join(LEAKS.values())

@pytest.mark.control("DB-01")
def test_raises_with_a_key():
    raise RuntimeError(LEAKS["private key"] + " " + LEAKS["jwt"])

@pytest.mark.control("HLT-01")
def test_skip_names_the_short_secret():
    pytest.skip("database ctfd unreachable with MARIADB_PASSWORD=ctfd")
'''


def test_no_derived_secret_reaches_any_output(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = generate_secret(24)
    leaks = derived_secrets(secret)
    leak_file = pytester.path / "leaks.json"
    leak_file.write_text(json.dumps(leaks))
    monkeypatch.setenv("SPX_TEST_LEAKS", str(leak_file))
    for name in ("PROFILE", "TARGET", "LIVE_HOST", "FLEET", "DRY_RUN", "LIST_CONTROLS"):
        monkeypatch.delenv(f"STACKPROBE_{name}", raising=False)
    pytester.makepyfile(test_leaky=textwrap.dedent(CHECKS))
    result = pytester.runpytest_subprocess("--report-dir=out", "-rA", "-vv", "--showlocals",
                                           "--log-level=INFO", "-p", "no:randomly")
    terminal = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in terminal
    result.assert_outcomes(failed=2, skipped=1)
    # What would give each leak away: the secret, and every long token of its derived forms.
    forbidden = {secret}
    for text in leaks.values():
        for token in text.replace("'", " ").replace("$", " ").replace("=", " ").replace(":", " ").split():
            if len(token) >= 20 and token not in {"caching_sha2_password", "PRIVATE"}:
                forbidden.add(token)
    outputs = {"terminal": terminal}
    for path in (pytester.path / "out").rglob("*"):
        if path.is_file():
            outputs[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    assert len(outputs) >= 4  # terminal, report.html, junit.xml, results.json at least
    for where, text in outputs.items():
        for token in forbidden:
            assert token not in text, f"{token[:6]}... reached {where}"
        assert "MARIADB_PASSWORD=ctfd" not in text, where
    assert "«redacted:password-hash»" in terminal and "«redacted:jwt»" in terminal
    assert "«redacted:private-key»" in terminal
    # a message that held a derived secret keeps its own words (not "file:line: AssertionError")
    results = json.loads(next((pytester.path / "out").rglob("results.json")).read_text())
    checks = {control: entry["checks"][0] for control, entry in results["controls"].items()}
    assert checks["DB-02"]["message"].startswith("AssertionError: grants: ")
    assert "«redacted:password-hash»" in checks["DB-02"]["message"]
    assert checks["DB-01"]["message"].startswith("RuntimeError: «redacted:private-key»")
    # the short secret is redacted where it stands whole, and the names around it stay readable
    assert "database ctfd unreachable with MARIADB_PASSWORD=«redacted:MARIADB_PASSWORD»" in terminal

"""The pattern scan for secrets the run does not know (detect-secrets' detectors): each rule on a
line, in an image's text files (SEC-07), in process arguments (SEC-07) and in log lines (LOG-05);
hits name the detector, the place and the line, never the value."""

from __future__ import annotations

import base64
import json
import time

import pytest
from unit.test_checks_in_effect import _saved_image

from stackprobe.checks import SecretPolicy
from stackprobe.checks.image_layers import TextScan, check_image, scan_saved_image
from stackprobe.checks.in_effect import ContainerFacts, Process, check_commands_in_effect
from stackprobe.checks.pattern_scan import ScanCut, line_detectors, looks_like_text, scan_lines

AWS_KEY = "AKIA" + "Q3EGRZMV7XWJ5L2N"
TOKEN = "Zq8vN2kLp4Rt7wXy1Bc3Df5GhJqW9sTu"
JWT = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
               for part in ({"alg": "HS256", "typ": "JWT"}, {"sub": "42"})) + ".c2lnbmF0dXJlLXNpZ25hdHVyZQ"
CASES = {
    "Private Key": "-----BEGIN EC PRIVATE KEY-----",
    "AWS Access Key": f"aws_access_key_id = {AWS_KEY}",
    "JSON Web Token": f"auth ok for {JWT}",
    "Basic Auth Credentials": "connecting to postgres://app:q9Wm2vX7rT4k@db:5432/app",
    "Base64 High Entropy String": f"API_TOKEN={TOKEN}",
    "Hex High Entropy String": '"client_secret": "9f8e7d6c5b4a39281706f5e4d3c2b1a0"',
}
VALUES = (AWS_KEY, TOKEN, JWT, "q9Wm2vX7rT4k", "9f8e7d6c5b4a39281706f5e4d3c2b1a0")


@pytest.mark.parametrize(("detector", "line"), CASES.items(), ids=list(CASES))
def test_each_detector_fires_on_its_form(detector: str, line: str) -> None:
    assert line_detectors(line) == [detector]


@pytest.mark.parametrize("line", [
    'INFO: 127.0.0.1:51234 - "GET /api/v1/system/health HTTP/1.1" 200 OK',
    "request_id=3f2a9c4b5d6e7f8091a2b3c4d5e6f708 took 12 ms",  # high entropy, not a secret's key
    "PASSWORD=********", "see https://docs.example.org/auth", "sha256:" + "ab" * 32,
])
def test_ordinary_lines_are_quiet(line: str) -> None:
    assert line_detectors(line) == []


def test_hits_name_detector_place_and_line_never_the_value() -> None:
    hits = scan_lines(["starting", CASES["AWS Access Key"], "ready", CASES["JSON Web Token"]], "backend:app.log")
    assert [str(h) for h in hits] == ["backend:app.log line 2: AWS Access Key",
                                      "backend:app.log line 4: JSON Web Token"]


def test_scan_is_bounded_in_bytes_and_time() -> None:
    lines = ["x" * 99] * 100 + [CASES["AWS Access Key"]]
    assert scan_lines(lines, "log", max_bytes=5000) == []
    assert scan_lines(lines, "log", max_bytes=20000)
    with pytest.raises(ScanCut):
        scan_lines(["quiet"] * 1000, "log", deadline=time.monotonic() - 1)


def test_image_text_files_under_the_workdir_are_scanned() -> None:
    files = {
        "app/settings.py": f"DEBUG = False\nAWS = '{AWS_KEY}'\n".encode(),
        "app/keys/deploy.pem": b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY---",
        "usr/lib/python3/test_keys.py": f"KEY = '{AWS_KEY}'\n".encode(),  # outside the WORKDIR
        "app/big.txt": b"x\n" * 40000 + AWS_KEY.encode(),  # over the text-file bound
        "app/model.bin": b"\0\1\2" + AWS_KEY.encode(),  # not text
    }
    scan = scan_saved_image(_saved_image(files), "app:1", {}, max_file_bytes=1 << 20,
                            deadline=time.monotonic() + 30, text=TextScan(("/app",), 65536))
    assert [str(h) for h in scan.pattern_hits] == [
        "layer layer00 file /app/settings.py line 2: AWS Access Key",
        "layer layer00 file /app/keys/deploy.pem line 1: Private Key",
    ]
    assert scan.text_files == 2
    findings = check_image("app:1", ["backend"], (), {}, {}, SecretPolicy().is_secret_name, scan, 6)
    assert {f.control for f in findings} == {"SEC-07"} and len(findings) == 2
    assert "file /app/settings.py line 2: AWS Access Key (detect-secrets)" in findings[0].message
    assert all(AWS_KEY not in f.message for f in findings)


def test_process_arguments_and_healthchecks_are_pattern_scanned() -> None:
    facts = [ContainerFacts("worker", healthcheck=("CMD", "curl", "-f", f"http://ops:{TOKEN}@localhost/health"),
                            processes=(Process(7, ("python", "sync.py", f"--aws-key={AWS_KEY}")),))]
    found = check_commands_in_effect(facts, {}, SecretPolicy())
    text = "\n".join(f.message for f in found)
    assert "the healthcheck test holds a Basic Auth Credentials (detect-secrets)" in text
    assert "process 7" in text and "holds a AWS Access Key (detect-secrets)" in text
    assert all(value not in text for value in VALUES)


def test_text_detection() -> None:
    assert looks_like_text("héllo\n".encode()) and not looks_like_text(b"\x7fELF\0\0")


def test_a_file_reported_for_known_values_gets_no_detector_finding_too() -> None:
    files = {"app/.env": f"API_TOKEN={TOKEN}\n".encode()}
    scan = scan_saved_image(_saved_image(files), "app:1", {TOKEN: "API_TOKEN"}, max_file_bytes=1 << 20,
                            deadline=time.monotonic() + 30, text=TextScan(("/app",), 65536))
    assert scan.pattern_hits and scan.secret_files and scan.dotenv_files
    findings = check_image("app:1", ["backend"], (), {}, {}, SecretPolicy().is_secret_name, scan, 6)
    assert len(findings) == 2 and not any("detect-secrets" in f.message for f in findings)

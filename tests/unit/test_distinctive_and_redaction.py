"""Searches for distinctive values only (LOG-05, SEC-07) and the one redactor's value and
pattern rules (derived secrets, weak values redacted only as whole values)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit.test_checks_in_effect import _saved_image

from stackprobe.checks import SecretPolicy, check_passwords, check_secret_key, generate_secret
from stackprobe.checks.image_layers import scan_saved_image
from stackprobe.checks.in_effect import ContainerFacts, Process, check_commands_in_effect
from stackprobe.redact import Redactor, too_weak_to_redact
from stackprobe.suites.logs.test_log_secrets import secret_lines

POLICY = SecretPolicy()
WEAK_KEY = "a" * 48


# ---- distinctive values ------------------------------------------------------------------

def test_weak_secret_key_is_sec01s_finding_not_a_layer_match() -> None:
    (finding,) = check_secret_key({"SECRET_KEY": WEAK_KEY}, POLICY)
    assert finding.message.count("too weak to search for in images and logs") == 1
    assert not POLICY.is_distinctive(WEAK_KEY)
    strong = generate_secret()
    searched = {v: k for v, k in {WEAK_KEY: "SECRET_KEY", strong: "MYSQL_PASSWORD"}.items()
                if POLICY.is_distinctive(v)}
    # numpy's test data holds runs of "a": the weak key would match, the strong one does not.
    scan = scan_saved_image(_saved_image({"numpy/test_api.pyc": b"x" + WEAK_KEY.encode() * 2}), "img", searched,
                            max_file_bytes=4096, deadline=time.monotonic() + 30)
    assert scan.secret_files == []


def test_process_arguments_skip_weak_values() -> None:
    strong = generate_secret(24)
    secrets = {"ctfd-ctfd-ctfd": "MYSQL_PASSWORD", strong: "REDIS_PASSWORD"}
    facts = [ContainerFacts("app", processes=(
        Process(1, ("gunicorn", "--name", "ctfd-ctfd-ctfd")), Process(2, ("worker", strong))))]
    (finding,) = check_commands_in_effect(facts, secrets, POLICY)
    assert "process 2" in finding.message and "REDIS_PASSWORD" in finding.message
    assert strong not in finding.message


def test_log05_searches_distinctive_values_only() -> None:
    import stackprobe.redact as redact

    strong = generate_secret(24)
    saved = redact.REDACTOR
    redact.REDACTOR = Redactor()
    try:
        import stackprobe.suites.logs.test_log_secrets as log_secrets

        log_secrets.REDACTOR = redact.REDACTOR
        redact.REDACTOR.add(WEAK_KEY, "SECRET_KEY")
        redact.REDACTOR.add(strong, "MYSQL_PASSWORD")
        text = f"GET /static/{WEAK_KEY}.css\nconnect mysql password={strong}\n"
        (line,) = secret_lines("backend:app.log", text, POLICY.is_distinctive)
        assert line.startswith("backend:app.log:2: MYSQL_PASSWORD:") and strong not in line
    finally:
        redact.REDACTOR = saved
        log_secrets.REDACTOR = saved


# ---- redaction: weak values --------------------------------------------------------------

def test_short_secret_equal_to_names_is_redacted_only_as_a_whole_value() -> None:
    redactor = Redactor()
    redactor.add_environment({"MARIADB_PASSWORD": "ctfd", "MARIADB_DATABASE": "ctfd", "MARIADB_USER": "ctfd"})
    redactor.add_names(["ctfd", "db", "cache"])
    text = ("service ctfd in /srv/ctfd: MARIADB_PASSWORD=ctfd; {\"MARIADB_PASSWORD\": \"ctfd\"} "
            "mysql+pymysql://ctfd:ctfd@db/ctfd Authorization: Basic Y3RmZDpjdGZk")
    assert redactor.redact(text) == (
        "service ctfd in /srv/ctfd: MARIADB_PASSWORD=«redacted:MARIADB_PASSWORD»; "
        "{\"MARIADB_PASSWORD\": \"«redacted:MARIADB_PASSWORD»\"} "
        "mysql+pymysql://ctfd:«redacted:url-password»@db/ctfd Authorization: Basic «redacted:authorization»")


@pytest.mark.parametrize(("value", "why"), [
    ("ctfd", "shorter than 8"), ("20240101", "only digits"), ("backend-prod", "the same as a service"),
    ("password", "a common password"),
])
def test_too_weak_to_keep_secret_is_sec02s_finding(value: str, why: str) -> None:
    policy = POLICY.with_names(["backend-prod"], {"MYSQL_DATABASE": "app"})
    assert why in (too_weak_to_redact(value, policy.stack_names) or "")
    found = {f.subject: f.message for f in check_passwords({"MYSQL_PASSWORD": value}, policy)}
    if why != "a common password":  # a known default is reported as that, on its own
        assert "too weak to be kept secret in outputs" in found["MYSQL_PASSWORD"]
        assert value not in found["MYSQL_PASSWORD"]


def test_redact_obj_keeps_types() -> None:
    redactor = Redactor()
    secret = generate_secret()
    redactor.add(secret, "SECRET_KEY")
    skip = ("/x/test_a.py", 3, f"Skipped: no {secret}")
    cleaned = redactor.redact_obj(skip)
    assert isinstance(cleaned, tuple) and cleaned == ("/x/test_a.py", 3, "Skipped: no «redacted:SECRET_KEY»")
    assert isinstance(redactor.redact_obj({secret}), set)
    assert redactor.redact_obj(secret.encode()) == b"\xc2\xabredacted:SECRET_KEY\xc2\xbb"


# ---- redaction: derived secrets ----------------------------------------------------------

def _jwt(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    signature = base64.urlsafe_b64encode(b"x" * 32).decode().rstrip("=")
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"


_B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def derived_secrets(secret: str) -> dict[str, str]:
    """What is derived from `secret` and must never be shown, as real tools print it."""
    native = "*" + hashlib.sha1(hashlib.sha1(secret.encode()).digest()).hexdigest().upper()
    digest = hashlib.sha256(secret.encode()).digest()
    crypt64 = "".join(_B64[b % 64] for b in digest * 3)
    return {
        "mysql native": f"GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '{native}'",
        "caching_sha2": f"CREATE USER 'app'@'%' IDENTIFIED WITH 'caching_sha2_password' AS '$A$005${crypt64[:63]}'",
        "bcrypt": f"hash=$2b$12${crypt64[:53]}",
        "argon2": f"$argon2id$v=19$m=65536,t=3,p=4${base64.b64encode(digest[:16]).decode().rstrip('=')}$"
                  f"{base64.b64encode(digest).decode().rstrip('=')}",
        "scrypt": f"$scrypt$ln=16,r=8,p=1${base64.b64encode(digest[:16]).decode()}${base64.b64encode(digest).decode()}",
        "sha512-crypt": f"root:$6$rounds=5000${crypt64[:16]}${crypt64[16:102]}:19000:0:99999:7:::",
        "jwt": f"token={_jwt({'sub': secret[:8], 'k': secret})}",
        "private key": "-----BEGIN OPENSSH PRIVATE KEY-----\n" + base64.b64encode(digest * 4).decode()
                       + "\n-----END OPENSSH PRIVATE KEY-----",
        "authorization": f"Authorization: Bearer {secret}",
        "url": f"redis://:{secret}@cache:6379/0",
    }


def test_every_derived_secret_is_redacted() -> None:
    secret = generate_secret(24)
    redactor = Redactor()  # knows no value: the pattern rules alone
    for what, text in derived_secrets(secret).items():
        cleaned = redactor.redact(text)
        assert "«redacted:" in cleaned, what
        assert secret not in cleaned, what
        for token in text.replace("'", " ").replace("$", " ").replace("=", " ").split():
            if len(token) >= 20 and token != "caching_sha2_password":  # a plugin's name, not a secret
                assert token not in cleaned, (what, cleaned)


@settings(deadline=None, max_examples=60)  # zxcvbn decides which values are weak
@given(length=st.integers(16, 64), key=st.sampled_from(["SECRET_KEY", "MYSQL_PASSWORD", "API_TOKEN"]),
       context=st.sampled_from(["{}", "error: {} refused", "KEY={}", '{{"v": "{}"}}', "{}{}", "x{}y"]))
def test_no_generated_or_derived_secret_passes_the_redactor(length: int, key: str, context: str) -> None:
    secret = generate_secret(length)
    redactor = Redactor()
    redactor.add(secret, key)
    assert secret not in redactor.redact(context.format(secret, secret))
    for text in derived_secrets(secret).values():
        assert secret not in redactor.redact(text)
        assert redactor.redact(text) != text


@settings(deadline=None, max_examples=30)
@given(length=st.integers(16, 64), cut=st.integers(1, 40), data=st.data())
def test_no_generated_or_derived_secret_passes_any_output_writer(length: int, cut: int, data: st.DataObject) -> None:
    """The writers that bypass the reports (uncaptured streams, live logging) and evidence, which
    every report is written from: each redacts values and derived forms alike."""
    import logging

    from stackprobe.evidence import Evidence
    from stackprobe.outputs import RedactingFilter, RedactingStream
    from stackprobe.redact import REDACTOR

    secret = generate_secret(length)
    REDACTOR.add(secret, "SPX_PROPERTY_SECRET")
    derived = derived_secrets(secret)
    text = data.draw(st.sampled_from(sorted(derived.values()))) + f" and {secret}\n"

    sink = io.StringIO()
    stream = RedactingStream(sink)  # type: ignore[arg-type]
    for start in range(0, len(text), cut):  # written in pieces, as print() does
        stream.write(text[start:start + cut])
    stream.flush()
    record = logging.LogRecord("leak", logging.ERROR, __file__, 1, "%s", (text,), None)
    RedactingFilter().filter(record)
    evidence = Evidence()
    evidence.record("seen", {"lines": (text,), "raw": text.encode()})
    for output in (sink.getvalue(), record.getMessage(), json.dumps(evidence.as_dict(), default=repr)):
        assert secret not in output
        for token in text.replace("'", " ").replace("$", " ").replace("=", " ").split():
            if len(token) >= 20 and token != "caching_sha2_password":
                assert token not in output, output


def test_authorization_rule_keeps_known_labels_and_schemes() -> None:
    redactor = Redactor()
    secret = generate_secret(24)
    redactor.add(secret, "API_TOKEN")
    text = f"{{'authorization': 'Basic {secret}'}} Authorization: Bearer abc.def-ghi"
    assert redactor.redact(text) == ("{'authorization': 'Basic «redacted:API_TOKEN»'} "
                                     "Authorization: Bearer «redacted:authorization»")

"""Secret strength: entropy estimate, generator, SEC-01/02/03."""

from __future__ import annotations

import pytest

from stackprobe.checks import (
    SecretPolicy,
    check_bcrypt_rounds,
    check_passwords,
    check_secret_key,
    class_counts,
    estimate_entropy_bits,
    generate_secret,
)

POLICY = SecretPolicy()
STRONG = {
    "SECRET_KEY": "eqiDb2gsq6AK7ok5BHFTbw939hSqta4ELTrp8hXG2afNNun-bdZoXc_MUaGnD6H5",
    "MYSQL_ROOT_PASSWORD": "GUvTjMAt5_88eBRCnw_ReDzRLCeSsEKT",
    "MYSQL_PASSWORD": "NV1pVCpnuaaJvkapFYk67tBKwEbFOmJp",
    "REDIS_PASSWORD": "nr4BEFnqBn22SuSLiPOFf_HuAfHhMUpZ",
    "DASHSCOPE_API_KEY": "sk-4f0c2a9e7b1d48c6a3e5f7091b2d3c4e",
}


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("", 0, 0),
        ("a" * 32, 0, 1),
        ("ab" * 16, 0, 10),                      # repetition
        ("abcdefghijklmnopqrstuvwxyzabcdef", 0, 30),  # a run, then a repeat
        ("Password1!Password1!", 0, 70),         # a repeated chunk
        ("rootpassword", 0, 60),
        ("NV1pVCpnuaaJvkapFYk67tBKwEbFOmJp", 150, 210),
        (STRONG["SECRET_KEY"], 300, 420),
    ],
)
def test_entropy_estimate(value: str, low: float, high: float) -> None:
    assert low <= estimate_entropy_bits(value) <= high


def test_entropy_never_exceeds_brute_force() -> None:
    import math

    for value in ("Zx9", "hello world", STRONG["SECRET_KEY"], "é" * 3 + "a1"):
        pool = {"lower": 26, "upper": 26, "digit": 10, "symbol": 33, "other": 100}
        bound = len(value) * math.log2(sum(pool[c] for c in class_counts(value)))
        assert estimate_entropy_bits(value) <= bound + 1e-9


def test_class_counts() -> None:
    assert class_counts("aB3-é") == {"lower": 1, "upper": 1, "digit": 1, "symbol": 1, "other": 1}


def test_generate_secret_shape() -> None:
    secret = generate_secret()
    assert len(secret) == 48
    assert set(class_counts(secret)) >= {"lower", "upper", "digit"}
    assert set(secret) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    assert len({generate_secret() for _ in range(20)}) == 20
    assert len(generate_secret(1000)) == 1000
    with pytest.raises(ValueError):
        generate_secret(12)


# ---- SEC-01 ----------------------------------------------------------------------------

def test_sec01_strong_key_passes() -> None:
    assert check_secret_key(STRONG, POLICY) == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("your-secret-key-change-in-production-min-32-chars", "known default"),
        ("change-this-secret-key-in-production", "known default"),
        ("CHANGEME", "known default"),
        ("please-change-me-0b7f3c1a9e2d4f6a8b0c", "placeholder"),
        ("x" * 40, "placeholder"),
        ("Zq8vN2kLp4Rt7wXy1Bc3Df5G", "24 characters, policy needs at least 32"),
        ("abcdefghijklmnopqrstuvwxyzabcdefghijkl", "bits of estimated entropy"),
        ("98437520983475029834750298347502983", "1 character class (35 digit)"),
        ("", "empty or missing"),
    ],
)
def test_sec01_failures_say_why_without_the_value(value: str, reason: str) -> None:
    (finding,) = check_secret_key({"SECRET_KEY": value}, POLICY)
    assert finding.control == "SEC-01" and finding.subject == "SECRET_KEY"
    assert finding.message.startswith("SECRET_KEY: ") and reason in finding.message
    assert not value or value not in finding.message


def test_sec01_missing_key_fails() -> None:
    (finding,) = check_secret_key({}, POLICY)
    assert "empty or missing" in finding.message


def test_template_values_become_known_defaults() -> None:
    # (a template of English words would fail on its own now: a phrase; a random one passes)
    policy = POLICY.with_defaults(["acme-zq8rt2vlx9kw4mnp7yb3hc6jd1fg5ss0aaqe", None, ""])
    value = "Acme-Zq8rT2vLx9Kw4mNp7Yb3Hc6Jd1Fg5Ss0AaQe"
    assert check_secret_key({"SECRET_KEY": value}, POLICY) == []
    assert check_secret_key({"SECRET_KEY": value}, policy)


# ---- SEC-02 ----------------------------------------------------------------------------

def test_sec02_strong_distinct_passwords_pass() -> None:
    assert check_passwords(STRONG, POLICY) == []


def test_sec02_weak_and_default_passwords() -> None:
    values = STRONG | {"MYSQL_ROOT_PASSWORD": "rootpassword", "REDIS_PASSWORD": "Xk9mQ2vL7pRt"}
    findings = {f.subject: f.message for f in check_passwords(values, POLICY)}
    assert set(findings) == {"MYSQL_ROOT_PASSWORD", "REDIS_PASSWORD"}
    assert "known default" in findings["MYSQL_ROOT_PASSWORD"]
    assert "12 characters, policy needs at least 16" in findings["REDIS_PASSWORD"]
    assert not any(v in m for m in findings.values() for v in ("rootpassword", "Xk9mQ2vL7pRt"))


def test_sec02_reuse_names_both_keys() -> None:
    values = STRONG | {"REDIS_PASSWORD": STRONG["MYSQL_PASSWORD"]}
    (finding,) = check_passwords(values, POLICY)
    assert finding.control == "SEC-02"
    assert "MYSQL_PASSWORD and REDIS_PASSWORD have the same value" in finding.message
    assert STRONG["MYSQL_PASSWORD"] not in finding.message


def test_sec02_password_equal_to_secret_key_is_reuse() -> None:
    key = STRONG["SECRET_KEY"]
    (finding,) = check_passwords(STRONG | {"MYSQL_ROOT_PASSWORD": key}, POLICY)
    assert finding.subject == "SECRET_KEY+MYSQL_ROOT_PASSWORD"


def test_sec02_api_key_placeholder() -> None:
    (finding,) = check_passwords(STRONG | {"DASHSCOPE_API_KEY": "your-dashscope-api-key"}, POLICY)
    assert finding.subject == "DASHSCOPE_API_KEY"
    assert check_passwords(STRONG | {"DASHSCOPE_API_KEY": ""}, POLICY) == []


def test_sec02_secret_key_list_is_configurable() -> None:
    policy = SecretPolicy(password_keys=("DB_PASS",), other_secret_keys=())
    (finding,) = check_passwords({"DB_PASS": "short"}, policy)
    assert finding.subject == "DB_PASS"
    assert policy.is_secret_name("SMTP_PASSWORD") and policy.is_secret_name("DB_PASS")
    assert not policy.is_secret_name("MYSQL_USER")


# ---- SEC-03 ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "expected"),
    [("12", None), ("14", None), (" 12 ", None), ("", None),
     ("10", "BCRYPT_ROUNDS is 10; policy needs at least 12"),
     ("twelve", "BCRYPT_ROUNDS is 'twelve'; expected an integer"),
     ("40", "bcrypt accepts at most 31")],
)
def test_sec03_bcrypt_rounds(value: str, expected: str | None) -> None:
    findings = check_bcrypt_rounds({"BCRYPT_ROUNDS": value}, POLICY)
    if expected is None:
        assert findings == []
    else:
        (finding,) = findings
        assert finding.control == "SEC-03" and expected in finding.message


def test_catalogue_text_quotes_no_known_default() -> None:
    """The catalogue is printed into every report: quoting the seed's defaults there would put
    a known password into the auditor's files (and trip every leak scanner that reads them)."""
    from stackprobe import catalogue
    from stackprobe.checks.secrets import SEED_DEFAULTS

    quoted = [(c.id, value) for c in catalogue.CONTROLS for value in SEED_DEFAULTS
              if value in f"{c.title} {c.why} {c.fix}".lower()]
    assert quoted == []

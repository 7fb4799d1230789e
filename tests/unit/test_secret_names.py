"""Which keys hold secrets: by name and by value, one judgement for SEC-04, SEC-07, LOG-05 and the
redactor (stackprobe.secret_names). The cases are those a real FastAPI + MySQL project gave:
`ACCESS_TOKEN_EXPIRE_DAYS:-7` was a SEC-04 finding and `TONGYI_MAX_TOKENS=2000` a secret, so LOG-05
failed on MariaDB's `20000` and the redactor rewrote every `2000`."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackprobe.checks.compose_fallbacks import check_fallback_defaults, check_literal_secrets
from stackprobe.checks.policies import secret_policy
from stackprobe.checks.secret_exposure import check_secrets_in_commands, collect_secret_values
from stackprobe.checks.secrets import SecretPolicy, generate_secret
from stackprobe.profile import load_profile
from stackprobe.redact import Redactor
from stackprobe.secret_names import DEFAULT_NAMES, SecretNames, plain_value
from stackprobe.suites.logs.test_log_secrets import secret_lines

POLICY = SecretPolicy()


@pytest.mark.parametrize(("key", "value"), [
    ("ACCESS_TOKEN_EXPIRE_DAYS", "7"), ("ACCESS_TOKEN_EXPIRE_DAYS", None),
    ("ACCESS_TOKEN_EXPIRE_MINUTES", "30"), ("TONGYI_MAX_TOKENS", "2000"), ("TONGYI_MAX_TOKENS", None),
    ("JWT_TOKEN_TTL", "3600"), ("SESSION_TOKEN_TIMEOUT", "30s"), ("API_TOKEN", "7d"),
    ("AUTH_ENABLED", "true"), ("REQUIRE_AUTH", "off"), ("AUTH_URL", "https://auth.example.com/oauth"),
    ("AUTH_HOST", "auth"), ("AUTH_PORT", "8443"), ("MYSQL_PASSWORD_FILE", "/run/secrets/db"),
    ("MYSQL_ALLOW_EMPTY_PASSWORD", "yes"), ("MYSQL_RANDOM_ROOT_PASSWORD", "1"),
    ("MARIADB_RANDOM_ROOT_PASSWORD", "yes"), ("PASSWORD_MIN_LENGTH", "12"), ("BASIC_AUTH_USER", "admin"),
    ("MYSQL_USER", "app"), ("DATABASE_URL", "https://db.example.com/"),
    # PASS, PW, PWD only as words of their own
    ("BYPASS_CACHE", "x" * 20), ("PASSTHROUGH_MODE", "x" * 20), ("POWER_LEVEL", "x" * 20), ("PW_HASH_ROUNDS", "12"),
])
def test_non_secret_shapes(key: str, value: str | None) -> None:
    assert not POLICY.is_secret_name(key, value)


@pytest.mark.parametrize(("key", "value"), [
    ("MYSQL_ROOT_PASSWORD", "Zq8-long-random"), ("MARIADB_PASSWORD", "ctfd"), ("SECRET_KEY", None),
    ("JWT_SECRET", "abc"), ("DASHSCOPE_API_KEY", "sk-1234"), ("REDIS_PASSWORD", "12345678"),
    ("OAUTH_CLIENT_SECRET", None), ("CACHE_AUTH_URL", "redis://:hunter2@cache:6379/0"),
    ("CALLBACK_TOKEN_URL", "https://hooks.example.com/x?token=abc"), ("GITHUB_TOKEN", "ghp_abc"),
    # the profile's named keys count whatever their shape or value
    ("SECRET_KEY", "7"),
    # the abbreviations operators write
    ("NOTES_DB_PW", "change-me"), ("DB_PASS", "hunter2"), ("SMTP_PWD", "x"), ("SSH_KEY_PASSPHRASE", "x"),
    ("DB_PW", "20000"),
])
def test_secrets(key: str, value: str | None) -> None:
    assert POLICY.is_secret_name(key, value)


def test_the_profile_overrides_both_patterns(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[secrets]\nnot_secret_pattern = "(?:^|_)MAX(?=_|$)"\nother_secret_keys = ["SIGNING_SEED"]\n'
                    'secret_name_pattern = "PASSWORD|TOKEN|SEED"\n')
    policy = secret_policy(load_profile(path).secrets)
    assert not policy.is_secret_name("TONGYI_MAX_TOKENS")
    assert policy.is_secret_name("ACCESS_TOKEN_EXPIRE_DAYS")  # EXPIRE is no longer a non-secret word
    assert not policy.is_secret_name("ACCESS_TOKEN_EXPIRE_DAYS", "7")  # a number still is no secret
    assert policy.is_secret_name("SIGNING_SEED", "7")
    # the redactor judges by the same policy once the plugin hands it over
    redactor = Redactor()
    redactor.judge_names_by(policy.names)
    redactor.add_environment({"API_SECRET": "not-a-name-the-profile-knows", "APP_SEED": "distinctive-seed-1"})
    assert redactor.redact("x not-a-name-the-profile-knows distinctive-seed-1") == \
        "x not-a-name-the-profile-knows «redacted:APP_SEED»"


def test_sec04_real_world_fallbacks_and_literals(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        "services:\n  api:\n    image: x\n    environment:\n"
        "      ACCESS_TOKEN_EXPIRE_DAYS: ${ACCESS_TOKEN_EXPIRE_DAYS:-7}\n"
        "      TONGYI_MAX_TOKENS: 2000\n"
        "      MARIADB_RANDOM_ROOT_PASSWORD: 'yes'\n"
        "      JWT_SECRET: ${JWT_SECRET:-dev-secret}\n"
        "      MARIADB_PASSWORD: ctfd\n")
    fallbacks = check_fallback_defaults([compose], POLICY)
    literals = check_literal_secrets([compose], POLICY)
    assert [f.subject for f in fallbacks] == ["docker-compose.yml:8"]  # JWT_SECRET's line only
    assert len(literals) == 1 and "MARIADB_PASSWORD" in literals[0].message


def test_the_redactor_learns_no_count_and_rewrites_no_number() -> None:
    redactor = Redactor()
    redactor.add_environment(["TONGYI_MAX_TOKENS=2000", "ACCESS_TOKEN_EXPIRE_DAYS=7",
                              "MYSQL_PASSWORD=Zq8-long-random-pw"])
    assert len(redactor) == 1
    line = "max_allowed_packet=20000 tokens 2000 TONGYI_MAX_TOKENS=2000 Zq8-long-random-pw"
    assert redactor.redact(line) == "max_allowed_packet=20000 tokens 2000 TONGYI_MAX_TOKENS=2000 " \
                                    "«redacted:MYSQL_PASSWORD»"


def test_log05_and_sec07_never_search_numbers() -> None:
    redactor = Redactor()
    redactor.add("20000000000000", "REDIS_PASSWORD")  # a long numeric password: weak, whole values only
    assert not POLICY.is_distinctive("20000000000000")
    assert secret_lines("db", "innodb 20000000000000 pages", POLICY.is_distinctive) == []
    values = collect_secret_values([{"REDIS_PASSWORD": "20000000000000", "TONGYI_MAX_TOKENS": "200000"}],
                                   POLICY.is_secret_name)
    assert values == {}
    model = {"services": {"db": {"command": "mysqld --max-connections 200000",
                                 "environment": {"TONGYI_MAX_TOKENS": "200000"}}}}
    assert check_secrets_in_commands(model, {"TONGYI_MAX_TOKENS": "200000"}, POLICY) == []


def test_the_reference_stacks_secrets_are_still_found() -> None:
    example = Path(__file__).parents[2] / ".env.example"
    keys = [line.split("=", 1)[0] for line in example.read_text().splitlines()
            if "=" in line and not line.startswith("#")]
    found = {k for k in keys if POLICY.is_secret_name(k, "x" * 20)}
    assert {"SECRET_KEY", "MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "REDIS_PASSWORD"} <= found


# ---- properties --------------------------------------------------------------------------

_WORDS = st.sampled_from(["APP", "DB", "MYSQL", "REDIS", "JWT", "ACCESS", "API", "OAUTH", "SMTP", "CLIENT"])
_SECRET_WORDS = st.sampled_from(["PASSWORD", "SECRET", "TOKEN", "API_KEY", "PRIVATE_KEY"])
_SHAPE_WORDS = st.sampled_from(["EXPIRE_DAYS", "MAX", "TTL", "TIMEOUT", "COUNT", "LIMIT", "ENABLED", "PORT",
                                "HOST", "FILE", "SECONDS", "LENGTH"])


@settings(deadline=None)  # a loaded machine is slow, not wrong
@given(_WORDS, _SECRET_WORDS, st.integers(min_value=0, max_value=10**9))
def test_numbers_durations_and_flags_are_never_secrets_unless_a_password(prefix: str, word: str, n: int) -> None:
    key = f"{prefix}_{word}"
    for value in (f"{n}s", f"{n}d", "true", "off"):
        assert not DEFAULT_NAMES.is_secret(key, value)
    assert DEFAULT_NAMES.is_secret(key, str(n)) == (word == "PASSWORD" and len(str(n)) >= 4)


@settings(deadline=None)  # a loaded machine is slow, not wrong
@given(_WORDS, _SECRET_WORDS, _SHAPE_WORDS)
def test_a_shape_word_makes_a_secret_name_a_setting(prefix: str, word: str, shape: str) -> None:
    assert DEFAULT_NAMES.is_secret(f"{prefix}_{word}")
    assert not DEFAULT_NAMES.is_secret(f"{prefix}_{word}_{shape}")
    # ... unless the profile names the key
    assert DEFAULT_NAMES.with_keys([f"{prefix}_{word}_{shape}"]).is_secret(f"{prefix}_{word}_{shape}", "7")


@settings(deadline=None)  # a loaded machine is slow, not wrong
@given(_WORDS, _SECRET_WORDS, st.text(alphabet="abcdefghXYZ0123456789-_", min_size=1, max_size=20))
def test_a_url_is_a_secret_exactly_when_it_carries_credentials(prefix: str, word: str, password: str) -> None:
    key = f"{prefix}_{word}"
    assert not DEFAULT_NAMES.is_secret(key, "https://svc.example.com:8443/path?x=1")
    assert DEFAULT_NAMES.is_secret(key, f"redis://user:{password}@cache:6379/0")


@settings(deadline=None)
@given(st.integers(), st.sampled_from(["s", "ms", "m", "h", "d", "w", "days", "seconds"]), st.booleans())
def test_numbers_durations_and_flags_are_plain_values(n: int, unit: str, flag: bool) -> None:
    assert plain_value(str(n)) and plain_value(f"{abs(n)}{unit}") and plain_value(str(flag).lower())
    assert not plain_value(f"{abs(n)}{unit}x9")  # not a duration any more


def test_generated_secrets_are_never_plain_values() -> None:
    assert not any(plain_value(generate_secret()) for _ in range(200))


def test_an_empty_not_secret_pattern_judges_by_name_alone() -> None:
    names = SecretNames(not_secret_pattern="")
    assert names.is_secret("TONGYI_MAX_TOKENS") and not names.is_secret("TONGYI_MAX_TOKENS", "2000")


@pytest.mark.parametrize(("key", "password"), [
    ("MYSQL_ROOT_PASSWORD", True), ("NOTES_ROOT_PW", True), ("DB_PASS", True), ("SMTP_PWD", True),
    ("SSH_KEY_PASSPHRASE", True), ("SECRET_KEY", False), ("API_TOKEN", False), ("BYPASS_CACHE", False),
])
def test_a_password_by_its_name(key: str, password: bool) -> None:
    from stackprobe.secret_names import is_password_name

    assert is_password_name(key) is password

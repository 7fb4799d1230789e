"""Property tests for the config checks (Hypothesis).

(a) every secret the suite's own generator makes passes SEC-01/SEC-02, without reuse;
(b) every known default, template value and too-short value fails;
(c) env files with arbitrary keys and values read the same in python-dotenv and compose,
    or compare_parsers names exactly the keys that differ: files the suite's own writer
    makes, and hand-written ones (unquoted `#`, `export `, quotes, empty values, `=`,
    unicode, multi-line values), which a parser may also reject in one clear line;
(d) no secret value of any generated env file appears in any finding.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stackprobe.checks import (
    ConfigInputError,
    EnvPolicy,
    SecretPolicy,
    check_bcrypt_rounds,
    check_fallback_defaults,
    check_passwords,
    check_production_flags,
    check_secret_key,
    check_secrets_in_commands,
    check_template_keys,
    check_unknown_keys,
    compare_parsers,
    compose_env_values,
    format_env_file,
    generate_secret,
    is_portable,
    parse_env_text,
    read_env_file,
    render_compose,
)

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = read_env_file(REPO / ".env.example")
POLICY = SecretPolicy().with_defaults(TEMPLATE.values.values())
PASSWORDS = POLICY.password_keys


def _strong_others(exclude: str) -> dict[str, str | None]:
    """Every secret strong and distinct, except `exclude`, which the test sets."""
    values: dict[str, str | None] = {key: generate_secret() for key in POLICY.secret_keys}
    values.pop(exclude, None)
    return values


# ---- (a) the generator's secrets pass -------------------------------------------------

@settings(deadline=None)  # zxcvbn's matcher: tens of ms per secret, more on a loaded machine
@given(length=st.integers(min_value=32, max_value=160))
def test_generated_secret_key_passes_sec01(length: int) -> None:
    secret = generate_secret(length)
    assert len(secret) == length
    assert check_secret_key({"SECRET_KEY": secret}, POLICY) == []


@settings(deadline=None)  # zxcvbn's matcher: tens of ms per secret, more on a loaded machine
@given(lengths=st.lists(st.integers(16, 96), min_size=len(PASSWORDS), max_size=len(PASSWORDS)))
def test_generated_passwords_pass_sec02_without_reuse(lengths: list[int]) -> None:
    values: dict[str, str | None] = {
        key: generate_secret(length) for key, length in zip(PASSWORDS, lengths, strict=True)
    }
    values["SECRET_KEY"] = generate_secret()
    values["DASHSCOPE_API_KEY"] = generate_secret(35)
    assert check_passwords(values, POLICY) == []
    assert check_secret_key(values, POLICY) == []


# ---- (b) defaults and short values fail -----------------------------------------------

KNOWN = sorted(POLICY.known_defaults)


@settings(deadline=None)  # zxcvbn's matcher: tens of ms per secret, more on a loaded machine
@given(value=st.sampled_from(KNOWN), key=st.sampled_from(PASSWORDS))
def test_every_known_default_fails(value: str, key: str) -> None:
    assert [f.control for f in check_secret_key({"SECRET_KEY": value}, POLICY)] == ["SEC-01"]
    values = _strong_others(key) | {key: value}
    assert key in {f.subject for f in check_passwords(values, POLICY)}


@settings(deadline=None)  # zxcvbn's matcher: tens of ms per secret, more on a loaded machine
@given(value=st.sampled_from(KNOWN).map(lambda v: v.upper() if len(v) % 2 else f"  {v} "))
def test_known_defaults_match_whatever_the_case_and_padding(value: str) -> None:
    assert check_secret_key({"SECRET_KEY": value}, POLICY)


@settings(deadline=None)  # zxcvbn's matcher: tens of ms per secret, more on a loaded machine
@given(value=st.text(max_size=POLICY.secret_key_min_length - 1))
def test_every_short_secret_key_fails(value: str) -> None:
    assert check_secret_key({"SECRET_KEY": value}, POLICY)


@settings(deadline=None)  # zxcvbn's matcher: tens of ms per secret, more on a loaded machine
@given(value=st.text(max_size=POLICY.password_min_length - 1), key=st.sampled_from(PASSWORDS))
def test_every_short_password_fails(value: str, key: str) -> None:
    values = _strong_others(key) | {key: value}
    assert key in {f.subject for f in check_passwords(values, POLICY)}


# ---- (c) python-dotenv and compose ---------------------------------------------------

# Keys the compose process's own environment holds (or compose sets) would win over the
# file: that is compose's documented precedence, not a parsing difference.
_RESERVED = {"PWD", "PATH", "HOME", "DOCKER_CONFIG"}
KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True).filter(
    lambda key: key not in os.environ
    and key not in _RESERVED
    and not key.upper().startswith(("COMPOSE_", "DOCKER_"))
)
# The characters that matter to env-file parsers, then anything (no lone surrogates:
# they cannot be written as UTF-8).
CHARS = st.one_of(
    st.sampled_from(list("\"'#= $\\{}\n\r\t`!:-")),
    st.characters(exclude_categories=["Cs"]),
)
VALUES = st.text(alphabet=CHARS, max_size=16)


@settings(max_examples=25, deadline=None)
@given(values=st.dictionaries(KEYS, VALUES, min_size=1, max_size=20), data=st.data())
def test_env_files_parse_the_same_or_the_difference_is_reported(
    values: dict[str, str], data: st.DataObject
) -> None:
    exported = frozenset(data.draw(st.sets(st.sampled_from(sorted(values)))))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ".env"
        path.write_text(format_env_file(values, exported), encoding="utf-8")
        dotenv = read_env_file(path).values
        compose = compose_env_values(path)
        reported = [line.split(":", 1)[0] for line in compare_parsers(path)]
    # The writer's contract: compose reads every value exactly, python-dotenv every
    # portable one; compare_parsers names exactly the keys where the two disagree.
    for key, value in values.items():
        assert compose.get(key) == value, key
        if is_portable(value):
            assert dotenv[key] == value, key
    assert sorted(reported) == sorted(k for k in values if dotenv[k] != compose.get(k))
    assert not {k for k, v in values.items() if is_portable(v)} & set(reported)


# Hand-written statements: what people type, not what the writer above produces.
_PLAIN = st.one_of(st.sampled_from(list("#= $\\{}!:-@/.,é日")), st.characters(categories=["L", "N"]))
_QUOTED = st.one_of(_PLAIN, st.sampled_from(["\n", "'", '"', "\\n"]))


@st.composite
def _statement(draw: st.DrawFn, key: str) -> tuple[str, str]:
    """One `KEY=value` statement in a hand-written style, and the value text it was made from."""
    style = draw(st.sampled_from(["plain", "single", "double", "empty", "bare"]))
    export = draw(st.sampled_from(["", "export "]))
    equals = draw(st.sampled_from(["=", " = ", "= "]))
    comment = draw(st.sampled_from(["", " # a note", "\t#x"]))
    if style == "bare":
        return f"{export}{key}\n", ""
    if style == "empty":
        return f"{export}{key}={comment}\n", ""
    if style == "plain":
        value = draw(st.text(_PLAIN, max_size=12))
        return f"{export}{key}{equals}{value}{comment}\n", value
    quote = "'" if style == "single" else '"'
    value = draw(st.lists(_QUOTED, max_size=12).map("".join).filter(
        lambda v: quote not in v and not v.endswith("\\") and (quote == "'" or "\\" not in v.replace("\\n", ""))))
    return f"{export}{key}{equals}{quote}{value}{quote}{comment}\n", value


@st.composite
def _hand_written(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    keys = draw(st.lists(KEYS, min_size=1, max_size=8, unique=True))
    made = {key: draw(_statement(key)) for key in keys}
    return "".join(text for text, _ in made.values()), {key: value for key, (_, value) in made.items()}


def _shown_value(value: str) -> bool:
    """Long and particular enough that finding it in a message means it leaked."""
    return len(value) >= 6 and bool(re.search(r"\d", value)) and bool(re.search(r"[^\W\d_]", value))


@settings(max_examples=20, deadline=None)
@given(written=_hand_written())
def test_hand_written_env_files_parse_the_same_or_the_difference_is_reported(
    written: tuple[str, dict[str, str]],
) -> None:
    text, values = written
    secrets = [v for v in values.values() if _shown_value(v)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ".env"
        path.write_text(text, encoding="utf-8")
        try:
            dotenv = read_env_file(path).values
            compose = compose_env_values(path)
        except ConfigInputError as error:  # bad input: one line, no value
            assert "\n" not in str(error) and not [v for v in secrets if v in str(error)], str(error)
            return
        lines = compare_parsers(path)
    differ = sorted(k for k in {*values, *dotenv, *compose} if dotenv.get(k) != compose.get(k))
    assert sorted(line.split(":", 1)[0] for line in lines) == differ, (text, lines)
    assert not [v for v in secrets if any(v in line for line in lines)]


# ---- (d) no secret value in any finding -----------------------------------------------

# Secret values with a letter and a digit, 8+ characters: shorter or plainer ones could
# coincide with ordinary words of a message without being leaked.
SECRETS = st.one_of(
    st.sampled_from(KNOWN),
    st.text(min_size=8, max_size=40),
    st.integers(16, 64).map(generate_secret),
).filter(lambda v: any(c.isalpha() for c in v) and any(c.isdigit() for c in v))
REFERENCE_MODEL = render_compose(
    [REPO / "docker-compose.yml"], REPO / "tests" / "defects" / "config" / "good" / "env", REPO
)


@settings(max_examples=150, deadline=None)
@given(
    secrets=st.fixed_dictionaries({key: SECRETS for key in POLICY.secret_keys}),
    reuse=st.booleans(),
    extra=st.dictionaries(
        st.from_regex(r"[A-Z][A-Z_]{2,12}(PASSWORD|TOKEN|SECRET)", fullmatch=True), SECRETS,
        max_size=3,
    ),
)
def test_no_secret_value_in_any_finding(
    secrets: dict[str, str], reuse: bool, extra: dict[str, str]
) -> None:
    if reuse:
        secrets["REDIS_PASSWORD"] = secrets["MYSQL_PASSWORD"]
    values = {key: value or "" for key, value in TEMPLATE.values.items()} | secrets | extra
    values["BCRYPT_ROUNDS"] = "10"
    values["DEBUG"] = "True"
    env = parse_env_text(format_env_file(values), Path(".env"))
    policy = EnvPolicy()
    findings = (
        check_template_keys(env, TEMPLATE, policy)
        + check_unknown_keys(env, TEMPLATE, policy)
        + check_production_flags(env, policy)
        + check_secret_key(env.values, POLICY)
        + check_passwords(env.values, POLICY)
        + check_bcrypt_rounds(env.values, POLICY)
        + check_secrets_in_commands(REFERENCE_MODEL, env.values, POLICY)
    )
    # A compose model and file that put the secrets where they must not be.
    root, redis = secrets["MYSQL_ROOT_PASSWORD"], secrets["REDIS_PASSWORD"]
    leaky = {"services": {
        "mysql": {"healthcheck": {"test": ["CMD", "mysqladmin", "ping", f"-p{root}"]}},
        "redis": {"command": ["redis-server", "--requirepass", redis],
                  "build": {"args": {"TOKEN": secrets["SECRET_KEY"]}}},
    }}
    findings += check_secrets_in_commands(leaky, env.values, POLICY)
    with tempfile.TemporaryDirectory() as tmp:
        compose_file = Path(tmp) / "compose.yml"
        compose_file.write_text(
            "services:\n  mysql:\n    environment:\n"
            + "".join(f"      {key}: '${{{key}:-{value.replace(chr(39), '')}}}'\n"
                      # (YAML, compose's as PyYAML's, refuses control characters in a file)
                      for key, value in secrets.items() if "}" not in value and value.isprintable()),
            encoding="utf-8",
        )
        findings += check_fallback_defaults([compose_file], POLICY)
    assert findings  # DEBUG and BCRYPT_ROUNDS at least
    for finding in findings:
        for value in (*secrets.values(), *extra.values()):
            if "${" not in value:
                assert value not in str(finding), finding.control

"""Env files: reading, compose's reading, ENV-01/02/03 and SEC-05 (no Docker engine)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from stackprobe.checks import (
    ConfigInputError,
    EnvFile,
    EnvPolicy,
    check_env_file_permissions,
    check_file_mode,
    check_production_flags,
    check_template_keys,
    check_unknown_keys,
    compare_parsers,
    compose_env_values,
    compose_variables,
    environment_overrides,
    format_env_file,
    read_env_file,
)

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = read_env_file(REPO / ".env.example")
GOOD = REPO / "tests" / "defects" / "config" / "good" / "env"


def _env(tmp_path: Path, text: str, name: str = ".env") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def _one_line(error: ConfigInputError, *names: str) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    for name in names:
        assert name in text
    return text


# ---- reading ---------------------------------------------------------------------------

def test_read_env_file_keeps_quotes_export_comments_and_multiline(tmp_path: Path) -> None:
    path = _env(tmp_path, (
        "# comment\n\nA=plain\nexport B='single # not a comment'\nC=\"two\nlines\"\n"
        "D=value # comment\nBARE\nE=${A}_x\n"
    ))
    env = read_env_file(path)
    assert env.values == {
        "A": "plain", "B": "single # not a comment", "C": "two\nlines", "D": "value",
        "BARE": None, "E": "plain_x",
    }
    assert env.lines == {"A": 3, "B": 4, "C": 5, "D": 7, "BARE": 8, "E": 9}
    assert env.get("BARE") == "" and env.get("MISSING") == ""


def test_env_file_repr_shows_no_values(tmp_path: Path) -> None:
    env = read_env_file(_env(tmp_path, "SECRET_KEY=hunter2hunter2\n"))
    assert "hunter2" not in repr(env)


def test_duplicates_are_recorded_and_the_last_wins(tmp_path: Path) -> None:
    env = read_env_file(_env(tmp_path, "A=1\nB=2\nA=3\n"))
    assert env.values["A"] == "3" and env.duplicates == {"A": (1, 3)}


def test_missing_env_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigInputError) as caught:
        read_env_file(tmp_path / "nope.env")
    assert "does not exist" in _one_line(caught.value, "nope.env")


def test_directory_instead_of_env_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigInputError) as caught:
        read_env_file(tmp_path)
    assert "is a directory" in _one_line(caught.value, str(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_env_file_is_one_line(tmp_path: Path) -> None:
    path = _env(tmp_path, "A=1\n")
    path.chmod(0)
    with pytest.raises(ConfigInputError) as caught:
        read_env_file(path)
    assert "not readable (permission denied): check its owner and mode" in _one_line(caught.value)


def test_permission_denied_is_one_line_even_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _env(tmp_path, "A=1\n")

    def denied(*_args: object, **_kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(ConfigInputError) as caught:
        read_env_file(path)
    assert str(caught.value) == (
        f"env file {path} is not readable (permission denied): check its owner and mode"
    )


def test_invalid_line_names_file_and_real_line(tmp_path: Path) -> None:
    # python-dotenv's own warning would say line 2 (it counts from the previous statement).
    path = _env(tmp_path, "A=1\n\n\nB='unterminated\nC=3\n")
    with pytest.raises(ConfigInputError) as caught:
        read_env_file(path)
    assert "line 4 cannot be parsed" in _one_line(caught.value, str(path))


def test_invalid_line_warning_does_not_reach_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ConfigInputError):
        read_env_file(_env(tmp_path, "SECRET KEY=abc\n"))
    assert not [r for r in caplog.records if r.name.startswith("dotenv")]


def test_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"A=\xff\xfe\n")
    with pytest.raises(ConfigInputError) as caught:
        read_env_file(path)
    assert "not valid UTF-8" in _one_line(caught.value, str(path))


# ---- compose's reading ---------------------------------------------------------------

def test_compose_reads_the_good_fixture_like_python_dotenv() -> None:
    assert compose_env_values(GOOD) == {k: v for k, v in read_env_file(GOOD).values.items() if v}
    assert compare_parsers(GOOD) == []


def test_known_differences_are_reported_by_key_and_never_by_value(tmp_path: Path) -> None:
    path = _env(tmp_path, (
        "A=pl41nval\n"
        "B=$A\n"                      # compose expands $VAR, python-dotenv only ${VAR}
        "C='${A}'\n"                  # python-dotenv expands in single quotes, compose not
        "D=\"x\\$y\"\n"               # compose reads \$ as $, python-dotenv keeps \$
        "E=${NOPE-fallbk}\n"        # python-dotenv knows only :-
        "F= #hsh\n"                  # python-dotenv: empty + comment; compose: "#hash"
        "G='bk\\\\zzq'\n"         # compose keeps \\ in single quotes
        "H=\"cr1f\r\nx\"\n"           # python-dotenv reads universal newlines
        "I=same\n"
        "a.b=d0tted\n"                # compose cannot interpolate ${a.b}
    ))
    lines = compare_parsers(path)
    assert [line.split(":", 1)[0] for line in lines] == [*"BCDEFGH", "a.b"]
    for secret_ish in ("pl41nval", "fallbk", "hsh", "zzq", "cr1f", "d0tted"):
        assert not any(secret_ish in line for line in lines)
    assert "not a variable name" in lines[-1]


def test_compose_rejects_what_python_dotenv_accepts(tmp_path: Path) -> None:
    # A single-quoted key is fine for python-dotenv, an error for compose; the offending
    # line (which may hold a secret) is not quoted back.
    path = _env(tmp_path, "'QUOTED'=s3cr3t-value\n")
    assert read_env_file(path).values == {"QUOTED": "s3cr3t-value"}
    with pytest.raises(ConfigInputError) as caught:
        compose_env_values(path)
    text = _one_line(caught.value, str(path), "line 1")
    assert "s3cr3t" not in text and "docker compose rejects" in text


def test_compose_probe_ignores_the_callers_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPX_PROBE_KEY", "from-shell")
    path = _env(tmp_path, "SPX_PROBE_KEY=from-file\n")
    assert compose_env_values(path) == {"SPX_PROBE_KEY": "from-file"}
    overrides = environment_overrides(read_env_file(path))
    assert overrides == [
        "SPX_PROBE_KEY: set in the environment running compose, which overrides the env file"
    ]


def test_writer_round_trips_through_both_parsers(tmp_path: Path) -> None:
    values = {"A": "", "B": "a b", "C": 'q"q', "D": "it's", "E": "$x", "F": "#x", "G": "é\n\t"}
    path = _env(tmp_path, format_env_file(values, frozenset({"B"})))
    assert path.read_text().splitlines()[1] == 'export B="a b"'
    assert read_env_file(path).values == values
    assert compose_env_values(path) == values
    with pytest.raises(ValueError):
        format_env_file({"a.b": "x"})


# ---- ENV-01 ----------------------------------------------------------------------------

def _parsed(tmp_path: Path, text: str) -> EnvFile:
    return read_env_file(_env(tmp_path, text))


def test_env01_missing_and_empty_keys(tmp_path: Path) -> None:
    good = GOOD.read_text()
    text = good.replace("MYSQL_USER=ai_user\n", "")
    text = text.replace("LOG_FILE=/app/logs/app.log", "LOG_FILE=")
    findings = check_template_keys(_parsed(tmp_path, text), TEMPLATE, EnvPolicy())
    assert {(f.control, f.subject) for f in findings} == {
        ("ENV-01", "MYSQL_USER"), ("ENV-01", "LOG_FILE"),
    }
    assert any("missing" in f.message for f in findings)
    assert any("present but empty (line" in f.message for f in findings)


def test_env01_optional_keys_may_be_empty(tmp_path: Path) -> None:
    text = GOOD.read_text().replace("LOG_FILE=/app/logs/app.log", "LOG_FILE=")
    policy = EnvPolicy(optional_keys=frozenset({"LOG_FILE"}))
    assert check_template_keys(_parsed(tmp_path, text), TEMPLATE, policy) == []


# ---- ENV-02 ----------------------------------------------------------------------------

def test_env02_unknown_key_with_suggestion(tmp_path: Path) -> None:
    env = _parsed(tmp_path, GOOD.read_text() + "MYSQL_PASWORD=x\nmysql_user=y\nWHATEVER=z\n")
    findings = {f.subject: f.message for f in check_unknown_keys(env, TEMPLATE, EnvPolicy())}
    assert set(findings) == {"MYSQL_PASWORD", "mysql_user", "WHATEVER"}
    assert findings["MYSQL_PASWORD"].endswith("did you mean MYSQL_PASSWORD?")
    assert findings["mysql_user"].endswith("did you mean MYSQL_USER?")
    assert "did you mean" not in findings["WHATEVER"]


def test_env02_compose_variables_and_compose_settings_are_known(tmp_path: Path) -> None:
    env = _parsed(tmp_path, GOOD.read_text() + "MYSQL_BIND=127.0.0.1\nCOMPOSE_PROJECT_NAME=x\n")
    variables = compose_variables([REPO / "docker-compose.yml"])
    assert "MYSQL_BIND" in variables and "REDIS_PASSWORD" in variables
    assert check_unknown_keys(env, TEMPLATE, EnvPolicy(), variables) == []
    assert [f.subject for f in check_unknown_keys(env, TEMPLATE, EnvPolicy())] == ["MYSQL_BIND"]


def test_env02_duplicate_keys(tmp_path: Path) -> None:
    env = _parsed(tmp_path, GOOD.read_text() + "SECRET_KEY=again-but-different-0123456789\n")
    (finding,) = check_unknown_keys(env, TEMPLATE, EnvPolicy())
    assert finding.subject == "SECRET_KEY" and "defined 2 times" in finding.message
    assert "again" not in finding.message


# ---- ENV-03 ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("lines", "subjects"),
    [
        ("ENVIRONMENT=production\nDEBUG=False\nLOG_LEVEL=INFO\n", []),
        ("ENVIRONMENT=production\nDEBUG=True\nLOG_LEVEL=INFO\n", ["DEBUG"]),
        ("ENVIRONMENT=production\nDEBUG=1\nLOG_LEVEL=debug\n", ["DEBUG", "LOG_LEVEL"]),
        ("ENVIRONMENT=production\nDEBUG=Flase\n", ["DEBUG"]),
        ("DEBUG=yes\n", ["DEBUG"]),  # unset ENVIRONMENT: compose's default is production
        ("ENVIRONMENT=development\nDEBUG=True\nLOG_LEVEL=DEBUG\n", []),
        ("ENVIRONMENT=production\nDEBUG=\nLOG_LEVEL=\n", []),  # compose defaults; ENV-01's job
    ],
)
def test_env03_production_flags(tmp_path: Path, lines: str, subjects: list[str]) -> None:
    findings = check_production_flags(_parsed(tmp_path, lines), EnvPolicy())
    assert [f.subject for f in findings] == subjects
    assert all(f.control == "ENV-03" and "production" in f.message for f in findings)


def test_env03_expected_environment(tmp_path: Path) -> None:
    policy = EnvPolicy(expected_environment="production")
    (finding,) = check_production_flags(_parsed(tmp_path, "ENVIRONMENT=staging\n"), policy)
    assert finding.subject == "ENVIRONMENT" and "'staging'" in finding.message


# ---- SEC-05 ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("mode", "problem"),
    [(0o600, None), (0o400, None), (0o640, "group"), (0o644, "group and others"),
     (0o604, "others"), (0o700, "execute")],
)
def test_sec05_modes(tmp_path: Path, mode: int, problem: str | None) -> None:
    path = _env(tmp_path, "A=1\n")
    path.chmod(mode)
    findings = check_env_file_permissions(path, EnvPolicy())
    if problem is None:
        assert findings == []
    else:
        (finding,) = findings
        assert finding.control == "SEC-05" and f"mode {mode:04o}" in finding.message
        assert f"gives {problem} access" in finding.message


def test_sec05_policy_may_allow_group_read() -> None:
    policy = EnvPolicy(env_file_max_mode=0o640, env_file_owners=("deploy",))
    assert check_file_mode("/srv/.env", stat.S_IFREG | 0o640, "deploy", policy) == []
    (finding,) = check_file_mode("/srv/.env", 0o640, "mallory", policy)
    assert "owned by 'mallory'; expected one of deploy" in finding.message


def test_sec05_default_owners_are_root_and_the_running_user() -> None:
    assert check_file_mode("/srv/.env", 0o600, "root", EnvPolicy()) == []
    (finding,) = check_file_mode("/srv/.env", 0o600, "nobody", EnvPolicy())
    assert finding.subject == "/srv/.env"


def test_sec05_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigInputError) as caught:
        check_env_file_permissions(tmp_path / "gone.env", EnvPolicy())
    _one_line(caught.value, "gone.env")

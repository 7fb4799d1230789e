"""The config suite's policies come from the profile ([config], [secrets]), and python-dotenv vs
compose differences reach the report. Direct wiring tests and runs of the config file suite on
fixture env files: `docker compose config` only, no Docker engine, no stack."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest
from support.stacks import SUITES, run_pytest

from stackprobe.checks import (
    ComposePolicy,
    ConfigInputs,
    EnvPolicy,
    SecretPolicy,
    check_config,
    generate_secret,
    policies,
    secret_policy,
)
from stackprobe.checks.in_effect import ContainerFacts, check_flags_in_effect, check_secrets_in_effect
from stackprobe.errors import StackprobeUsageError
from stackprobe.profile import ConfigSection, Profile, SecretsSection, load_profile

REPO = Path(__file__).resolve().parents[2]
GOOD = REPO / "tests" / "defects" / "config" / "good" / "env"
EXAMPLE = REPO / "profiles" / "production.example.toml"


def _env(tmp_path: Path, extra: str = "", drop: tuple[str, ...] = ()) -> Path:
    """The good fixture env file (mode 0600), without the `drop` keys, plus `extra` lines."""
    path = tmp_path / ".env"
    kept = [line for line in GOOD.read_text().splitlines(keepends=True)
            if not line.startswith(tuple(f"{key}=" for key in drop))]
    path.write_text("".join(kept) + extra, encoding="utf-8")
    path.chmod(0o600)
    return path


def _profile(tmp_path: Path, text: str) -> Profile:
    path = tmp_path / "profile.toml"
    path.write_text(text, encoding="utf-8")
    return load_profile(path)


def _inputs(env: Path) -> ConfigInputs:
    return ConfigInputs(env, REPO / ".env.example", [REPO / "docker-compose.yml"], project_dir=REPO)


# ---- the profile sections ------------------------------------------------------------------

def test_profile_defaults_are_the_built_in_policies() -> None:
    built_in = policies(Profile())
    assert (built_in.env, built_in.secrets, built_in.compose) == (EnvPolicy(), SecretPolicy(), ComposePolicy())


def test_every_config_and_secrets_key_is_documented_in_the_production_example() -> None:
    text = EXAMPLE.read_text()
    for name, section in (("config", ConfigSection), ("secrets", SecretsSection)):
        body = text.split(f"\n[{name}]", 1)[1].split("\n[", 1)[0]
        missing = [f.name for f in fields(section) if f"\n{f.name} = " not in body]
        assert not missing, f"[{name}] keys not documented in {EXAMPLE.name}: {missing}"
    loaded = load_profile(EXAMPLE)  # documented values are the defaults
    assert (loaded.config, loaded.secrets) == (ConfigSection(), SecretsSection())
    assert load_profile(REPO / "profiles" / "reference.toml").secrets == SecretsSection()


@pytest.mark.parametrize("text, expected", [
    ("[secrets]\nsecret_key_min_lenght = 40\n",
     "unknown key secrets.'secret_key_min_lenght' (did you mean secrets.'secret_key_min_length'?)"),
    ("[secrets]\npassword_min_length = \"20\"\n", "key secrets.password_min_length must be int"),
    ("[secrets]\nrequired_char_classes = [\"digits\"]\n", "secrets.required_char_classes names ['digits']"),
    ("[secrets]\nplaceholder_patterns = [\"(\"]\n", "secrets.placeholder_patterns '(' is not a valid regex"),
    ("[secrets]\nmin_bcrypt_rounds = 40\n", "secrets.min_bcrypt_rounds = 40 must be 4 to 31"),
    ("[config]\nenv_file_max_mode = 600\n", "config.env_file_max_mode = 1130 (octal) must be permission bits"),
])
def test_a_bad_secrets_or_config_key_is_one_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(StackprobeUsageError) as caught:
        _profile(tmp_path, text)
    assert expected in str(caught.value) and "profile.toml" in str(caught.value)


# ---- the thresholds change verdicts --------------------------------------------------------

def test_a_profile_threshold_makes_a_passing_secret_fail_the_file_checks(tmp_path: Path) -> None:
    inputs = _inputs(_env(tmp_path))
    assert check_config(inputs, policies(Profile())).findings == []
    strict = _profile(tmp_path, "[secrets]\nsecret_key_min_length = 80\npassword_min_length = 40\n")
    findings = check_config(inputs, policies(strict)).findings
    by_subject = {f.subject: f for f in findings}
    assert {f.control for f in findings} == {"SEC-01", "SEC-02"}
    assert "64 characters, policy needs at least 80 ([secrets] secret_key_min_length)" in (
        by_subject["SECRET_KEY"].message)
    assert "32 characters, policy needs at least 40 ([secrets] password_min_length)" in (
        by_subject["REDIS_PASSWORD"].message)


def test_an_ephemeral_copy_of_a_strict_profile_passes_its_own_policy(tmp_path: Path) -> None:
    """The env file an ephemeral run generates from the template meets the profile's [secrets]
    (longer than the default 48 characters, a symbol required), so the gate does not fail SEC-01/02
    on the copy it made itself."""
    from stackprobe.targets.envfiles import generated_from_template, write_env

    strict = _profile(tmp_path, '[secrets]\nsecret_key_min_length = 80\npassword_min_length = 64\n'
                                'required_char_classes = ["symbol"]\n')
    for _ in range(20):  # the symbol class is a 1-in-5 miss per 48 characters without the policy
        values = generated_from_template(REPO / ".env.example", secret_policy(strict.secrets))
        env = tmp_path / "generated.env"
        write_env(env, values)
        env.chmod(0o600)
        findings = [f for f in check_config(_inputs(env), policies(strict)).findings
                    if f.control in {"SEC-01", "SEC-02"}]
        assert findings == [], [f.message for f in findings]
        assert len(values["SECRET_KEY"]) >= 80 and len(values["MYSQL_PASSWORD"]) >= 80


def test_profile_classes_defaults_and_env_expectations_reach_the_file_checks(tmp_path: Path) -> None:
    # letters and digits only: strong by default, no symbol
    env = _env(tmp_path, "SECRET_KEY=eqiDb2gsq6AK7ok5BHFTbw939hSqta4ELTrp8hXG2afNNunbdZoXcMUaGnD6H5xy\n",
               drop=("SECRET_KEY",))
    assert check_config(_inputs(env), policies(Profile())).findings == []
    app_password = "NV1pVCpnuaaJvkapFYk67tBKwEbFOmJp"  # the fixture's MYSQL_PASSWORD
    profile = _profile(tmp_path, (
        '[secrets]\nrequired_char_classes = ["lower", "upper", "digit", "symbol"]\n'
        f'known_defaults = ["{app_password}"]\n'
        '[config]\nexpected_environment = "staging"\nenv_file_max_mode = 0o400\n'
    ))
    findings = check_config(_inputs(env), policies(profile)).findings
    messages = {(f.control, f.subject): f.message for f in findings}
    assert "no symbol characters; policy requires lower, upper, digit, symbol ([secrets] required_char_classes)" in (
        messages["SEC-01", "SECRET_KEY"])
    assert "known default" in messages["SEC-02", "MYSQL_PASSWORD"]
    assert "this target must run 'staging'" in messages["ENV-03", "ENVIRONMENT"]
    assert "expected at most 0400" in messages["SEC-05", str(env)]
    assert app_password not in str(findings)


def test_a_profile_threshold_changes_the_in_effect_verdict() -> None:
    key = generate_secret(40)
    facts = [ContainerFacts("backend", env={"SECRET_KEY": key, "ENVIRONMENT": "production", "DEBUG": "False"})]
    built_in = policies(Profile())
    env_policy, default = built_in.env, built_in.secrets
    assert check_secrets_in_effect(facts, default) == []
    strict = secret_policy(SecretsSection(secret_key_min_length=48))
    (finding,) = check_secrets_in_effect(facts, strict)
    assert finding.control == "SEC-01" and "([secrets] secret_key_min_length)" in finding.message
    assert key not in finding.message
    assert check_flags_in_effect(facts, env_policy) == []
    staging = policies(Profile(config=ConfigSection(expected_environment="staging"))).env
    assert [f.control for f in check_flags_in_effect(facts, staging)] == ["ENV-03"]


# ---- python-dotenv vs compose, in the report ------------------------------------------------

# Statements python-dotenv and compose read differently; the values are markers that must
# appear nowhere in the run's output. `$Qx9` is unset: compose expands it to nothing.
QUIRKS = {
    "MYSQL_DATABASE": "MYSQL_DATABASE=aidb_$Qx9mrk\n",            # non-secret: a note
    "LOG_FILE": "LOG_FILE='/app/logs\\\\w4rdzq.log'\n",           # compose keeps \\ in single quotes
    "DASHSCOPE_API_KEY": "DASHSCOPE_API_KEY=sk-7Hq2vX9pLm4$Rk8wNz\n",  # a secret: SEC-02 fails
}
MARKERS = ("aidb_", "Qx9mrk", "w4rdzq", "sk-7Hq2vX9pLm4", "Rk8wNz")


def test_parser_differences_are_evidence_and_a_secret_among_them_fails(tmp_path: Path) -> None:
    env = _env(tmp_path, "".join(QUIRKS.values()), drop=tuple(QUIRKS))
    result = check_config(_inputs(env), policies(Profile()))
    assert [d.key for d in result.parser_differences] == sorted(QUIRKS)
    assert [(f.control, f.subject) for f in result.findings] == [("SEC-02", "DASHSCOPE_API_KEY")]
    assert "python-dotenv and docker compose read different values" in result.findings[0].message
    shown = "\n".join([*result.parser_notes(), str(result.findings)])
    assert not [marker for marker in MARKERS if marker in shown]


def test_config_file_suite_reports_parser_differences_and_profile_thresholds(tmp_path: Path) -> None:
    env = _env(tmp_path, "".join(QUIRKS.values()), drop=tuple(QUIRKS))
    profile = tmp_path / "strict.toml"
    profile.write_text("[secrets]\nsecret_key_min_length = 80\n", encoding="utf-8")
    reports = tmp_path / "reports"
    run = run_pytest(f"{SUITES}/config/test_config_files.py", "--env-file", str(env), "--profile", str(profile),
                     report_dir=reports, timeout=120)
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, output[-3000:]
    failed = {control for control, status in run.statuses.items() if status != "passed"}
    assert failed == {"SEC-01", "SEC-02"}, run.statuses
    checks = {c: run.results["controls"][c]["checks"][0] for c in ("ENV-02", "SEC-01", "SEC-02")}
    # the profile's threshold, named in the verdict
    assert "policy needs at least 80 ([secrets] secret_key_min_length)" in checks["SEC-01"]["message"]
    # the differences: evidence on ENV-02 (which passes) and a warning in the terminal
    notes = checks["ENV-02"]["evidence"]["parser_differences"]
    assert [note.split(":", 1)[0] for note in notes] == sorted(QUIRKS)
    assert "DASHSCOPE_API_KEY: python-dotenv and docker compose read different values" in checks["SEC-02"]["message"]
    assert "ParserDifferenceWarning: ENV-02 note: python-dotenv and docker compose read 3 key(s)" in output
    # no value anywhere: terminal, results.json, every report file
    written = "".join(p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file())
    assert json.dumps(run.results)  # read back whole
    assert not [marker for marker in MARKERS if marker in output + written]

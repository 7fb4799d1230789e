"""A stack without an env file (values inline in compose) is a supported shape: SEC-01/02 judge the
values compose gives the services, SEC-04 flags literal secrets, ENV-01/02 and SEC-05 are not
applicable in one line, and compose renders with the shell's values of the variables it uses
(named as evidence). `docker compose config` only, no Docker engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackprobe.checks import ConfigInputError, ConfigInputs, check_config, policies
from stackprobe.checks.runner import ENV_FILE_CONTROLS, inline_environment
from stackprobe.profile import Profile, load_profile

COMPOSE = """\
name: inline
services:
  db:
    image: stackprobe/mariadb:10.11
    environment:
      MARIADB_ROOT_PASSWORD: "{root}"
      MARIADB_DATABASE: shop
      MARIADB_USER: shop
      MARIADB_PASSWORD: "{app}"
      MARIADB_AUTO_UPGRADE: "1"
    volumes: ["dbdata:/var/lib/mysql"]
    healthcheck: {{test: ["CMD", "mariadb-admin", "ping"], interval: 1s}}
    restart: unless-stopped
    logging: {{driver: json-file, options: {{max-size: 5m, max-file: "2"}}}}
  api:
    image: stackprobe/api:1
    environment:
      - DATABASE_URL=mysql+pymysql://shop:{app_url}@db/shop
      - SECRET_KEY={key}
      - ACCESS_TOKEN_EXPIRE_DAYS=7
      - TONGYI_MAX_TOKENS=2000
      - PUBLIC_PORT=${{PUBLIC_PORT:?set PUBLIC_PORT}}
    ports: ["127.0.0.1:${{PUBLIC_PORT}}:8000"]
    depends_on: {{db: {{condition: service_healthy}}}}
    healthcheck: {{test: ["CMD", "curl", "-fsS", "http://localhost:8000/healthcheck"], interval: 1s}}
    restart: unless-stopped
    logging: {{driver: json-file, options: {{max-size: 5m, max-file: "2"}}}}
volumes:
  dbdata:
"""
STRONG_ROOT = "k9_Vq2-wL8zR4nT7pX1mB6cJ"
STRONG_APP = "Zt5-Hq8wN3vL2xR9kP4sD7gF"
STRONG_KEY = "3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f0a"
PROFILE = """\
[services]
database = "db"
cache = "db"
backend = "api"

[secrets]
password_keys = ["MARIADB_ROOT_PASSWORD", "MARIADB_PASSWORD"]
other_secret_keys = []

[compose]
backend_data_dirs = []
cache_data_dirs = []

[config]
environment_key = ""
debug_key = ""
log_level_key = ""
"""


def _profile(tmp_path: Path) -> Profile:
    path = tmp_path / "profile.toml"
    path.write_text(PROFILE)
    return load_profile(path)


def _inputs(tmp_path: Path, shell: dict[str, str] | None, **values: str) -> ConfigInputs:
    given = {"root": STRONG_ROOT, "app": STRONG_APP, "app_url": STRONG_APP, "key": STRONG_KEY, **values}
    (tmp_path / "compose.yaml").write_text(COMPOSE.format(**given))
    return ConfigInputs(None, None, [tmp_path / "compose.yaml"], project_dir=tmp_path, shell=shell)


def _controls(tmp_path: Path, **values: str) -> dict[str, list[str]]:
    result = check_config(_inputs(tmp_path, {"PUBLIC_PORT": "18080", "HOME": "/root"}, **values),
                          policies(_profile(tmp_path)))
    found: dict[str, list[str]] = {}
    for finding in result.findings:
        found.setdefault(finding.control, []).append(finding.message)
    return found


def test_inline_values_are_judged_and_the_absence_is_one_line(tmp_path: Path) -> None:
    result = check_config(_inputs(tmp_path, {"PUBLIC_PORT": "18080", "HOME": "/root"}),
                          policies(_profile(tmp_path)))
    # the literal passwords in compose are SEC-04's (they belong in an env file), nothing else is
    assert {f.control for f in result.findings} == {"SEC-04"}, [str(f) for f in result.findings]
    assert sorted(f.message.split(" is set")[0].split(": ")[-1] for f in result.findings) == [
        "MARIADB_PASSWORD", "MARIADB_ROOT_PASSWORD", "SECRET_KEY"]
    assert result.no_env_file.startswith("not applicable: the stack has no env file")
    assert "\n" not in result.no_env_file and set(ENV_FILE_CONTROLS) == {"ENV-01", "ENV-02", "SEC-05"}
    # the shell's value of a variable compose interpolates is named (HOME is not one of them)
    assert result.from_shell == ["PUBLIC_PORT"]


def test_weak_inline_secrets_fail_sec01_and_sec02(tmp_path: Path) -> None:
    found = _controls(tmp_path, root="ctfd", app="ctfd", app_url="ctfd", key="dev")
    assert len(found["SEC-01"]) == 1 and "SECRET_KEY" in found["SEC-01"][0]
    sec02 = " | ".join(found["SEC-02"])
    assert "MARIADB_ROOT_PASSWORD" in sec02 and "MARIADB_PASSWORD" in sec02
    assert "ctfd" not in sec02 and "dev" not in found["SEC-01"][0].split(":", 1)[1].split(";")[0]


def test_a_shell_variable_the_file_needs_renders_as_the_stack_starts(tmp_path: Path) -> None:
    with pytest.raises(ConfigInputError, match="PUBLIC_PORT"):
        check_config(_inputs(tmp_path, {}), policies(_profile(tmp_path)))


def test_the_inline_environment_is_the_rendered_one(tmp_path: Path) -> None:
    from stackprobe.checks.compose_render import render_compose

    inputs = _inputs(tmp_path, None)
    model = render_compose(inputs.compose_files, None, tmp_path, environ={"PUBLIC_PORT": "1"})
    values = inline_environment(model)
    assert values["PUBLIC_PORT"] == "1" and values["MARIADB_PASSWORD"] == STRONG_APP


def test_the_config_suite_on_a_stack_without_an_env_file(tmp_path: Path) -> None:
    from support.stacks import SUITES, run_pytest

    (tmp_path / "compose.yaml").write_text(COMPOSE.format(root=STRONG_ROOT, app=STRONG_APP, app_url=STRONG_APP,
                                                          key=STRONG_KEY))
    profile = tmp_path / "profile.toml"
    profile.write_text(PROFILE.replace("[services]", f'[stack]\nproject_dir = "{tmp_path}"\n'
                                       'compose_files = ["compose.yaml"]\nenv_file = ""\nenv_template = ""\n\n'
                                       "[services]"))
    run = run_pytest(f"{SUITES}/config/test_config_files.py", "--profile", str(profile),
                     report_dir=tmp_path / "reports", env={"PUBLIC_PORT": "18080"}, timeout=120)
    output = run.stdout + run.stderr
    assert run.statuses, output[-3000:]
    assert {c for c, status in run.statuses.items() if status == "failed"} == {"SEC-04"}, run.statuses
    not_applicable = {c: run.results["controls"][c]["checks"][0]["message"] for c in ENV_FILE_CONTROLS}
    assert {c: run.statuses[c] for c in ENV_FILE_CONTROLS} == dict.fromkeys(ENV_FILE_CONTROLS, "not_applicable"), \
        not_applicable
    assert len(set(not_applicable.values())) == 1, not_applicable  # the one line, the same on each
    passed = {c for c, status in run.statuses.items() if status == "passed"}
    assert {"SEC-01", "SEC-02", "SEC-03", "SEC-06", "SEC-07", "CMP-01", "ENV-03"} <= passed, run.statuses
    sec01 = run.results["controls"]["SEC-01"]["checks"][0]
    assert sec01["evidence"]["variables_from_the_shell"] == ["PUBLIC_PORT"]
    # no check stopped on its input (a failed check's message may say "AssertionError": not that)
    assert "error" not in run.statuses.values() and "ConfigInputError" not in output, output[-3000:]


def test_hardening_file_checks_render_with_the_shell_as_the_config_checks_do(tmp_path: Path) -> None:
    """One rendering for every file check: the hardening suite's HRD file checks see the files as
    compose renders them when the stack starts (they errored on every control of a stack whose
    secrets come from the shell)."""
    from stackprobe.checks.hardening_runner import check_hardening_files
    from stackprobe.checks.policies import hardening_settings

    inputs = _inputs(tmp_path, {"PUBLIC_PORT": "18080"})
    model = inputs.render()
    assert model["services"]["api"]["ports"][0]["published"] == "18080"
    found = check_hardening_files(model, hardening_settings(_profile(tmp_path)), project_dir=tmp_path)
    assert found.findings, "an unhardened stack has hardening findings"
    with pytest.raises(ConfigInputError, match="PUBLIC_PORT"):
        _inputs(tmp_path, {}).render()

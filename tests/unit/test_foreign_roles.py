"""A profile that renames every service reaches every file check: roles (db, cache, api),
one-shot services and healthcheck bounds. `docker compose config` only, no Docker engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackprobe.checks import ConfigInputError, ConfigInputs, check_config, compose_policy, policies
from stackprobe.profile import Profile, load_profile

COMPOSE = """\
name: foreign
services:
  db:
    image: mariadb:10.11.8
    restart: always
    environment:
      MARIADB_ROOT_PASSWORD: ${DB_ROOT_PASSWORD:?}
      MARIADB_PASSWORD: ${DB_PASSWORD:?}
    volumes: [db_data:/var/lib/mysql]
    ports: ["${DB_BIND:-127.0.0.1}:13306:3306"]
    healthcheck: {test: ["CMD", "healthcheck.sh", "--connect"], interval: 5s, timeout: 3s, retries: 5}
    logging: {driver: json-file, options: {max-size: 5m, max-file: "2"}}
  cache:
    image: redis:7.2.4
    restart: always
    volumes: [cache_data:/data]
    healthcheck: {test: ["CMD", "redis-cli", "ping"], interval: 5s, timeout: 3s, retries: 5}
    logging: {driver: json-file, options: {max-size: 5m, max-file: "2"}}
  init:
    image: busybox:1.36.1
    command: ["chown", "-R", "1000", "/srv"]
    logging: {driver: json-file, options: {max-size: 1m, max-file: "1"}}
  api:
    image: example/api:2.3.1
    restart: always
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_healthy}
      init: {condition: service_completed_successfully}
    environment:
      DATABASE_URL: mysql+pymysql://app:${DB_PASSWORD:?}@db/app
      APP_SIGNING_KEY: ${APP_SIGNING_KEY:?}
    volumes: [uploads:/srv/uploads]
    healthcheck: {test: ["CMD", "wget", "-qO-", "http://localhost:5000/healthcheck"], interval: 20s,
                  timeout: 5s, retries: 3}
    logging: {driver: json-file, options: {max-size: 5m, max-file: "2"}}
volumes: {db_data: {}, cache_data: {}, uploads: {}}
"""

ENV = """\
DB_ROOT_PASSWORD=Wq8rT2vXk9LmNp4sZy7bHc3dFg6jQe5u
DB_PASSWORD=Vb7nM3kX9pLq2wRt8yZc4sDf6gHj5kLp
APP_SIGNING_KEY=Rk2mQ8vX4pLn7wZt9yBc3sDf6gHj5kLpAq1eWr0tYu8iOp3aSd5fGh7jKl9zXc2v
"""

PROFILE = """\
[services]
database = "db"
cache = "cache"
backend = "api"
[containers]
one_shot_services = ["init"]
healthcheck_max_interval_s = 30.0
[compose]
database_data_dirs = ["/var/lib/mysql"]
backend_data_dirs = ["/srv/uploads"]
[secrets]
secret_key = "APP_SIGNING_KEY"
password_keys = ["DB_ROOT_PASSWORD", "DB_PASSWORD"]
other_secret_keys = []
[config]
environment_key = ""
debug_key = ""
log_level_key = ""
"""


def _inputs(tmp_path: Path, compose: str = COMPOSE) -> ConfigInputs:
    (tmp_path / "compose.yaml").write_text(compose)
    env = tmp_path / ".env"
    env.write_text(ENV)
    env.chmod(0o600)
    template = tmp_path / ".env.template"
    template.write_text("".join(f"{line.split('=')[0]}=change-me\n" for line in ENV.splitlines()))
    return ConfigInputs(env, template, [tmp_path / "compose.yaml"], project_dir=tmp_path)


def _profile(tmp_path: Path, extra: str = "") -> Profile:
    path = tmp_path / "profile.toml"
    path.write_text(PROFILE + extra)
    return load_profile(path)


def test_renamed_services_run_every_file_check_clean(tmp_path: Path) -> None:
    result = check_config(_inputs(tmp_path), policies(_profile(tmp_path)))
    assert result.findings == [], [str(f) for f in result.findings]


def test_the_reference_roles_on_a_renamed_stack_are_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigInputError, match=r"no service 'mysql' for the database role: set the profile's"):
        check_config(_inputs(tmp_path), policies(Profile()))


def test_roles_one_shot_and_bounds_from_the_profile_change_verdicts(tmp_path: Path) -> None:
    exposed = COMPOSE.replace("${DB_BIND:-127.0.0.1}:13306", "13306")
    findings = check_config(_inputs(tmp_path, exposed), policies(_profile(tmp_path))).findings
    assert [(f.control, f.subject) for f in findings] == [("SEC-06", "db")]
    assert "db publishes" in findings[0].message
    # without the one-shot declaration, `init` needs a restart policy and a healthcheck
    no_one_shot = policies(load_profile(_write(tmp_path, PROFILE.replace('one_shot_services = ["init"]', ""))))
    found = {(f.control, f.subject) for f in check_config(_inputs(tmp_path), no_one_shot).findings}
    assert found == {("CTR-02", "init"), ("CTR-03", "init")}
    # a healthcheck bound of 10 s makes the api's 20 s interval a finding
    tight = policies(load_profile(_write(tmp_path, PROFILE.replace("= 30.0", "= 10.0"))))
    found = {(f.control, f.subject) for f in check_config(_inputs(tmp_path), tight).findings}
    assert found == {("CTR-02", "api")}
    assert compose_policy(load_profile(_write(tmp_path, PROFILE))).roles.backend == "api"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "other.toml"
    path.write_text(text)
    return path

"""Docker secrets (`NAME_FILE` naming a file compose mounts): SEC-02 judges the secret file's
content under NAME, one secret is one value however many services name it, and `stackprobe init`
lists NAME among the passwords and as the variable the suite reads (from the file, in the
container)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from cli.test_cli import stackprobe

from stackprobe.checks import ConfigInputs, check_config, policies
from stackprobe.checks.docker_secrets import secret_files
from stackprobe.profile import load_profile

COMPOSE = """\
name: ledger
services:
  db:
    image: stackprobe/mariadb:10.11
    environment:
      MARIADB_ROOT_PASSWORD_FILE: /run/secrets/db_root_password
      MARIADB_USER: ledger
      MARIADB_DATABASE: ledger
      MARIADB_PASSWORD_FILE: /run/secrets/db_password
    secrets: [db_root_password, db_password]
    healthcheck: {test: ["CMD", "mariadb-admin", "ping"], interval: 1s}
    restart: unless-stopped
    logging: {driver: json-file, options: {max-size: 5m, max-file: "2"}}
  api:
    image: stackprobe/api:1
    environment:
      MYSQL_USER: ledger
      MYSQL_PASSWORD_FILE: /run/secrets/db_password
      REDIS_PASSWORD_FILE: /etc/app/cache.pw
      LOG_FILE: /var/log/api.log
    secrets: [db_password, {source: cache_password, target: /etc/app/cache.pw}]
    healthcheck: {test: ["CMD", "curl", "-fsS", "http://localhost:8000/healthz"], interval: 1s}
    restart: unless-stopped
    logging: {driver: json-file, options: {max-size: 5m, max-file: "2"}}
secrets:
  db_root_password: {file: ./secrets/root.txt}
  db_password: {file: ./secrets/app.txt}
  cache_password: {file: ./secrets/cache.txt}
"""
STRONG = {"root.txt": "k9_Vq2-wL8zR4nT7pX1mB6cJ\n", "app.txt": "Zt5-Hq8wN3vL2xR9kP4sD7gF\n",
          "cache.txt": "Wm4-Jr7yB2nQ8cT5vK3hX6zL\n"}
PROFILE = """\
[services]
database = "db"
cache = "db"
backend = "api"

[secrets]
password_keys = ["MARIADB_ROOT_PASSWORD", "MARIADB_PASSWORD", "REDIS_PASSWORD"]
other_secret_keys = []

[compose]
backend_data_dirs = []
cache_data_dirs = []

[config]
environment_key = ""
debug_key = ""
log_level_key = ""
"""


def _project(tmp_path: Path, **files: str) -> Path:
    (tmp_path / "secrets").mkdir(parents=True, exist_ok=True)
    for name, text in {**STRONG, **files}.items():
        (tmp_path / "secrets" / name).write_text(text)
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "profile.toml").write_text(PROFILE)
    return tmp_path


def _sec02(tmp_path: Path) -> list[str]:
    inputs = ConfigInputs(None, None, [tmp_path / "compose.yaml"], project_dir=tmp_path, shell={"HOME": "/root"})
    result = check_config(inputs, policies(load_profile(tmp_path / "profile.toml")))
    return [f.message for f in result.findings if f.control == "SEC-02"]


def test_each_secret_is_named_once_by_the_variable_it_stands_for(tmp_path: Path) -> None:
    from stackprobe.checks.compose_render import render_compose

    model = render_compose([_project(tmp_path) / "compose.yaml"], None, tmp_path, environ={"HOME": "/root"})
    found = {s.source: s.names for s in secret_files(model)}
    # db_password once, under both its names; a custom target is followed; LOG_FILE names no
    # secret and is never read
    assert found == {"db_password": ("MYSQL_PASSWORD", "MARIADB_PASSWORD"), "cache_password": ("REDIS_PASSWORD",),
                     "db_root_password": ("MARIADB_ROOT_PASSWORD",)}, found
    (app,) = (s for s in secret_files(model) if s.source == "db_password")
    assert (app.name(), app.name(["MARIADB_PASSWORD"])) == ("MYSQL_PASSWORD", "MARIADB_PASSWORD")


def test_strong_secret_files_pass_and_a_weak_one_fails_under_its_variable(tmp_path: Path) -> None:
    assert _sec02(_project(tmp_path)) == []
    weak = _sec02(_project(tmp_path, **{"root.txt": "password123\n"}))
    assert len(weak) == 1 and weak[0].startswith("MARIADB_ROOT_PASSWORD: "), weak
    assert "password123" not in weak[0]


def test_two_secrets_with_one_value_are_a_reuse(tmp_path: Path) -> None:
    reused = _sec02(_project(tmp_path, **{"cache.txt": STRONG["app.txt"]}))
    assert len(reused) == 1 and reused[0].startswith("MARIADB_PASSWORD and REDIS_PASSWORD have the same value"), reused


def test_init_names_the_variables_the_secrets_stand_for(tmp_path: Path) -> None:
    project = _project(tmp_path / "ledger")
    (project / "compose.yaml").write_text(textwrap.dedent(COMPOSE).replace(
        "  api:\n", "  cache:\n    image: redis:7.0\n    environment:\n      REDIS_PASSWORD_FILE: /run/secrets/"
        "cache_password\n    secrets: [cache_password]\n  api:\n", 1))
    out = tmp_path / "ledger.toml"
    done = stackprobe("init", "--compose-file", str(project / "compose.yaml"), "--output", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    p = load_profile(out)
    # the suite reads NAME from the file NAME_FILE names (targets: Target.variable)
    assert (p.database.password_env, p.database.root_password_env) == ("MARIADB_PASSWORD", "MARIADB_ROOT_PASSWORD")
    assert p.redis.password_env == "REDIS_PASSWORD"
    assert "a Docker secret: the service's MARIADB_PASSWORD_FILE names its file" in out.read_text()
    assert sorted(p.secrets.password_keys) == ["MARIADB_ROOT_PASSWORD", "MYSQL_PASSWORD", "REDIS_PASSWORD"]

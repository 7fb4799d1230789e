"""A foreign stack whose secrets are Docker secrets: no password in any environment.

`ledger` keeps every password in a file compose mounts (top-level `secrets:`), and each service
gets `NAME_FILE` naming it, as the official database images read them: the database's root and
app passwords (`MARIADB_*_FILE`), the cache's (a config file written from it at start), the app's
(`MYSQL_PASSWORD_FILE`, `REDIS_PASSWORD_FILE`, under names of its own). Its health is a small JSON
of its own (`{"status": "ok", "deps": {"db": "ok", ...}}`). `stackprobe init` writes the profile
(each password variable read from its secret file, the passwords SEC-02 judges), a user edits the
health contract and declares the parts the stack does not have. The config and smoke suites on an
ephemeral copy then judge every control they own, none fails: DB-01/02 and RDS-01/02 reach the
datastores with the secrets read in the containers, SEC-02 judges the secret files (in the files
and in effect), and no secret's value is in anything the run printed or wrote. A weak secret file
then fails SEC-02 under the variable it stands for, in the files and in effect.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tomllib
from pathlib import Path

import pytest
from support.foreign import init_profile
from support.stacks import SUITES, run_pytest

from e2e.test_foreign_inline import edit_profile

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]

COMPOSE = """\
services:
  db:
    image: ${MARIADB_IMAGE:-stackprobe/mariadb-standin:10.11}
    restart: unless-stopped
    environment:
      MARIADB_ROOT_PASSWORD_FILE: /run/secrets/db_root_password
      MARIADB_DATABASE: ledger
      MARIADB_USER: ledger
      MARIADB_PASSWORD_FILE: /run/secrets/db_password
    secrets: [db_root_password, db_password]
    volumes: ["dbdata:/var/lib/mysql"]
    networks: [back]
    healthcheck:
      test: ["CMD", "mysqladmin", "ping", "-h", "localhost"]
      interval: 1s
      timeout: 3s
      retries: 5
      start_period: 120s
    logging: {driver: json-file, options: {max-size: 5m, max-file: "2"}}
  cache:
    image: ${REDIS_IMAGE:-stackprobe/redis-standin:7.0}
    restart: unless-stopped
    # the password from its secret into a config file: never on a command line
    command: ["sh", "-c", "umask 077; printf 'requirepass %s\\\\nappendonly yes\\\\n'
              \\"$$(cat /run/secrets/cache_password)\\" > /tmp/redis.conf && exec redis-server /tmp/redis.conf"]
    environment:
      REDIS_PASSWORD_FILE: /run/secrets/cache_password
    secrets: [cache_password]
    volumes: ["cachedata:/data"]
    networks: [back]
    healthcheck:
      test: ["CMD-SHELL", "REDISCLI_AUTH=$$(cat /run/secrets/cache_password) redis-cli ping | grep -q PONG"]
      interval: 1s
      timeout: 3s
      retries: 5
      start_period: 60s
    logging: {driver: json-file, options: {max-size: 5m, max-file: "2"}}
  api:
    image: ${PYTHON_IMAGE:-stackprobe/python-standin:3.11}
    restart: unless-stopped
    command: ["python3", "-u", "/app/app.py"]
    environment:
      LEDGER_DB_HOST: db
      MYSQL_USER: ledger
      MYSQL_PASSWORD_FILE: /run/secrets/db_password
      REDIS_PASSWORD_FILE: /run/secrets/cache_password
    secrets: [db_password, cache_password]
    volumes: ["./app.py:/app/app.py:ro"]
    ports: ["127.0.0.1:${LEDGER_PORT:-18550}:8000"]
    networks: [back, front]
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_healthy}
    healthcheck:
      test: ["CMD", "python3", "-c",
             "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
      interval: 1s
      timeout: 3s
      retries: 5
      start_period: 60s
    logging: {driver: json-file, options: {max-size: 5m, max-file: "2"}}
secrets:
  db_root_password: {file: ./secrets/db_root_password.txt}
  db_password: {file: ./secrets/db_password.txt}
  cache_password: {file: ./secrets/cache_password.txt}
networks:
  back: {internal: true}
  front: {}
volumes:
  dbdata: {}
  cachedata: {}
"""

APP = '''\
"""ledger's health: the database's greeting and the cache's PONG, its secrets read from files."""
import datetime, http.server, json, os, socket, sys, threading

DB_HOST = os.environ["LEDGER_DB_HOST"]
CACHE_PASSWORD = open(os.environ["REDIS_PASSWORD_FILE"]).read().strip()
LOG = threading.Lock()


def database_up():
    with socket.create_connection((DB_HOST, 3306), timeout=1) as s:
        s.settimeout(1)
        return len(s.recv(64)) > 4


def cache_up():
    with socket.create_connection(("cache", 6379), timeout=1) as s:
        s.settimeout(1)
        s.sendall(f"AUTH {CACHE_PASSWORD}\\r\\nPING\\r\\n".encode())
        answer = b""
        while answer.count(b"\\r\\n") < 2:
            answer += s.recv(64) or b"\\r\\n\\r\\n"
        return answer.endswith(b"+PONG\\r\\n")


def state(check):
    try:
        return "ok" if check() else "down"
    except OSError:
        return "down"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] != "/healthz":
            body, code = b"{}", 404
        else:
            deps = {"db": state(database_up), "cache": state(cache_up)}
            ok = all(v == "ok" for v in deps.values())
            body = json.dumps({"status": "ok" if ok else "fail", "deps": deps,
                               "at": datetime.datetime.now(datetime.timezone.utc).isoformat()}).encode()
            code = 200 if ok else 503
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # one whole line at a time
        with LOG:
            sys.stdout.write(f"{self.address_string()} {fmt % args}\\n")
            sys.stdout.flush()


http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
'''

SECRETS = ("db_root_password", "db_password", "cache_password")

EDITS = {
    "stack": {"migrate_command": []},
    "health": {"required_fields": ["status", "deps", "at"], "status_field": "status", "healthy_value": "ok",
               "dependencies_field": "deps", "timestamp_field": "at", "dependencies": ["db", "cache"],
               "dependency_services": {"db": "db", "cache": "cache"}},
    "redis": {"persistence": "aof"},
    "chaos": {"freeze_dependencies": ["db"], "partition_dependencies": ["db"]},
    "absent": {"parts": ["metrics", "vector_store", "logrotate", "log_file", "signing_key", "api_writes",
                         "migrations"]},
    "logs": {"line_pattern": r'^\S+ (?P<message>"[^"]*" \d{3} \S+|code \d{3}, message .+)$'},
}


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    project = tmp_path_factory.mktemp("secrets") / "ledger"
    (project / "secrets").mkdir(parents=True)
    (project / "compose.yaml").write_text(COMPOSE)
    (project / "app.py").write_text(APP)
    values = {name: secrets.token_urlsafe(24) for name in SECRETS}
    for name, value in values.items():
        (project / "secrets" / f"{name}.txt").write_text(value + "\n")
    profile, written = init_profile(project, "compose.yaml")
    # every password variable is read from the secret its NAME_FILE names; SEC-02 judges each secret once
    assert (written["database"]["password_env"], written["database"]["root_password_env"],
            written["redis"]["password_env"]) == ("MARIADB_PASSWORD", "MARIADB_ROOT_PASSWORD", "REDIS_PASSWORD")
    assert sorted(written["secrets"]["password_keys"]) == ["MARIADB_ROOT_PASSWORD", "MYSQL_PASSWORD",
                                                           "REDIS_PASSWORD"], written["secrets"]
    edit_profile(profile, EDITS)
    return project, profile, values


def _run(project: Path, profile: Path, tmp_path: Path) -> tuple[dict[str, str], dict[str, object], str]:
    run = run_pytest(f"{SUITES}/config", f"{SUITES}/smoke", "--profile", str(profile),
                     report_dir=tmp_path / "reports", timeout=900)
    output = run.stdout + run.stderr
    assert run.statuses, output[-3000:]
    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "reports").rglob("*") if p.is_file())
    return run.statuses, run.results, output + written


def test_docker_secrets_are_read_where_the_stack_keeps_them(
        ledger: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    project, profile, values = ledger
    statuses, results, everything = _run(project, profile, tmp_path)
    wrong = {c: s for c, s in statuses.items() if s not in {"passed", "not_applicable"}}
    controls = results["controls"]
    assert isinstance(controls, dict)
    messages = {c: [ch.get("message", "")[:300] for ch in controls[c]["checks"]] for c in wrong}
    assert not wrong, (wrong, messages)
    for control in ("DB-01", "DB-02", "RDS-01", "RDS-02", "SEC-02"):
        assert statuses[control] == "passed", statuses
    # DB-02 read the app's account where the app reads it: its secret file, named as such
    (db02,) = controls["DB-02"]["checks"]
    assert db02["evidence"]["backend_connects_as"] == {
        "user": "ledger", "read_from": "backend environment MYSQL_USER",
        "password_from": "backend secret file MYSQL_PASSWORD_FILE=/run/secrets/db_password"}, db02
    # no secret's value in anything the run printed or wrote
    assert not [name for name, value in values.items() if value in everything]


def test_a_weak_secret_file_fails_sec02_under_its_variable(
        ledger: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    project, profile, values = ledger
    weak = tmp_path / "ledger"
    shutil.copytree(project, weak)
    (weak / "secrets" / "db_password.txt").write_text("ledger2024\n")
    moved = tmp_path / "weak.toml"
    moved.write_text(profile.read_text())
    settings = tomllib.loads(profile.read_text())
    edit_profile(moved, {"stack": {**settings["stack"], "project_dir": str(weak),
                                   "compose_files": [str(weak / "compose.yaml")]}})
    run = run_pytest(f"{SUITES}/config/test_config_files.py", f"{SUITES}/config/test_config_in_effect.py",
                     "--profile", str(moved), "-k", "SEC-02", report_dir=tmp_path / "reports", timeout=600)
    assert run.statuses.get("SEC-02") == "failed", (run.stdout + run.stderr)[-3000:]
    said = json.dumps([ch.get("message", "") for ch in run.results["controls"]["SEC-02"]["checks"]])
    # both the files and the containers see it, under the variable the secret stands for
    assert said.count("MYSQL_PASSWORD") >= 2 or ("MYSQL_PASSWORD" in said and "MARIADB_PASSWORD" in said), said
    assert "ledger2024" not in said and not [n for n, v in values.items() if v in said]

"""A second foreign stack, unlike both the reference and the inline one: no cache at all.

`notes` is two services, `sql` (MariaDB) and `web` (a small API of its own on a Python image that
has PyMySQL), with an env file made from a `.env.dist` template under names of its own
(`NOTES_*`). Its health answers booleans (`{"ok": true, "checks": {"sql": true}}`), an API write
answers the new id nested (`{"note": {"id": 7}}`), the app's credentials are only in a URL
(`NOTES_DB`), and it has no metrics, vector store, logrotate file nor Redis. Its profile is
written by `stackprobe init` (which declares the cache absent by itself), then edited as a user
would. The config, smoke and chaos suites run on an ephemeral copy: every control is judged or
not applicable, none fails, and no message names the reference stack.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cli.test_cli import stackprobe
from support.stacks import SUITES, run_pytest

from e2e.test_foreign_inline import edit_profile

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]

COMPOSE = """\
services:
  sql:
    image: ${MARIADB_IMAGE:-stackprobe/mariadb-standin:10.11}
    restart: always
    environment:
      MARIADB_ROOT_PASSWORD: ${NOTES_ROOT_PW:?set NOTES_ROOT_PW in .env}
      MARIADB_DATABASE: notes
      MARIADB_USER: notes_app
      MARIADB_PASSWORD: ${NOTES_DB_PW:?set NOTES_DB_PW in .env}
    command: ["--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"]
    volumes: ["sqldata:/var/lib/mysql", "./init.sql:/docker-entrypoint-initdb.d/init.sql:ro"]
    healthcheck:
      test: ["CMD", "mysqladmin", "ping", "-h", "localhost"]
      interval: 2s
      timeout: 3s
      retries: 5
      start_period: 120s
    logging: {driver: json-file, options: {max-size: 5m, max-file: "3"}}
  web:
    image: ${NOTES_WEB_IMAGE:-stackprobe/ai-assistant-backend:local}
    restart: always
    entrypoint: ["python", "-u", "/srv/notes.py"]
    environment:
      NOTES_DB: mysql://notes_app:${NOTES_DB_PW:?set NOTES_DB_PW in .env}@sql:3306/notes
      NOTES_SECRET_KEY: ${NOTES_SECRET_KEY:?set NOTES_SECRET_KEY in .env}
    volumes: ["./notes.py:/srv/notes.py:ro", "./init.sql:/srv/init.sql:ro"]
    ports: ["127.0.0.1:${NOTES_PORT:-18124}:8080"]
    depends_on:
      sql: {condition: service_healthy}
    healthcheck:
      test: ["CMD", "python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
      interval: 2s
      timeout: 3s
      retries: 5
      start_period: 60s
    logging: {driver: json-file, options: {max-size: 5m, max-file: "3"}}
volumes:
  sqldata: {}
"""

TEMPLATE = """\
# notes: copy to .env and fill in
NOTES_ROOT_PW=change-me
NOTES_DB_PW=change-me
NOTES_SECRET_KEY=change-me
NOTES_PORT=18124
"""

INIT_SQL = """\
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
INSERT INTO alembic_version VALUES ('0f1e2d3c4b5a');
CREATE TABLE notes (id INT PRIMARY KEY AUTO_INCREMENT, body TEXT NOT NULL);
"""

APP = '''\
"""notes: a small API on MariaDB; one connection per request, so it reconnects by itself."""
import json, os, re, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pymysql

if sys.argv[1:] == ["heads"]:
    print(re.search(r"VALUES \\('(\\w+)'\\)", open("/srv/init.sql").read()).group(1), "(head)")
    sys.exit(0)
DB = urllib.parse.urlsplit(os.environ["NOTES_DB"])


def query(sql, args=()):
    connection = pymysql.connect(host=DB.hostname, port=DB.port or 3306, user=urllib.parse.unquote(DB.username),
                                 password=urllib.parse.unquote(DB.password), database=DB.path.lstrip("/"),
                                 connect_timeout=2, read_timeout=2, write_timeout=2, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.lastrowid, cursor.fetchall()
    finally:
        connection.close()


class Handler(BaseHTTPRequestHandler):
    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/healthz":
            try:
                query("SELECT 1")
                ok = True
            except Exception:
                ok = False
            return self.answer(200 if ok else 503, {"ok": ok, "checks": {"sql": ok}})
        if path == "/ping":
            return self.answer(200, {"pong": True})
        found = re.fullmatch(r"/notes/(\\d+)", path)
        if not found:
            return self.answer(404, {})
        try:
            _, rows = query("SELECT id, body FROM notes WHERE id = %s", (int(found.group(1)),))
        except Exception as error:
            return self.answer(500, {"error": type(error).__name__})
        if not rows:
            return self.answer(404, {})
        return self.answer(200, {"note": {"id": rows[0][0], "text": rows[0][1]}})

    def do_POST(self):
        if self.path != "/notes":
            return self.answer(404, {})
        data = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        try:
            ident, _ = query("INSERT INTO notes (body) VALUES (%s)", (str(data.get("text", "")),))
        except Exception as error:
            return self.answer(500, {"error": type(error).__name__})
        return self.answer(201, {"note": {"id": ident}})

    def log_message(self, fmt, *args):  # request logs: stdout only
        print(f"{self.address_string()} {fmt % args}", flush=True)


ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
'''

# What a user changes after `stackprobe init` (section -> key -> value).
EDITS: dict[str, dict[str, Any]] = {
    "stack": {"migrate_command": []},  # the schema comes with the database's init script
    "health": {"path": "/healthz", "container_port": 8080, "format": "json", "required_fields": ["ok", "checks"],
               "status_field": "ok", "healthy_value": "true", "dependency_healthy_value": "true",
               "dependencies_field": "checks", "dependency_status_field": "", "timestamp_field": "",
               "dependencies": ["sql"], "dependency_services": {"sql": "sql"}},
    "database": {"url_env": "NOTES_DB", "version_prefixes": ["10.11."],
                 "migration_heads_command": ["python", "/srv/notes.py", "heads"]},
    "secrets": {"secret_key": "NOTES_SECRET_KEY", "password_keys": ["NOTES_ROOT_PW", "NOTES_DB_PW"],
                "other_secret_keys": []},
    "absent": {"parts": ["cache", "metrics", "vector_store", "logrotate"]},
    "compose": {"backend_data_dirs": [], "database_data_dirs": ["/var/lib/mysql"]},
    "chaos": {"freeze_dependencies": ["sql"], "partition_dependencies": ["sql"], "trials": 1,
              "api_probe_path": "/notes/0", "api_probe_ok": [200, 404], "api_write_path": "/notes",
              "api_write_body": {"text": "{marker}"}, "api_read_path": "/notes/{id}",
              "api_write_id_field": "note.id", "load_paths": ["/ping", "/notes/0"]},
}


@pytest.fixture(scope="module")
def notes_stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    project = tmp_path_factory.mktemp("nocache") / "notes"
    project.mkdir()
    for name, text in (("compose.yaml", COMPOSE), (".env.dist", TEMPLATE), ("init.sql", INIT_SQL),
                       ("notes.py", APP)):
        (project / name).write_text(text)
    profile = project.parent / "notes.toml"
    done = stackprobe("init", "--compose-file", str(project / "compose.yaml"), "--output", str(profile),
                      cwd=project.parent)
    assert done.returncode == 0, done.stderr
    written = tomllib.loads(profile.read_text())
    # what init got right by itself, from the files alone
    assert written["absent"]["parts"] == ["cache"], written.get("absent")
    assert (written["services"]["database"], written["services"]["backend"]) == ("sql", "web")
    assert written["stack"]["env_template"] == ".env.dist"
    edit_profile(profile, EDITS)
    return project, profile


def test_config_smoke_and_chaos_suites_on_a_stack_without_a_cache(notes_stack: tuple[Path, Path],
                                                                  tmp_path: Path) -> None:
    project, profile = notes_stack
    run = run_pytest(f"{SUITES}/config", f"{SUITES}/smoke", f"{SUITES}/chaos", "--profile", str(profile),
                     report_dir=tmp_path / "reports", timeout=1500)
    output = run.stdout + run.stderr
    statuses = run.statuses
    print(json.dumps(statuses, indent=1))  # the record of which controls pass, are n/a, fail
    assert statuses, output[-3000:]
    wrong = {c: s for c, s in statuses.items() if s not in {"passed", "not_applicable"}}
    messages = {c: [ch.get("message", "")[:400] for ch in run.results["controls"][c]["checks"]] for c in wrong}
    assert not wrong, (wrong, messages)
    not_applicable = {c for c, s in statuses.items() if s == "not_applicable"}
    assert {"RDS-01", "RDS-02", "CHS-03", "MET-01", "VEC-01"} <= not_applicable, statuses
    # every experiment judged this stack: both crash targets, its own dependency frozen and cut off
    checks = {ch["nodeid"].split("::")[-1] for c in run.results["controls"].values() for ch in c["checks"]}
    for expected in ("test_crashed_service_recovers_within_slo[sql]", "test_crashed_service_recovers_within_slo[web]",
                     "test_acknowledged_writes_survive_crash[sql]",
                     "test_frozen_dependency_does_not_hang_health[sql-paused]",
                     "test_partition_degrades_then_heals[sql]"):
        assert expected in checks, sorted(checks)
    params = [c.partition("[")[2] for c in checks if "[" in c]
    assert not [p for p in params if re.search("redis|mysql|backend|cache", p)], sorted(params)
    said = json.dumps(run.results["controls"])
    assert not re.search(r"ai_assistant|stack/scripts|MYSQL_USER|REDIS_PASSWORD", said)
    assert not list(project.glob(".stackprobe*"))  # no state in the user's project

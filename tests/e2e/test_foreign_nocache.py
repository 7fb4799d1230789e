"""A second foreign stack, unlike both the reference and the inline one: no cache at all.

`notes` is two services, `sql` (MariaDB) and `web` (a small API of its own on a Python image that
has PyMySQL), with an env file made from a `.env.dist` template under names of its own
(`NOTES_*`). It logs its requests to standard output only. Its health answers booleans
(`{"ok": true, "checks": {"sql": true}}`), an API write answers the new id nested
(`{"note": {"id": 7}}`), the app's credentials are only in a URL (`NOTES_DB`), and it has no
metrics, vector store, logrotate file nor Redis. Its profile is written by `stackprobe init`
(which declares the cache absent by itself), then edited as a user would. Its backup and restore
are scripts of its own (`DUMP_DIR`, `DUMP_DB`, `KEEP_DAYS`, `NOTES_ENV`; `mariadb-dump`), and so is its deploy script
(`up`, `upgrade`, `dump`, `destroy --force`: other names for the suite's actions). It is hardened
in its own way (the web image under a release tag, run as a numeric user on a read-only root;
MariaDB's entrypoint allowed root and the capabilities it needs). Every suite runs on an
ephemeral copy, and every suite but deploy (which needs a
throwaway project of its own) on a live instance started with plain `docker compose up` (faults
allowed): every control is judged or not applicable, none fails, no message names the reference
stack, and nothing in the project directory changes.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tomllib
from collections.abc import Iterator
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
    # the entrypoint owns the data directory, then mariadbd runs as the user mysql
    cap_drop: [ALL]
    cap_add: [CHOWN, DAC_OVERRIDE, FOWNER, KILL, SETUID, SETGID]
    security_opt: ["no-new-privileges:true"]
    mem_limit: 768m
    pids_limit: 400
    healthcheck:
      test: ["CMD", "mysqladmin", "ping", "-h", "localhost"]
      interval: 2s
      timeout: 3s
      retries: 5
      start_period: 120s
    logging: {driver: json-file, options: {max-size: 5m, max-file: "3"}}
  web:
    image: ${NOTES_WEB_IMAGE:-stackprobe/notes-web:1.4.2}
    restart: always
    entrypoint: ["python", "-u", "/srv/notes.py"]
    user: "10001:10001"
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    read_only: true
    tmpfs: ["/tmp"]
    mem_limit: 256m
    pids_limit: 256  # a thread per request, and one per health check
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
import datetime, json, os, re, sys, threading, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pymysql

if sys.argv[1:] == ["heads"]:
    print(re.search(r"VALUES \\('(\\w+)'\\)", open("/srv/init.sql").read()).group(1), "(head)")
    sys.exit(0)
DB = urllib.parse.urlsplit(os.environ["NOTES_DB"])


def query(sql, args=()):
    connection = pymysql.connect(host=DB.hostname, port=DB.port or 3306, user=urllib.parse.unquote(DB.username),
                                 password=urllib.parse.unquote(DB.password), database=DB.path.lstrip("/"),
                                 connect_timeout=1, read_timeout=2, write_timeout=2, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.lastrowid, cursor.fetchall()
    finally:
        connection.close()


def sql_ok(within_s=1.5):
    """SELECT 1, bounded as a whole: the name lookup of a stopped service is not bounded by the
    driver's connect timeout (it took 3 s here)."""
    done = []

    def probe():
        try:
            query("SELECT 1")
            done.append(True)
        except Exception:
            pass

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(within_s)
    return bool(done)


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
            ok = sql_ok()
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

    def log_message(self, fmt, *args):  # request logs: stdout only, with the caller's request id
        rid = self.headers.get("X-Request-ID", "-") if getattr(self, "headers", None) else "-"
        log(f"{self.address_string()} request id={rid} {fmt % args}")


LOG_LOCK = threading.Lock()


def log(message):  # one write per line: the server's threads log at once
    line = f"{datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='milliseconds')} {message}\\n"
    with LOG_LOCK:
        sys.stdout.write(line)
        sys.stdout.flush()


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # one line, not socketserver's banner
        log(f"{client_address[0]} error {sys.exc_info()[0].__name__}")


Server(("0.0.0.0", 8080), Handler).serve_forever()
'''

BACKUP = """\
#!/usr/bin/env bash
# notes backup: the notes database, gzipped, into $DUMP_DIR; dumps older than $KEEP_DAYS days go.
# Environment: DUMP_DIR (./dumps), DUMP_DB (notes), KEEP_DAYS (14), NOTES_ENV (.env);
# COMPOSE_FILE and COMPOSE_PROJECT_NAME as docker compose reads them.
set -euo pipefail
cd "$(dirname "$0")"
dir=${DUMP_DIR:-./dumps}; db=${DUMP_DB:-notes}; keep=${KEEP_DAYS:-14}
umask 077
mkdir -p "$dir"
tmp=$(mktemp "$dir/.partial.XXXXXX")
trap 'rm -f "$tmp"' EXIT
docker compose --env-file "${NOTES_ENV:-.env}" exec -T sql sh -c '
  MYSQL_PWD="${MARIADB_ROOT_PASSWORD:-$MYSQL_ROOT_PASSWORD}" \\
    exec "$(command -v mariadb-dump || command -v mysqldump)" -uroot --single-transaction \\
      --routines --triggers --events "$0"' "$db" </dev/null | gzip >"$tmp"
zcat "$tmp" | tail -n 1 | grep -q "Dump completed" || { echo "backup: the dump is incomplete" >&2; exit 1; }
final="$dir/notes_$(date -u +%Y%m%d_%H%M%S)_$$.sql.gz"
mv "$tmp" "$final"
find "$dir" -maxdepth 1 -type f -name 'notes_*.sql.gz' -mtime +"$keep" -delete
echo "backup: $final"
"""

RESTORE = """\
#!/usr/bin/env bash
# notes restore: restore.sh DUMP DATABASE loads a dump of backup.sh into DATABASE (created), never notes.
set -euo pipefail
cd "$(dirname "$0")"
[[ $# -eq 2 && $2 =~ ^[A-Za-z0-9_]+$ && $2 != notes ]] ||
  { echo "usage: restore.sh DUMP DATABASE (not notes)" >&2; exit 2; }
gzip -t "$1"
sql() {
  docker compose --env-file "${NOTES_ENV:-.env}" exec -T sql sh -c '
    MYSQL_PWD="${MARIADB_ROOT_PASSWORD:-$MYSQL_ROOT_PASSWORD}" \\
      exec "$(command -v mariadb || command -v mysql)" -uroot "$@"' sh "$@"
}
echo "CREATE DATABASE IF NOT EXISTS \\`$2\\`" | sql
gunzip -c "$1" | sql "$2"
"""

DEPLOY = """\
#!/usr/bin/env bash
# notes deploy: ./deploy.sh COMMAND; NOTES_ENV names the env file (.env), COMPOSE_FILE and
# COMPOSE_PROJECT_NAME as docker compose reads them.
set -euo pipefail
cd "$(dirname "$0")"
compose() { docker compose --env-file "${NOTES_ENV:-.env}" "$@"; }
case "${1:-}" in
  up) compose up -d --wait ;;
  start) compose up -d --wait --no-recreate ;;
  stop) compose stop ;;
  restart) compose restart && compose up -d --wait --no-recreate ;;
  logs) compose logs --no-color --tail 200 ;;
  upgrade) compose up -d --wait --force-recreate --no-deps web ;;
  dump) ./backup.sh ;;
  destroy)
    [[ ${2:-} == --force ]] || { echo "destroy removes every note: run ./deploy.sh destroy --force" >&2; exit 1; }
    compose down -v --remove-orphans ;;
  *) cat <<'USAGE'
usage: ./deploy.sh COMMAND
  up        create and start the stack, wait until it is healthy (safe to run again)
  start     start a stopped stack
  stop      stop the stack (containers and data kept)
  restart   restart every service
  logs      the last lines of every service's log
  upgrade   recreate the web service on its current image
  dump      back the database up into $DUMP_DIR (./backup.sh)
  destroy   remove the stack and its data (with --force)
USAGE
     [[ ${1:-} == --help ]] ;;
esac
"""

# What a user changes after `stackprobe init` (section -> key -> value).
EDITS: dict[str, dict[str, Any]] = {
    "stack": {"migrate_command": []},  # the schema comes with the database's init script
    "health": {"path": "/healthz", "container_port": 8080, "format": "json", "required_fields": ["ok", "checks"],
               "status_field": "ok", "healthy_value": "true", "dependency_healthy_value": "true",
               "dependencies_field": "checks", "dependency_status_field": "", "timestamp_field": "",
               "dependencies": ["sql"], "dependency_services": {"sql": "sql"}},
    "database": {"version_prefixes": ["10.11."],
                 "migration_heads_command": ["python", "/srv/notes.py", "heads"]},
    "secrets": {"secret_key": "NOTES_SECRET_KEY", "password_keys": ["NOTES_ROOT_PW", "NOTES_DB_PW"],
                "other_secret_keys": []},
    # no uploads to archive: the absence is accepted, not a finding; the schema comes with init.sql
    "absent": {"parts": ["cache", "metrics", "vector_store", "logrotate", "log_file", "file_archives", "migrations"],
               "findings": []},
    # its own deploy script: other names for the suite's actions, no image to build, no uploads
    "deploy": {"command": ["./deploy.sh"], "subcommands": ["up", "start", "stop", "restart", "logs", "upgrade",
                                                           "dump", "destroy"],
               "actions": {"help": ["{deploy}", "--help"], "init": ["{deploy}", "up"], "backup": ["{deploy}", "dump"],
                           "clean": ["{deploy}", "destroy"]},
               "clean_confirm_args": ["--force"], "update_flow": [["{deploy}", "upgrade"]], "image_vars": [],
               "env_file_var": "NOTES_ENV", "backup_dir_var": "DUMP_DIR", "backup_glob": "notes_*.sql.gz",
               "read_paths": ["/healthz", "/notes/{document_id}"], "uploads_path": "", "uploads_dir": "",
               "seed_uploads": 0, "update_slo_s": 60},
    "backup": {"command": ["./backup.sh"], "restore_command": ["./restore.sh", "{file}", "{database}"],
               "dir_var": "DUMP_DIR", "database_var": "DUMP_DB", "files_var": "", "retention_var": "KEEP_DAYS",
               "env_file_var": "NOTES_ENV", "dir": "dumps", "dump_pattern": "notes_*.sql.gz", "archive_patterns": {}},
    "logs": {"line_pattern": r"^(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00) \S+ (?P<message>.+)$"},
    "safety": {"destructive_services": ["sql", "web"]},  # live: faults only with --allow-destructive too
    "hardening": {"root_allowed": {"sql": "the entrypoint owns /var/lib/mysql, then mariadbd runs as mysql"},
                  "capabilities": {"sql": ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETUID", "SETGID"]},
                  "read_only": {"web": ["/tmp"]}, "memory_max_mb": 1024, "pids_max": 512},
    "chaos": {"freeze_dependencies": ["sql"], "partition_dependencies": ["sql"], "trials": 1,
              "api_probe_path": "/notes/0", "api_probe_ok": [200, 404], "api_write_path": "/notes",
              "api_write_body": {"text": "{marker}"}, "api_read_path": "/notes/{id}",
              "api_write_id_field": "note.id", "load_paths": ["/ping", "/notes/0"]},
}


# its web image as its owner deploys it, under a release tag: the reference backend's image (it
# has PyMySQL), tagged for the module and untagged afterwards
WEB_IMAGE = "stackprobe/notes-web:1.4.2"


@pytest.fixture(scope="module")
def notes_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    source = os.environ.get("BACKEND_IMAGE") or "stackprobe/ai-assistant-backend:local"
    subprocess.run(["docker", "tag", source, WEB_IMAGE], check=True, capture_output=True, timeout=60)
    try:
        yield _notes_project(tmp_path_factory)
    finally:
        subprocess.run(["docker", "rmi", WEB_IMAGE], capture_output=True, timeout=60)


def _notes_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    project = tmp_path_factory.mktemp("nocache") / "notes"
    project.mkdir()
    for name, text in (("compose.yaml", COMPOSE), (".env.dist", TEMPLATE), ("init.sql", INIT_SQL),
                       ("notes.py", APP), ("backup.sh", BACKUP), ("restore.sh", RESTORE), ("deploy.sh", DEPLOY)):
        (project / name).write_text(text)
        if name.endswith(".sh"):
            (project / name).chmod(0o755)
    profile = project.parent / "notes.toml"
    done = stackprobe("init", "--compose-file", str(project / "compose.yaml"), "--output", str(profile),
                      cwd=project.parent)
    assert done.returncode == 0, done.stderr
    written = tomllib.loads(profile.read_text())
    # what init got right by itself, from the files alone
    assert written["absent"]["parts"] == ["cache"], written.get("absent")
    assert (written["services"]["database"], written["services"]["backend"]) == ("sql", "web")
    assert written["stack"]["env_template"] == ".env.dist"
    assert written["compose"] == {"database_data_dirs": ["/var/lib/mysql"], "backend_data_dirs": []}, written
    assert written["database"]["url_env"] == "NOTES_DB"  # the app's account, only in its URL
    edit_profile(profile, EDITS)
    return project, profile


@pytest.fixture
def live_instance(notes_stack: tuple[Path, Path]) -> Iterator[tuple[str, Path]]:
    """The stack run as its owner runs it: `docker compose up` with an env file made from the
    template (strong secrets, a free port), and one scheduled backup already in dumps/."""
    project, _ = notes_stack
    name = f"spnotes{secrets.token_hex(3)}"
    env_file = project.parent / "live.env"
    env_file.write_text(f"NOTES_ROOT_PW={secrets.token_urlsafe(24)}\nNOTES_DB_PW={secrets.token_urlsafe(24)}\n"
                        f"NOTES_SECRET_KEY={secrets.token_urlsafe(32)}\nNOTES_PORT={_free_port()}\n")
    env_file.chmod(0o600)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "NOTES_"))}
    compose = ["docker", "compose", "-p", name, "--env-file", str(env_file)]
    try:
        started = subprocess.run([*compose, "up", "-d", "--wait"], cwd=project, capture_output=True, text=True,
                                 timeout=600, env=environ)
        assert started.returncode == 0, started.stderr[-2000:]
        backup = subprocess.run(["./backup.sh"], cwd=project, capture_output=True, text=True, timeout=300,
                                env={**environ, "NOTES_ENV": str(env_file), "COMPOSE_PROJECT_NAME": name})
        assert backup.returncode == 0, backup.stdout + backup.stderr
        yield name, env_file
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "2"], cwd=project, capture_output=True, timeout=300, env=environ)
        shutil.rmtree(project / "dumps", ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", ["ephemeral", "live"])
def test_every_suite_on_a_stack_without_a_cache(kind: str, notes_stack: tuple[Path, Path],
                                                           request: pytest.FixtureRequest, tmp_path: Path) -> None:
    project, profile = notes_stack
    target: list[str] = []
    if kind == "live":
        name, env_file = request.getfixturevalue("live_instance")
        target = ["--target", "live", "--project-name", name, "--env-file", str(env_file), "--allow-destructive"]
    began = _tree(project)
    # deploy: on a throwaway project of its own, so only where the suite may start one
    suites = [f"{SUITES}/{suite}" for suite in ("config", "smoke", "logs", "backup_restore", "chaos", "hardening")
              + (("deploy",) if kind == "ephemeral" else ())]
    run = run_pytest(*suites, "--profile", str(profile), *target, report_dir=tmp_path / "reports", timeout=1500)
    output = run.stdout + run.stderr
    statuses = run.statuses
    print(json.dumps(statuses, indent=1))  # the record of which controls pass, are n/a, fail
    assert statuses, output[-3000:]
    wrong = {c: s for c, s in statuses.items() if s not in {"passed", "not_applicable"}}
    messages = {c: [ch.get("message", "")[:400] for ch in run.results["controls"][c]["checks"]] for c in wrong}
    assert not wrong, (wrong, messages)
    not_applicable = {c for c, s in statuses.items() if s == "not_applicable"}
    assert {"RDS-01", "RDS-02", "CHS-03", "MET-01", "VEC-01", "LOG-02", "LOG-03", "LOG-04",
            "DB-03"} <= not_applicable, statuses
    # its own backup and restore scripts, under its own variable names: all judged, file archives n/a
    assert {c: s for c, s in statuses.items() if c.startswith("BKP-")} == {
        **{f"BKP-{n:02d}": "passed" for n in range(1, 11)}, "BKP-06": "not_applicable"}, statuses
    if kind == "ephemeral":  # its own deploy script, under its own names; no migrations to judge
        assert (statuses["DEP-01"], statuses["DEP-02"], statuses["DEP-03"]) == (
            "passed", "passed", "not_applicable"), statuses
        dep01 = [ch["nodeid"].split("::")[-1] for ch in run.results["controls"]["DEP-01"]["checks"]
                 if ch["status"] == "passed"]
        assert len(dep01) == 6, dep01  # help, init twice, stop/start/restart, logs, dump, destroy
    # its log is docker's: the marker request and the format were read there
    assert {statuses["LOG-01"], statuses["LOG-05"], statuses["LOG-06"]} == {"passed"}, statuses
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
    # the backup suite read the deployment's own backups and wrote none there (nor anywhere in it)
    assert _tree(project) == began
    bkp07 = run.results["controls"]["BKP-07"]["checks"][0]["evidence"]
    print(json.dumps(bkp07)[:600])


# Three defects seeded in the notes stack's own files, one run of the smoke and backup suites on a
# copy: a health that answers 200 and "ok" whatever the database is, an init script that grants
# the app user (known only from the NOTES_DB URL) a global privilege, and a backup script that
# ignores DUMP_DIR (it always writes into ./dumps, the deployment's own directory).
NOTES_DEFECTS = {
    "notes.py": ('return self.answer(200 if ok else 503, {"ok": ok, "checks": {"sql": ok}})',
                 'return self.answer(200, {"ok": True, "checks": {"sql": True}})'),
    "init.sql": ("CREATE TABLE notes", "GRANT PROCESS ON *.* TO 'notes_app'@'%';\nCREATE TABLE notes"),
    "backup.sh": ("dir=${DUMP_DIR:-./dumps}", "dir=./dumps"),
}


def test_seeded_defects_of_the_notes_stack_fail_exactly_their_controls(notes_stack: tuple[Path, Path],
                                                                       tmp_path: Path) -> None:
    project, profile = notes_stack
    broken = tmp_path / "notes"
    shutil.copytree(project, broken)
    for name, (good, bad) in NOTES_DEFECTS.items():
        text = (broken / name).read_text()
        assert good in text, name
        (broken / name).write_text(text.replace(good, bad))
    settings = tomllib.loads(profile.read_text())["stack"]
    moved = tmp_path / "broken.toml"
    moved.write_text(profile.read_text())
    edit_profile(moved, {"stack": {**settings, "project_dir": str(broken),
                                   "compose_files": [str(broken / "compose.yaml")]}})
    began = _tree(broken)
    run = run_pytest(f"{SUITES}/smoke", f"{SUITES}/backup_restore", "--profile", str(moved),
                     report_dir=tmp_path / "reports", timeout=900)
    statuses = run.statuses
    assert statuses, (run.stdout + run.stderr)[-3000:]
    by_status = {s: {c for c, cs in statuses.items() if cs == s} for s in set(statuses.values())}
    messages = {c: [ch.get("message", "") for ch in run.results["controls"][c]["checks"]
                    if ch["status"] in {"failed", "error"}] for c in statuses if statuses[c] in {"failed", "error"}}
    assert by_status.get("failed") == {"HLT-03", "HLT-04", "DB-02"}, messages
    assert by_status.get("error") == {f"BKP-{n:02d}" for n in range(1, 11)} - {"BKP-06"}, messages
    assert statuses["BKP-06"] == "not_applicable", statuses  # file_archives declared absent
    # each names what it saw, in this stack's names
    assert "sql" in " ".join(messages["HLT-03"]), messages["HLT-03"]
    assert "notes_app" in " ".join(messages["DB-02"]) and "PROCESS" in " ".join(messages["DB-02"]), messages
    (contract,) = {m for c in by_status["error"] for m in messages[c]}  # one line for every backup check
    assert "DUMP_DIR" in contract and "dumps/notes_" in contract and "removed again" in contract, contract
    said = json.dumps(messages)
    assert not re.search(r"ai_assistant|stack/scripts|BACKUP_DIR|'mysql'|'redis'|'backend'|MYSQL_USER", said), said
    # an ephemeral copy's stray dumps are removed again: the project's files end as they began
    assert _tree(broken) == began

"""A foreign stack with no env file: every value inline in compose or from the shell.

Written for the tests, it differs from the reference stack where issue 20 says a real one did:
services `db`, `cache`, `api`; a MariaDB image name and `MARIADB_*` variables; the app's database
credentials only in a `DATABASE_URL`; no env file nor template (the secrets come from the shell,
`${VAR:?}`); the datastores on an `internal: true` network, unpublished; request logs on stdout
only, http.server's access line (no request id); a nested health JSON (`components.<name>.status`,
"up" where the overall status says "healthy"); metrics on the app port behind a bearer token; no
vector store and no logrotate file; a backup script with a contract of its own (`BACKUP_TO`,
`SHOP_DB`, `RETAIN_DAYS`, `restore.sh --into DATABASE DUMP`); no deploy script (its owner runs
`docker compose` itself); hardened its own way (the cache started as its service user). Its
profile is written by `stackprobe init`, then edited as a user would (no route of its API stores
anything: `[absent] parts api_writes`, and the chaos data path is its health, which reads the
database). Every suite runs on an ephemeral copy, and every suite but deploy (which needs a
throwaway project of its own) on the stack started by hand (`docker compose up`, live): every
control is judged or not applicable, none fails, and nothing in the project changes.
Three defects seeded in its own files (a health check blind to the database, a global grant to the
app user, a backup that ignores BACKUP_TO) fail exactly HLT-03/04 and DB-02, and stop the backup
suite with one error, named in this stack's terms."""

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
from support.stacks import REPO, SUITES, run_pytest

from stackprobe.targets.base import load_image_overrides

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]

COMPOSE = """\
services:
  db:
    image: ${MARIADB_IMAGE:-stackprobe/mariadb-standin:10.11}
    restart: unless-stopped
    environment:
      MARIADB_ROOT_PASSWORD: ${DB_ROOT_PASSWORD:?set DB_ROOT_PASSWORD}
      MARIADB_DATABASE: shop
      MARIADB_USER: shop
      MARIADB_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}
    command: ["--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"]
    volumes: ["dbdata:/var/lib/mysql", "./schema.sql:/docker-entrypoint-initdb.d/schema.sql:ro"]
    networks: [back]
    # the entrypoint owns the data directory, then mariadbd runs as the user mysql
    cap_drop: [ALL]
    cap_add: [CHOWN, DAC_OVERRIDE, FOWNER, KILL, SETUID, SETGID]
    security_opt: ["no-new-privileges:true"]
    mem_limit: 768m
    pids_limit: 400
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
    # the password through a config file, never on a process's command line (SEC-07)
    command: ["sh", "-c", "umask 077; printf 'requirepass %s\\nappendonly yes\\n' \\"$$REDIS_PASSWORD\\"
              > /tmp/redis.conf && exec redis-server /tmp/redis.conf"]
    environment:
      REDIS_PASSWORD: ${CACHE_PASSWORD:?set CACHE_PASSWORD}
    # started as the image's user redis (it owns /data), not as root dropping to it
    user: redis
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    read_only: true
    tmpfs: ["/tmp"]
    mem_limit: 256m
    pids_limit: 64
    volumes: ["cachedata:/data"]
    networks: [back]
    healthcheck:
      test: ["CMD-SHELL", "REDISCLI_AUTH=$$REDIS_PASSWORD redis-cli ping | grep -q PONG"]
      interval: 1s
      timeout: 3s
      retries: 5
      start_period: 60s
    logging: {driver: json-file, options: {max-size: 5m, max-file: "2"}}
  api:
    image: ${PYTHON_IMAGE:-stackprobe/python-standin:3.11}
    restart: unless-stopped
    command: ["python3", "-u", "/app/app.py"]
    user: "65534:65534"
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    read_only: true
    mem_limit: 256m
    pids_limit: 128
    environment:
      DATABASE_URL: mysql+pymysql://shop:${DB_PASSWORD:?set DB_PASSWORD}@db:3306/shop
      REDIS_URL: redis://:${CACHE_PASSWORD:?set CACHE_PASSWORD}@cache:6379/0
      METRICS_TOKEN: ${METRICS_TOKEN:?set METRICS_TOKEN}
      SESSION_TOKEN_TTL: 30m
      MAX_UPLOAD_TOKENS: "2000"
    volumes: ["./app.py:/app/app.py:ro", "./schema.sql:/app/schema.sql:ro"]
    ports: ["127.0.0.1:${API_PORT:-18123}:8000"]
    networks: [back, front]
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_healthy}
    healthcheck:
      test: ["CMD", "python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
      interval: 1s
      timeout: 3s
      retries: 5
      start_period: 60s
    logging: {driver: json-file, options: {max-size: 5m, max-file: "2"}}
networks:
  back: {internal: true}
  front: {}
volumes:
  dbdata: {}
  cachedata: {}
"""

# The app's whole schema, created by the database's init script (no versioned migrations).
SCHEMA = """\
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
INSERT INTO alembic_version VALUES ('a1b2c3d4e5f6');
CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, total DECIMAL(9, 2));
"""

APP = '''\
"""A few dozen lines of app: nested health, metrics behind a bearer token, request logs on stdout."""
import datetime, http.server, json, os, re, socket, sys, threading, urllib.parse

if sys.argv[1:] == ["heads"]:
    print(re.search(r"VALUES \\('(\\w+)'\\)", open("/app/schema.sql").read()).group(1), "(head)")
    sys.exit(0)
DB = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
CACHE = urllib.parse.urlsplit(os.environ["REDIS_URL"])
TOKEN = os.environ["METRICS_TOKEN"]
COUNTS = {}
LOCK = threading.Lock()
LOG_LOCK = threading.Lock()


def database_up():
    with socket.create_connection((DB.hostname, DB.port), timeout=1) as s:
        s.settimeout(1)
        return len(s.recv(64)) > 4  # the server's greeting


def cache_up():
    with socket.create_connection((CACHE.hostname, CACHE.port), timeout=1) as s:
        s.settimeout(1)
        password = urllib.parse.unquote(CACHE.password or "")
        s.sendall(f"AUTH {password}\\r\\nPING\\r\\n".encode())
        answer = b""
        while answer.count(b"\\r\\n") < 2:
            answer += s.recv(64) or b"\\r\\n\\r\\n"
        return answer.endswith(b"+PONG\\r\\n")


def status(check):
    try:
        return "up" if check() else "down"
    except OSError:
        return "down"


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, code, body, kind="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/metrics":
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self.answer(401, "{}")
            with LOCK:
                lines = ["# HELP app_requests_total Requests served.", "# TYPE app_requests_total counter"]
                lines += [f'app_requests_total{{path="{p}"}} {n}' for p, n in sorted(COUNTS.items())]
            return self.answer(200, "\\n".join(lines) + "\\n", "text/plain; version=0.0.4")
        with LOCK:
            COUNTS[path] = COUNTS.get(path, 0) + 1
        if path == "/health":
            parts = {"database": status(database_up), "cache": status(cache_up)}
            ok = all(v == "up" for v in parts.values())
            return self.answer(200 if ok else 503, json.dumps({
                "status": "healthy" if ok else "degraded",
                "checked_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "components": {name: {"status": value} for name, value in parts.items()}}))
        if path == "/ping":
            return self.answer(200, json.dumps({"pong": True}))
        return self.answer(404, "{}")

    def log_message(self, fmt, *args):  # request logs: stdout only, one whole line at a time
        line = f"{self.address_string()} {fmt % args}\\n"
        with LOG_LOCK:
            sys.stdout.write(line)
            sys.stdout.flush()


http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
'''

# The shop's own backup contract: BACKUP_TO, SHOP_DB, RETAIN_DAYS; one gzipped dump per run.
BACKUP = """\
#!/bin/sh
# shop backup: BACKUP_TO (./backups) gets shop-<database>-<UTC time>.sql.gz of SHOP_DB (shop);
# dumps older than RETAIN_DAYS (7) days go. The compose project is the caller's (COMPOSE_*).
set -eu
cd "$(dirname "$0")"
to=${BACKUP_TO:-./backups}; db=${SHOP_DB:-shop}
umask 077
mkdir -p "$to"
part="$to/.in-progress.$$"
trap 'rm -f "$part"' EXIT INT TERM
docker compose exec -T db sh -c 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec \\
  "$(command -v mariadb-dump || command -v mysqldump)" -uroot --single-transaction --routines --triggers \\
  --events "$0"' "$db" </dev/null >"$part.sql"
if ! tail -n 1 "$part.sql" | grep -q "Dump completed"; then
  rm -f "$part.sql"; echo "backup failed: incomplete dump of $db" >&2; exit 1
fi
gzip -c "$part.sql" >"$part" && rm -f "$part.sql"
mv "$part" "$to/shop-$db-$(date -u +%Y%m%dT%H%M%S)-$$.sql.gz"
find "$to" -maxdepth 1 -name 'shop-*.sql.gz' -mtime +"${RETAIN_DAYS:-7}" -exec rm -f {} +
"""

RESTORE = """\
#!/bin/sh
# shop restore: restore.sh --into DATABASE DUMP loads a dump of backup.sh into DATABASE instead
# of the one it was taken from (the live shop database is never a target).
set -eu
cd "$(dirname "$0")"
if [ "$#" -ne 3 ] || [ "$1" != --into ] || [ "$2" = shop ]; then
  echo "usage: restore.sh --into DATABASE DUMP (not shop)" >&2; exit 2
fi
into=$2; dump=$3
mariadb() {
  docker compose exec -T db sh -c 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec \\
    "$(command -v mariadb || command -v mysql)" -uroot "$@"' sh "$@"
}
echo "CREATE DATABASE IF NOT EXISTS \\`$into\\`" | mariadb
gunzip -c "$dump" | mariadb "$into"
"""

# What a user changes after `stackprobe init` (section -> key -> value).
EDITS: dict[str, dict[str, Any]] = {
    "stack": {"migrate_command": []},  # the schema comes with the database's init script
    "safety": {"destructive_services": ["db", "cache", "api"]},  # faults allowed on these on a live target
    "health": {"path": "/health", "container_port": 8000, "format": "json",
               "required_fields": ["status", "checked_at", "components"], "status_field": "status",
               "healthy_value": "healthy", "dependency_healthy_value": "up", "dependencies_field": "components",
               "dependency_status_field": "status",
               "timestamp_field": "checked_at", "dependencies": ["database", "cache"],
               "dependency_services": {"database": "db", "cache": "cache"}},
    "metrics": {"path": "/metrics", "container_port": 8000, "required_families": {"app_requests_total": "counter"},
                "request_counter": "app_requests_total", "traffic_path": "/ping", "use_promtool": False},
    "credentials": {"bearer_token_env": "METRICS_TOKEN"},
    "database": {"version_prefixes": ["10.11."]},
    "redis": {"password_env": "REDIS_PASSWORD", "persistence": "aof"},
    # no route stores anything: the chaos data path is a read, its health (it reads the database);
    # request logs on stdout only; the schema comes with the init script; the backup is the
    # database only, and that is accepted
    "absent": {"parts": ["vector_store", "logrotate", "signing_key", "api_writes", "log_file", "migrations",
                         "file_archives"], "findings": []},
    # http.server's access line: the request line, no request id (so the marker rides in the query)
    "logs": {"line_pattern": r'^\S+ (?P<message>"[^"]*" \d{3} \S+|code \d{3}, message .+)$',
             "marker_query_param": "trace"},
    "backup": {"command": ["./backup.sh"], "restore_command": ["./restore.sh", "--into", "{database}", "{file}"],
               "dir_var": "BACKUP_TO", "database_var": "SHOP_DB", "files_var": "", "retention_var": "RETAIN_DAYS",
               "env_file_var": "", "dir": "backups", "dump_pattern": "shop-*.sql.gz", "archive_patterns": {}},
    # no deploy script: the owner runs docker compose itself (no help, no guarded clean to judge)
    "deploy": {"command": ["docker", "compose"], "subcommands": [],
               "actions": {"help": [], "init": ["{deploy}", "up", "-d", "--wait"],
                           "start": ["{deploy}", "up", "-d", "--wait", "--no-recreate"],
                           "stop": ["{deploy}", "stop"],
                           "restart": ["sh", "-c", "docker compose restart && "
                                                   "docker compose up -d --wait --no-recreate"],
                           "logs": ["{deploy}", "logs", "--no-color"], "backup": ["./backup.sh"], "clean": []},
               "env_file_var": "COMPOSE_ENV_FILES", "image_vars": [], "backup_dir_var": "BACKUP_TO",
               "backup_glob": "shop-*.sql.gz",
               "update_flow": [["{deploy}", "up", "-d", "--wait", "--force-recreate", "--no-deps", "api"]],
               "read_paths": ["/health", "/ping"], "uploads_path": "", "uploads_dir": "", "seed_uploads": 0,
               "update_slo_s": 60},
    "chaos": {"api_probe_path": "/health", "api_probe_ok": [200], "load_paths": ["/ping", "/health"],
              "trials": 1, "outage_s": 2.0, "steady_wait_s": 20.0, "heal_timeout_s": 60.0,
              "dependency_recovery_s": 30.0, "writer_crash_after_s": 3.5, "writer_crash_after_writes": 25,
              "writer_after_recovery_writes": 25, "load_after_recovery_s": 2.0},
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def edit_profile(path: Path, edits: dict[str, dict[str, Any]]) -> None:
    """`path` with `edits` applied (a TOML rewrite: init's comments go, its values stay)."""
    data = tomllib.loads(path.read_text())
    for section, values in edits.items():
        data.setdefault(section, {}).update(values)
    path.write_text("".join(f"[{section}]\n" + "".join(f"{json.dumps(k)} = {_toml_value(v)}\n"
                                                       for k, v in values.items()) + "\n"
                            for section, values in data.items()))


@pytest.fixture(scope="module")
def inline_stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    project = tmp_path_factory.mktemp("inline") / "shop"
    project.mkdir()
    (project / "compose.yaml").write_text(COMPOSE)
    (project / "schema.sql").write_text(SCHEMA)
    (project / "app.py").write_text(APP)
    for name, text in (("backup.sh", BACKUP), ("restore.sh", RESTORE)):
        (project / name).write_text(text)
        (project / name).chmod(0o755)
    load_image_overrides(REPO)
    shell = {"DB_ROOT_PASSWORD": secrets.token_urlsafe(24), "DB_PASSWORD": secrets.token_urlsafe(24),
             "CACHE_PASSWORD": secrets.token_urlsafe(24), "METRICS_TOKEN": secrets.token_urlsafe(24)}
    profile = project.parent / "shop.toml"
    done = stackprobe("init", "--compose-file", str(project / "compose.yaml"), "--output", str(profile),
                      cwd=project.parent, env=shell)
    assert done.returncode == 0, done.stderr
    written = tomllib.loads(profile.read_text())
    # what init got right by itself, from the files alone
    assert (written["stack"]["env_file"], written["stack"]["env_template"]) == ("", "")
    assert written["services"] == {**written["services"], "database": "db", "cache": "cache", "backend": "api"}
    assert written["database"]["root_password_env"] == "MARIADB_ROOT_PASSWORD"
    assert written["database"]["url_env"] == "DATABASE_URL"  # the app's account, only in its URL
    assert "MAX_UPLOAD_TOKENS" not in str(written["secrets"]) and "SESSION_TOKEN_TTL" not in str(written["secrets"])
    # its hardening, as the compose file declares it: the database adds back what its entrypoint needs
    assert written["hardening"]["capabilities"] == {"db": ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETUID",
                                                           "SETGID"]}, written["hardening"]
    assert set(written["hardening"]["root_allowed"]) == {"db"} and set(written["hardening"]["read_only"]) == {
        "cache", "api"}, written["hardening"]
    # where each role keeps its data, from its writable mounts (the api mounts only read-only files)
    assert written["compose"] == {"database_data_dirs": ["/var/lib/mysql"], "cache_data_dirs": ["/data"],
                                  "backend_data_dirs": []}, written["compose"]
    edit_profile(profile, EDITS)
    return project, profile, shell


@pytest.fixture
def live_instance(inline_stack: tuple[Path, Path, dict[str, str]]) -> Iterator[str]:
    """The stack started as its owner would (`docker compose up`, secrets exported by the shell)."""
    project, _, shell = inline_stack
    name = f"sp20i{secrets.token_hex(3)}"
    compose = ["docker", "compose", "-p", name, "-f", str(project / "compose.yaml")]
    environ = {**{k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}, **shell,
               "API_PORT": str(_free_port())}
    try:
        started = subprocess.run([*compose, "up", "-d", "--wait"], cwd=project, capture_output=True, text=True,
                                 timeout=600, env=environ)
        assert started.returncode == 0, started.stderr[-2000:]
        # its nightly backup, as cron would run it
        backup = subprocess.run(["./backup.sh"], cwd=project, capture_output=True, text=True, timeout=300,
                                env={**environ, "COMPOSE_PROJECT_NAME": name})
        assert backup.returncode == 0, backup.stdout + backup.stderr
        yield name
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "2"], cwd=project, capture_output=True, timeout=300, env=environ)
        shutil.rmtree(project / "backups", ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", ["ephemeral", "live"])
def test_every_suite_judges_every_control_without_a_false_alarm(
        kind: str, inline_stack: tuple[Path, Path, dict[str, str]], request: pytest.FixtureRequest,
        tmp_path: Path) -> None:
    project, profile, shell = inline_stack
    target = ["--target", "live", "--project-name", request.getfixturevalue("live_instance")] if kind == "live" else []
    began = _tree(project)
    # deploy: on a throwaway project of its own (plain docker compose), so only where the suite may start one
    suites = [f"{SUITES}/{suite}" for suite in ("config", "smoke", "logs", "backup_restore", "chaos", "hardening")
              + (("deploy",) if kind == "ephemeral" else ())]
    run = run_pytest(*suites, "--profile", str(profile), "--allow-destructive", *target,
                     report_dir=tmp_path / "reports", env=shell, timeout=1500)
    output = run.stdout + run.stderr
    statuses = run.statuses
    (tmp_path / "statuses.json").write_text(json.dumps(statuses, indent=1))
    print(json.dumps(statuses, indent=1))  # the record of which controls pass, are n/a, fail
    assert statuses, output[-3000:]
    wrong = {c: s for c, s in statuses.items() if s not in {"passed", "not_applicable"}}
    messages = {c: [ch.get("message", "")[:300] for ch in run.results["controls"][c]["checks"]] for c in wrong}
    assert not wrong, (wrong, messages)
    # what is not applicable is what the profile declares absent, and nothing else
    expected = {"ENV-01", "ENV-02", "SEC-05", "SEC-01", "VEC-01", "LOG-02", "LOG-03", "LOG-04", "BKP-06",
                "HRD-09", "HRD-10", "DB-03"} | ({"DEP-03"} if kind == "ephemeral" else set())
    assert {c for c, s in statuses.items() if s == "not_applicable"} == expected, statuses
    # every experiment judged; the read probe failed while the database was stopped
    assert {c for c in statuses if c.startswith("CHS-")} == {f"CHS-0{n}" for n in range(1, 9)}, statuses
    (chs02,) = run.results["controls"]["CHS-02"]["checks"]
    assert chs02["evidence"]["probe_while_out"]["answered_as_usual"] is False, chs02["evidence"]
    # its own backup contract (BACKUP_TO, SHOP_DB, RETAIN_DAYS, restore --into): all judged
    assert {c for c in statuses if c.startswith("BKP-")} == {f"BKP-{n:02d}" for n in range(1, 11)}, statuses
    # hardened its own way (the cache started as its service user, not dropping to it): all judged
    assert {c for c in statuses if c.startswith("HRD-")} == {f"HRD-{n:02d}" for n in range(1, 11)}, statuses
    (log01,) = run.results["controls"]["LOG-01"]["checks"]
    assert "trace=spx-log01-" in log01["evidence"]["marker_request"]["line"], log01["evidence"]
    if kind == "ephemeral":  # plain docker compose as the deploy command: what it offers is judged
        assert statuses["DEP-02"] == "passed", statuses
        dep01 = {ch["nodeid"].split("::")[-1]: ch["status"] for ch in run.results["controls"]["DEP-01"]["checks"]}
        assert {n for n, st in dep01.items() if st == "passed"} == {
            "test_init_on_a_fresh_project_migrates_and_is_safe_to_rerun", "test_stop_start_restart_keep_data",
            "test_logs_show_every_service", "test_backup_writes_a_dump"}, dep01
    # no value of the shell's secrets anywhere in what the run wrote
    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "reports").rglob("*") if p.is_file())
    assert not [k for k, v in shell.items() if v in output + written]
    # the reference stack's names are nowhere in its messages
    failures = json.dumps(run.results["controls"])
    assert not re.search(r"ai_assistant|stack/scripts", failures)
    assert not list(project.glob(".stackprobe*"))  # no state in the user's project
    assert _tree(project) == began  # nothing in the project changed (the live backups included)


# Three defects seeded in the foreign stack's own files, one run: a health check that reads the
# cache but answers "healthy" for the database whatever it is (its own nested contract), an init
# script that grants the app user a global privilege (the user only known from DATABASE_URL), and
# a backup script that ignores BACKUP_TO (it always writes into ./backups, inside the project).
DEFECTS = {
    "app.py": ('"database": status(database_up)', '"database": "up"'),
    "schema.sql": ("CREATE TABLE orders", "GRANT PROCESS ON *.* TO 'shop'@'%';\nCREATE TABLE orders"),
    "backup.sh": ("to=${BACKUP_TO:-./backups}", "to=./backups"),
}


def test_seeded_defects_of_the_foreign_stack_fail_exactly_their_controls(
        inline_stack: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    project, profile, shell = inline_stack
    broken = tmp_path / "shop"
    broken.mkdir()
    for name in ("compose.yaml", "app.py", "schema.sql", "backup.sh", "restore.sh"):
        text = (project / name).read_text()
        if name in DEFECTS:
            good, bad = DEFECTS[name]
            assert good in text, name
            text = text.replace(good, bad)
        (broken / name).write_text(text)
        (broken / name).chmod((project / name).stat().st_mode)
    settings = tomllib.loads(profile.read_text())
    settings["stack"]["project_dir"] = str(broken)
    settings["stack"]["compose_files"] = [str(broken / "compose.yaml")]
    moved = tmp_path / "broken.toml"
    moved.write_text(profile.read_text())
    edit_profile(moved, {"stack": settings["stack"]})
    began = _tree(broken)
    run = run_pytest(f"{SUITES}/smoke", f"{SUITES}/backup_restore", "--profile", str(moved),
                     report_dir=tmp_path / "reports", env=shell, timeout=900)
    statuses = run.statuses
    assert statuses, (run.stdout + run.stderr)[-3000:]
    by_status = {s: {c for c, cs in statuses.items() if cs == s} for s in set(statuses.values())}
    messages = {c: [ch.get("message", "")[:400] for ch in run.results["controls"][c]["checks"]
                    if ch["status"] in {"failed", "error"}] for c in statuses if statuses[c] in {"failed", "error"}}
    assert by_status.get("failed") == {"HLT-03", "HLT-04", "DB-02"}, messages
    assert by_status.get("error") == {f"BKP-{n:02d}" for n in range(1, 11)} - {"BKP-06"}, messages
    said = json.dumps(messages)
    # each names what it saw on this stack, in this stack's names
    assert "database" in " ".join(messages["HLT-03"]) and "db" in " ".join(messages["HLT-03"]), messages
    assert "`shop`" in " ".join(messages["DB-02"]) and "PROCESS" in " ".join(messages["DB-02"]), messages
    (contract,) = {m for c in by_status["error"] for m in messages[c]}  # one line for every backup check
    assert "BACKUP_TO" in contract and "backups/shop-" in contract, contract
    assert not re.search(r"ai_assistant|stack/scripts|BACKUP_DIR|'mysql'|'redis'|'backend'|MYSQL_USER", said), said
    assert not [k for k, v in shell.items() if v in said]
    # an ephemeral copy's stray dumps are removed again: the project's files end as they began
    assert _tree(broken) == began

"""A foreign stack shaped like a self-hosted web app's own compose file, as its users run it.

`board` is a message board: the app (posts in MariaDB, a view counter in Redis) is published only
through a proxy in front of it (the suite reaches the app by an exec relay); its health is plain
text (`/healthcheck` answers `OK`); it logs requests to a file it rotates itself (Python's
RotatingFileHandler, its default time format) and to standard output; Redis is a cache with the
image's default snapshots and no password; the data is bind-mounted under `.data/`; no service
has a healthcheck; there is no deploy script (its owner runs `docker compose`) and no backup
script; the passwords are literal in compose. Its profile is written by `stackprobe init`, then
edited as a user would (the backup declared absent, a finding). The logs, backup, deploy and chaos
suites on an ephemeral copy then fail exactly the stack's real findings of those suites and
nothing else: DEP-01/02 and every experiment pass
(the relay follows the app's container when the update flow recreates it; a restart is judged
once health answers; a proxy nobody called has no log lines to show; Redis, accepted as a
snapshot-only cache, is judged against its last snapshot).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.foreign import init_profile
from support.stacks import SUITES, run_pytest

from e2e.test_foreign_inline import edit_profile

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]

APP_IMAGE = "stackprobe/board:3.7.0"

COMPOSE = """\
services:
  board:
    image: stackprobe/board:3.7.0
    user: root
    restart: always
    command: ["python3", "-u", "/opt/board/serve.py"]
    environment:
      - UPLOAD_FOLDER=/var/uploads
      - DATABASE_URL=mysql+pymysql://board:board@db/board
      - REDIS_URL=redis://cache:6379
      - WORKERS=1
      - LOG_FOLDER=/var/log/board
      - ACCESS_LOG=-
      - ERROR_LOG=-
      - REVERSE_PROXY=true
    volumes:
      - .data/board/logs:/var/log/board
      - .data/board/uploads:/var/uploads
      - ./serve.py:/opt/board/serve.py:ro
    depends_on:
      - db
    networks:
        default:
        internal:

  proxy:
    image: stackprobe/board:3.7.0
    restart: always
    command: ["python3", "-u", "/opt/proxy.py"]
    volumes:
      - ./proxy.py:/opt/proxy.py:ro
    ports:
      - 18480:80
    depends_on:
      - board

  db:
    image: ${MARIADB_IMAGE:-stackprobe/mariadb-standin:10.11}
    restart: always
    environment:
      - MARIADB_ROOT_PASSWORD=board
      - MARIADB_USER=board
      - MARIADB_PASSWORD=board
      - MARIADB_DATABASE=board
      - MARIADB_AUTO_UPGRADE=1
    volumes:
      - .data/mysql:/var/lib/mysql
    networks:
        internal:
    # This command is required to set important mariadb defaults
    command: [mysqld, --character-set-server=utf8mb4, --collation-server=utf8mb4_unicode_ci,
              --wait_timeout=28800, --log-warnings=0]

  cache:
    image: ${REDIS_IMAGE:-stackprobe/redis-standin:7.0}
    restart: always
    volumes:
    - .data/redis:/data
    networks:
        internal:

networks:
    default:
    internal:
        internal: true
"""

SERVE = r'''"""board: a small message board (posts in MariaDB, a view counter in Redis)."""
import datetime, http.server, json, logging, logging.handlers, os, re, sys, threading, urllib.parse

import pymysql
import redis

DB = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
CACHE = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=1, socket_connect_timeout=1)
LOG_FOLDER = os.environ.get("LOG_FOLDER", "/var/log/board")
os.makedirs(LOG_FOLDER, exist_ok=True)
access = logging.getLogger("access")
access.setLevel(logging.INFO)
handler = logging.handlers.RotatingFileHandler(os.path.join(LOG_FOLDER, "access.log"), maxBytes=10_000_000,
                                               backupCount=5)
handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s"))
access.addHandler(handler)
access.addHandler(logging.StreamHandler(sys.stdout))


def db(timeout=2):
    return pymysql.connect(host=DB.hostname, port=DB.port or 3306, user=DB.username, password=DB.password,
                           database=DB.path.lstrip("/"), connect_timeout=timeout, read_timeout=timeout,
                           write_timeout=timeout, autocommit=True)


def create_all():
    for _ in range(60):
        try:
            with db() as conn, conn.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS posts (id INT PRIMARY KEY AUTO_INCREMENT, "
                            "title VARCHAR(200) NOT NULL, created DATETIME DEFAULT CURRENT_TIMESTAMP)")
            return
        except pymysql.MySQLError:
            import time
            time.sleep(1)
    raise SystemExit("database never came up")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, body, kind="application/json"):
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/healthcheck":
            try:
                with db(1) as conn, conn.cursor() as cur:
                    cur.execute("SELECT 1")
                CACHE.ping()
            except Exception:
                return self.reply(500, "ERR", "text/plain")
            return self.reply(200, "OK", "text/plain")
        found = re.fullmatch(r"/api/v1/posts/(\d+)", path)
        if found:
            try:
                with db() as conn, conn.cursor() as cur:
                    cur.execute("SELECT id, title FROM posts WHERE id = %s", (int(found.group(1)),))
                    row = cur.fetchone()
            except Exception as error:
                return self.reply(500, {"success": False, "errors": [type(error).__name__]})
            if row is None:
                return self.reply(404, {"success": False})
            try:
                views = CACHE.incr(f"views:{row[0]}")
            except Exception:
                views = None
            return self.reply(200, {"success": True, "data": {"id": row[0], "title": row[1], "views": views}})
        if path == "/":
            return self.reply(200, "<h1>board</h1>", "text/html")
        return self.reply(404, {"success": False})

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        if path != "/api/v1/posts":
            return self.reply(404, {"success": False})
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        try:
            with db() as conn, conn.cursor() as cur:
                cur.execute("INSERT INTO posts (title) VALUES (%s)", (str(body.get("title", ""))[:200],))
                ident = cur.lastrowid
        except Exception as error:
            return self.reply(500, {"success": False, "errors": [type(error).__name__]})
        return self.reply(200, {"success": True, "data": {"id": ident}})

    def log_message(self, fmt, *args):
        access.info("%s - %s", self.headers.get("X-Forwarded-For", self.address_string())
                    if getattr(self, "headers", None) else self.address_string(), fmt % args)


create_all()
http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
'''

PROXY = '''\
"""The board's front: every request passed to board:8000 (what nginx does in front of it)."""
import http.client, http.server


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection("board", 8000, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "host")}
            headers["X-Forwarded-For"] = self.client_address[0]
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                    self.send_header(key, value)
        except OSError:
            data = b"Bad Gateway"
            self.send_response(502)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = forward


http.server.ThreadingHTTPServer(("0.0.0.0", 80), Proxy).serve_forever()
'''

# What its owner writes into the profile init wrote: the text health, the app's routes, the log
# file and its line format, snapshots accepted for the cache, what the stack does not have, and
# plain docker compose as the deploy command.
EDITS: dict[str, dict[str, Any]] = {
    "stack": {"migrate_command": []},
    "health": {"path": "/healthcheck", "container_port": 8000, "format": "text", "text_healthy": "OK",
               "dependencies": ["database", "redis"], "dependency_services": {"database": "db", "redis": "cache"}},
    "chaos": {"api_probe_path": "/api/v1/posts/1", "api_probe_ok": [200, 404], "api_write_path": "/api/v1/posts",
              "api_write_body": {"title": "{marker}"}, "api_read_path": "/api/v1/posts/{id}",
              "api_write_id_field": "data.id", "load_paths": ["/", "/api/v1/posts/1"],
              "trials": 1, "outage_s": 2.0, "steady_wait_s": 20.0, "heal_timeout_s": 60.0,
              "dependency_recovery_s": 30.0, "writer_crash_after_s": 3.5, "writer_crash_after_writes": 25,
              "writer_after_recovery_writes": 25, "load_after_recovery_s": 2.0},
    "redis": {"persistence": "any"},
    # no backup procedure at all: declared, and left a finding (the default)
    "absent": {"parts": ["metrics", "vector_store", "logrotate", "signing_key", "migrations", "backup"]},
    "logs": {"file": "/var/log/board/access.log",
             "line_pattern": r"^\[(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3})\] (?P<message>.+)$",
             "marker_query_param": "trace"},
    "deploy": {"command": ["docker", "compose"], "subcommands": [],
               "actions": {"help": [], "init": ["{deploy}", "up", "-d", "--wait"],
                           "start": ["{deploy}", "up", "-d", "--wait", "--no-recreate"],
                           "stop": ["{deploy}", "stop"], "restart": ["{deploy}", "restart"],
                           "logs": ["{deploy}", "logs", "--no-color"], "backup": [], "clean": []},
               "env_file_var": "COMPOSE_ENV_FILES", "image_vars": [],
               "update_flow": [["{deploy}", "up", "-d", "--wait", "--force-recreate", "--no-deps", "board"]],
               "read_paths": ["/healthcheck", "/"], "uploads_path": "", "uploads_dir": "", "seed_uploads": 0},
}


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    source = os.environ.get("BACKEND_IMAGE") or "stackprobe/ai-assistant-backend:local"
    subprocess.run(["docker", "tag", source, APP_IMAGE], check=True, capture_output=True, timeout=60)
    try:
        project = tmp_path_factory.mktemp("proxy") / "board"
        project.mkdir()
        for name, text in (("docker-compose.yml", COMPOSE), ("serve.py", SERVE), ("proxy.py", PROXY)):
            (project / name).write_text(text)
        profile, written = init_profile(project, "docker-compose.yml")
        # what init got right by itself: the app is the service that depends on the database (the proxy
        # depends on it in turn), its account is in its URL, its data in the one writable mount that is
        # neither logs nor configuration
        assert (written["services"]["database"], written["services"]["cache"],
                written["services"]["backend"]) == ("db", "cache", "board"), written["services"]
        assert written["database"]["url_env"] == "DATABASE_URL"
        assert written["compose"] == {"database_data_dirs": ["/var/lib/mysql"], "cache_data_dirs": ["/data"],
                                      "backend_data_dirs": ["/var/uploads"]}, written["compose"]
        edit_profile(profile, EDITS)
        yield project, profile
    finally:
        subprocess.run(["docker", "rmi", APP_IMAGE], capture_output=True, timeout=60)


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_logs_deploy_and_chaos_fail_only_the_stacks_real_findings(board: tuple[Path, Path], tmp_path: Path) -> None:
    project, profile = board
    began = _tree(project)
    run = run_pytest(*(f"{SUITES}/{suite}" for suite in ("logs", "backup_restore", "deploy", "chaos")),
                     "--profile", str(profile),
                     report_dir=tmp_path / "reports", timeout=1500)
    statuses = run.statuses
    assert statuses, (run.stdout + run.stderr)[-3000:]
    print(json.dumps(statuses, indent=1))
    controls = run.results["controls"]
    messages = {c: [ch.get("message", "")[:400] for ch in controls[c]["checks"] if ch["status"] in ("failed", "error")]
                for c in statuses}
    # its real findings: a log time without a zone, docker logs without limits; the rotation
    # experiment needs limits nobody states (one line naming the key)
    expected = {"LOG-01": "failed", "LOG-06": "failed", "LOG-02": "error", "LOG-03": "error",
                **{f"BKP-{n:02d}": "failed" for n in range(1, 11)}}
    assert {c: s for c, s in statuses.items() if s not in ("passed", "not_applicable")} == expected, {
        c: m for c, m in messages.items() if c not in expected and m}
    # no backup procedure: each backup control fails naming the declaration, nothing was run
    assert all("has no backup procedure" in messages[f"BKP-{n:02d}"][0] for n in range(1, 11)), messages
    assert "has no UTC offset" in messages["LOG-01"][0], messages["LOG-01"]
    (log01,) = controls["LOG-01"]["checks"]
    assert "trace=spx-log01-" in log01["evidence"]["marker_request"]["line"], log01["evidence"]
    assert all("[logs] max_bytes is not set" in m for c in ("LOG-02", "LOG-03") for m in messages[c]), messages
    # the deploy suite through plain docker compose, the app behind its proxy
    assert (statuses["DEP-01"], statuses["DEP-02"], statuses["DEP-03"]) == ("passed", "passed", "not_applicable")
    dep01 = {ch["nodeid"].split("::")[-1]: ch for ch in controls["DEP-01"]["checks"]}
    assert dep01["test_logs_show_every_service"]["evidence"]["logs"]["services_that_wrote_nothing"] == ["proxy"]
    assert dep01["test_stop_start_restart_keep_data"]["evidence"]["ready_after_restart_s"] is not None
    # every experiment; the cache judged against its last snapshot, as the profile accepts
    assert {c for c, s in statuses.items() if c.startswith("CHS-") and s == "passed"} == {
        f"CHS-0{n}" for n in range(1, 9)}, statuses
    # the app is reached through docker exec: its pollers go slower, and the evidence says so
    (board_crash,) = (ch for ch in controls["CHS-01"]["checks"] if ch["nodeid"].endswith("[board]"))
    assert any(n.startswith("http_200: polled every 0.2 s, at most 4 out (through docker exec")
               for n in board_crash["evidence"]["trials_detail"][0]["notes"]), board_crash["evidence"]
    cache = next(ch for ch in controls["CHS-04"]["checks"] if ch["nodeid"].endswith("[cache]"))
    assert cache["evidence"]["writes"]["fsync"].startswith("none (snapshots only"), cache["evidence"]["writes"]
    said = json.dumps(controls)
    assert not re.search(r"ai_assistant|stack/scripts|'mysql'|'backend'|/app/uploads", said)
    assert _tree(project) == began  # the copy's data went to fresh directories, not the project's .data

"""Target profiles (TOML): where things are and what the policy is.

Every field has a default that fits the runbook's stack, so an empty profile describes the
reference stack. Unknown keys and wrong types are errors naming the key and the file.
The annotated reference of every field is profiles/production.example.toml.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackprobe.absence import PARTS, AbsentSection
from stackprobe.errors import StackprobeUsageError
from stackprobe.secret_names import NOT_SECRET_NAME_PATTERN, SECRET_NAME_PATTERN


@dataclass(frozen=True)
class StackSection:
    compose_files: list[str] = field(default_factory=lambda: ["docker-compose.yml"])
    env_file: str = ".env"
    env_template: str = ".env.example"
    project_name: str = "ai_assistant"
    project_dir: str = "."
    # compose arguments an ephemeral copy runs once it is up, as the runbook's deployment
    # does (step 5: migrate); empty for none; {backend}, {database}, {cache} name [services]
    migrate_command: list[str] = field(
        default_factory=lambda: ["run", "--rm", "-T", "{backend}", "alembic", "upgrade", "head"]
    )
    # values an ephemeral copy puts into the env file it generates (on top of the template),
    # e.g. a small LOG_MAX_BYTES so the gate's throwaway stack rotates its log quickly
    ephemeral_env: dict[str, str] = field(default_factory=dict)
    # an ephemeral copy replaces every writable bind mount with a fresh empty directory; these
    # (paths relative to project_dir, e.g. "./config") are copied instead, seed data included
    ephemeral_copy_binds: list[str] = field(default_factory=list)
    # false: an ephemeral copy uses the services' prebuilt images as they are (build: dropped)
    ephemeral_build: bool = True


@dataclass(frozen=True)
class ServicesSection:
    database: str = "mysql"
    cache: str = "redis"
    backend: str = "backend"


@dataclass(frozen=True)
class HealthSection:
    path: str = "/api/v1/system/health"
    container_port: int = 8000
    latency_budget_ms: int = 1000
    # the health contract (stackprobe.health): "json", or "text" (a plain body such as OK)
    format: str = "json"
    # JSON: fields that must be there (dotted paths, e.g. "components.database.status")
    required_fields: list[str] = field(default_factory=lambda: ["status", "timestamp", "services"])
    # JSON: where the overall status is ("" = the HTTP status alone decides) and its healthy value
    status_field: str = "status"
    healthy_value: str = "healthy"
    # JSON: what each dependency says when fine, where it differs from the overall status (e.g. the
    # overall "ok", each dependency "up", or true); "" = healthy_value
    dependency_healthy_value: str = ""
    # JSON: the map of dependency -> status, and the field holding the status when the map's values
    # are objects ({"database": {"status": "healthy"}}: dependency_status_field = "status")
    dependencies_field: str = "services"
    dependency_status_field: str = ""
    # JSON: a dotted path per dependency, where one is not in that map
    dependency_paths: dict[str, str] = field(default_factory=dict)
    # JSON: the timestamp HLT-02 judges (aware, near now); "" when the contract has none
    timestamp_field: str = "timestamp"
    # text: the body of a healthy answer
    text_healthy: str = "OK"
    dependencies: list[str] = field(default_factory=lambda: ["database", "redis", "vector_store"])
    # health dependency name -> compose service that provides it (for outage checks)
    dependency_services: dict[str, str] = field(
        default_factory=lambda: {"database": "mysql", "redis": "redis"}
    )
    max_clock_skew_s: float = 30.0
    reflect_within_s: float = 2.0
    recover_within_s: float = 15.0
    # ephemeral copies: how long a backend without a Docker healthcheck (compose --wait cannot
    # wait for it) may take to answer its health URL at all after the copy started
    start_wait_s: float = 90.0
    # HLT-03/04: how long health is watched after a dependency is stopped
    outage_window_s: float = 30.0


@dataclass(frozen=True)
class MetricsSection:
    path: str = "/metrics"
    container_port: int = 9090
    required_families: dict[str, str] = field(
        default_factory=lambda: {
            "http_requests_total": "counter",
            "http_request_duration_seconds": "histogram",
            "llm_api_calls_total": "counter",
            "vector_store_operations_total": "counter",
        }
    )
    request_counter: str = "http_requests_total"
    # MET-02: which worker answers a scrape is up to the kernel, often 4:1 or worse for one of
    # them; 40 scrapes miss the other one about once in 10^4 at 4:1 (0.8**40)
    scrapes: int = 40
    traffic_requests: int = 20
    # MET-02/03: the backend path their traffic GETs (any cheap route the counters count)
    traffic_path: str = "/api/v1/system/ping"
    use_promtool: bool = True


@dataclass(frozen=True)
class CredentialsSection:
    # names of environment variables holding credentials for protected endpoints;
    # the values are never stored in a profile
    bearer_token_env: str = ""
    basic_user_env: str = ""
    basic_password_env: str = ""


@dataclass(frozen=True)
class DatabaseSection:
    container_port: int = 3306
    # the backend's own database account: a URL variable (DATABASE_URL-style, e.g.
    # mysql+pymysql://user:pass@db/app) when set, else the user and password variables; each is
    # read from the backend container's environment, else from the env file
    url_env: str = ""
    user_env: str = "MYSQL_USER"
    password_env: str = "MYSQL_PASSWORD"
    database_env: str = "MYSQL_DATABASE"
    root_password_env: str = "MYSQL_ROOT_PASSWORD"
    # accepted server versions as prefixes of `SELECT VERSION()`
    version_prefixes: list[str] = field(default_factory=lambda: ["8.0."])
    charset: str = "utf8mb4"
    migration_table: str = "alembic_version"
    # run in the backend service to print the head revision(s)
    migration_heads_command: list[str] = field(default_factory=lambda: ["alembic", "heads"])
    # a read-only account for live targets (names of variables, looked up in the process
    # environment, then in the env file); empty: the app account from user_env/password_env
    readonly_user_env: str = ""
    readonly_password_env: str = ""


@dataclass(frozen=True)
class RedisSection:
    container_port: int = 6379
    password_env: str = "REDIS_PASSWORD"
    version_prefixes: list[str] = field(default_factory=lambda: ["7.0."])
    # "aof", "rdb", "aof+rdb", "any" (at least one) or "none"
    persistence: str = "aof"
    # RDS-02: "required" (Redis refuses commands without AUTH), "any", or "" = required when
    # Redis is reachable from more than the backend (read from the compose model's networks)
    auth: str = ""


@dataclass(frozen=True)
class VectorStoreSection:
    # the search request (VEC-01, BKP-06, DEP-02): method, path and a JSON body template in which
    # {text} is the query (as a JSON string) and {k} the number of hits
    query_method: str = "POST"
    query_path: str = "/api/v1/documents/search"
    query_body: str = '{"query": {text}, "k": {k}}'
    query_text: str = "stackprobe vector store probe"
    # where the answer holds the ranked ids and their distances (dotted paths; "" for none)
    ids_path: str = "ids"
    distances_path: str = "distances"


@dataclass(frozen=True)
class ContainersSection:
    # CTR-01: a restart by Docker this recent fails (a crash loop looks fine between restarts);
    # observe_s > 0 also watches the containers' states for that long
    recent_restart_s: float = 600.0
    observe_s: float = 0.0
    healthcheck_max_interval_s: float = 60.0
    healthcheck_max_timeout_s: float = 30.0
    healthcheck_min_retries: int = 1
    healthcheck_max_retries: int = 10
    restart_policies: list[str] = field(
        default_factory=lambda: ["always", "unless-stopped", "on-failure"]
    )
    # services that run to completion (migrations, one-shot jobs): no restart policy needed
    one_shot_services: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ComposeSection:
    # SEC-06: host addresses the database and cache ports may be published on
    allowed_host_ips: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    # CMP-01: true demands an image digest; false accepts a tag other than `latest`
    require_digest: bool = False
    # CMP-01: directories whose data must live on named volumes, per role
    database_data_dirs: list[str] = field(default_factory=lambda: ["/var/lib/mysql"])
    cache_data_dirs: list[str] = field(default_factory=lambda: ["/data"])
    backend_data_dirs: list[str] = field(default_factory=lambda: ["/app/uploads", "/app/vector_db"])
    # LOG-06: drivers that ship logs off the host (bounded by their own backend)
    log_remote_drivers: list[str] = field(
        default_factory=lambda: ["syslog", "journald", "fluentd", "gelf", "awslogs", "gcplogs", "splunk"]
    )
    # LOG-06: json-file/local need max-size; true also demands max-file
    log_require_max_file: bool = True


# ISO-8601 time with milliseconds and UTC offset, level, pid, logger, message (the reference
# backend's `%(asctime)s %(levelname)s %(process)d %(name)s %(message)s`)
LOG_LINE_PATTERN = (
    r"^(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}) "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) (?P<pid>\d+) (?P<logger>[A-Za-z_][\w.-]*) "
    r"(?P<message>.*)$"
)
# lines that continue the record before them (a traceback): indented, or a traceback's frame
# header, chained-exception text, an empty line, or the final `module.Error: text` line
LOG_CONTINUATION_PATTERN = (
    r"^(\s.*|Traceback \(most recent call last\):|During handling of the above exception.*"
    r"|The above exception was the direct cause.*|[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)"
    r"(: .*)?|)$"
)


@dataclass(frozen=True)
class LogsSection:
    # the service that writes the log file; "" = [services] backend
    service: str = ""
    # the log file in that service's container, its size limit and number of backups; an
    # empty/negative value is read from the service's environment (the env file second)
    file: str = ""
    file_env: str = "LOG_FILE"
    max_bytes: int = 0
    max_bytes_env: str = "LOG_MAX_BYTES"
    backup_count: int = -1
    backup_count_env: str = "LOG_BACKUP_COUNT"
    # LOG-01: every line matches line_pattern (a Python regex; a named group `time`, when
    # present, must be an ISO-8601 time with a UTC offset) or continues a record
    line_pattern: str = LOG_LINE_PATTERN
    continuation_pattern: str = LOG_CONTINUATION_PATTERN
    # the access log line carries the request id: group `id` of this regex
    request_id_pattern: str = r"request id=(?P<id>[^\s]+)"
    request_id_header: str = "X-Request-ID"
    # LOG-01 marks its request with that header; an access log that shows the request line but
    # no request id (gunicorn's, http.server's) is marked by a query parameter of this name too
    marker_query_param: str = ""
    # LOG-01: a marker request (GET health) must show up in the log file within this
    appear_within_s: float = 10.0
    # LOG-02/03 (destructive: it writes many lines): GET this path on the backend with unique
    # request ids until the log rotated more than backup_count + rotation_margin - 1 times
    traffic_path: str = "/api/v1/system/ping"
    traffic_max_requests: int = 5000
    traffic_concurrency: int = 16
    traffic_max_seconds: float = 90.0
    # rotations beyond backup_count: a race between writer processes shows only when a file
    # one process still writes is rotated away, so more rotations give the race more chances
    # (20 x 16 KiB on the gate's copy is about 2500 requests, a few seconds)
    rotation_margin: int = 20
    # LOG-03 assumes a request's access line is written before the response is sent (the
    # reference middleware logs, then responds); a backend that logs after responding needs
    # the seconds it may lag here, or a late line reads as lost from the middle
    access_log_lag_s: float = 0.0
    # LOG-04: the logrotate file (relative to project_dir), checked with `logrotate -d`, and
    # the directives it must set in every block (a directive matches by its leading words)
    logrotate_file: str = "stack/scripts/logrotate/ai-assistant"
    logrotate_policy: list[str] = field(
        default_factory=lambda: ["daily", "rotate 30", "compress", "delaycompress", "notifempty", "create 0644"]
    )
    logrotate_command: str = "logrotate"


@dataclass(frozen=True)
class ConfigSection:
    # SEC-07 in effect: read every layer of every service image (`docker image save`) for a
    # baked-in env file or a secret value; off leaves the history and image configuration only
    image_scan: bool = True
    # bound on the whole layer scan; past it SEC-07 fails as unproven (raise it, never lower)
    image_scan_timeout_s: float = 180.0
    # files larger than this are checked by name only, not searched for secret values
    image_scan_max_file_bytes: int = 1048576
    # ENV-01: template keys that may be empty or absent; ENV-02: keys allowed beyond the
    # template and the compose files' variables (compose's own COMPOSE_* always are)
    optional_keys: list[str] = field(default_factory=list)
    extra_keys: list[str] = field(default_factory=list)
    # ENV-03: ENVIRONMENT values that mean production (unset means production when
    # unset_environment_is_production: the compose file defaults it so); "" expects none,
    # else ENVIRONMENT must be exactly expected_environment
    environment_key: str = "ENVIRONMENT"
    production_values: list[str] = field(default_factory=lambda: ["production", "prod"])
    unset_environment_is_production: bool = True
    expected_environment: str = ""
    # ENV-03 in production: DEBUG must be one of debug_off_values (case-insensitive) and
    # LOG_LEVEL none of forbidden_log_levels
    debug_key: str = "DEBUG"
    debug_off_values: list[str] = field(default_factory=lambda: ["false", "0", "no", "off"])
    log_level_key: str = "LOG_LEVEL"
    forbidden_log_levels: list[str] = field(default_factory=lambda: ["DEBUG", "TRACE", "NOTSET"])
    # SEC-05: permission bits the env file may have at most, and its allowed owners
    # ([] = root or the user running the check)
    env_file_max_mode: int = 0o600
    env_file_owners: list[str] = field(default_factory=list)


CHAR_CLASSES = ("lower", "upper", "digit", "symbol", "other")


@dataclass(frozen=True)
class SecretsSection:
    # SEC-01: the signing key, guessed offline at GPU speed
    secret_key: str = "SECRET_KEY"
    secret_key_min_length: int = 32
    secret_key_min_entropy_bits: float = 128.0
    # SEC-02: passwords (strength, defaults, reuse) and other secrets (defaults and reuse
    # only: their format is the issuer's)
    password_keys: list[str] = field(
        default_factory=lambda: ["MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "REDIS_PASSWORD"]
    )
    password_min_length: int = 16
    password_min_entropy_bits: float = 80.0
    other_secret_keys: list[str] = field(default_factory=lambda: ["DASHSCOPE_API_KEY"])
    # SEC-01/02: character classes ("lower", "upper", "digit", "symbol", "other"): at least
    # min_char_classes of them, and every one of required_char_classes
    min_char_classes: int = 2
    required_char_classes: list[str] = field(default_factory=list)
    # SEC-01/02: rejected on top of the built-in list (the runbook's example values, common
    # passwords, every value of the env template); placeholder_patterns: more Python regexes
    # (case-insensitive) that mark a value as "fill me in"
    known_defaults: list[str] = field(default_factory=list)
    placeholder_patterns: list[str] = field(default_factory=list)
    # SEC-01/02/04/07, LOG-05, the redactor: variable names treated as secrets wherever they
    # appear (a Python regex, searched case-insensitively), unless a word of the name matches
    # not_secret_pattern (durations, counts, limits, flags, hosts, ports, paths: ..._EXPIRE_DAYS,
    # ..._MAX_TOKENS) or the value is a number, a duration, a boolean or a URL without a password.
    # secret_key, password_keys and other_secret_keys always count, whatever their shape.
    secret_name_pattern: str = SECRET_NAME_PATTERN
    not_secret_pattern: str = NOT_SECRET_NAME_PATTERN
    # SEC-03
    bcrypt_key: str = "BCRYPT_ROUNDS"
    min_bcrypt_rounds: int = 12
    # LOG-05, SEC-07: a value is searched for in logs, image files and process arguments only
    # when it is distinctive (this long and this many estimated bits); a weaker one would match
    # by accident, and SEC-01/02 report it as too weak to search for
    search_min_length: int = 12
    search_min_entropy_bits: float = 40.0
    # LOG-05, SEC-07: the pattern scan for secrets the run does not know (detect-secrets): the
    # bytes read per log, the time for all logs, the size of an image's text files it reads
    pattern_scan_max_bytes: int = 16777216
    pattern_scan_timeout_s: float = 60.0
    pattern_scan_file_max_bytes: int = 65536


@dataclass(frozen=True)
class PhaseSlo:
    """Recovery SLO of one service, per phase, in seconds from the fault (crash) or from the
    moment the fault is undone (stop, pause, partition, slow)."""

    running_s: float = 10.0  # the container runs again (a new main process)
    healthy_s: float = 90.0  # Docker reports it healthy (its healthcheck passed again)
    http_200_s: float = 60.0  # the health endpoint answers 200 (the service back)
    first_write_s: float = 60.0  # the first write through the service succeeds (and reads back)


def _reference_slos() -> dict[str, PhaseSlo]:
    # the reference stack's healthchecks run every 10 s (mysql, redis) and 30 s (backend), and
    # Docker 20.10 has no start_interval: "healthy" comes one interval after the restart at the
    # earliest; the rest is start-up (MariaDB crash recovery, uvicorn + Chroma), about 3x headroom
    return {
        "mysql": PhaseSlo(running_s=5.0, healthy_s=40.0, http_200_s=30.0, first_write_s=30.0),
        "redis": PhaseSlo(running_s=5.0, healthy_s=30.0, http_200_s=20.0, first_write_s=20.0),
        "backend": PhaseSlo(running_s=5.0, healthy_s=75.0, http_200_s=45.0, first_write_s=45.0),
    }


@dataclass(frozen=True)
class ChaosSection:
    # CHS-01: crashes per service (p50/p95 over them) and which services; [] = the
    # [services] database, cache and backend
    trials: int = 3
    crash_services: list[str] = field(default_factory=list)
    # recovery SLOs per service (a table per service replaces the built-in ones for it);
    # services without one use default_slo
    slo: dict[str, PhaseSlo] = field(default_factory=_reference_slos)
    default_slo: PhaseSlo = field(default_factory=PhaseSlo)
    # every watcher (Docker state, health, writes) polls this often; at most 0.1 (the recovery
    # times agree with an independent observer within 200 ms at 0.05, not always at 0.1)
    poll_interval_s: float = 0.05
    # a phase not reached this long after the fault counts as never reached
    recovery_timeout_s: float = 180.0
    # before an experiment: how long the steady state may take to hold before the experiment
    # is aborted; after one: how long the undo may take to bring it back
    steady_wait_s: float = 30.0
    heal_timeout_s: float = 180.0
    # CHS-02/03/05/06: how long a dependency stays stopped, frozen, slowed or partitioned; every
    # health answer meanwhile within degraded_latency_s ("promptly"; a longer one is a hang);
    # after the undo, health 200 and the backend's data path (an API write read back where
    # allowed, else the API probe) within dependency_recovery_s; also after a dependency's crash
    # (CHS-01) and after every experiment (CHS-08)
    outage_s: float = 10.0
    degraded_latency_s: float = 5.0
    dependency_recovery_s: float = 60.0
    # health dependency names ([health] dependency_services) frozen (CHS-05: paused, then
    # slowed) and partitioned (CHS-06)
    freeze_dependencies: list[str] = field(default_factory=lambda: ["database"])
    freeze_faults: list[str] = field(default_factory=lambda: ["pause", "slow"])  # CHS-05: either or both
    partition_dependencies: list[str] = field(default_factory=lambda: ["database"])
    # CHS-05 slowed: latency added to the dependency's network (tc netem; on a kernel without
    # sch_netem, a tbf rate limit that delays a 100-byte packet by about as much); above the
    # backend's probe timeout, so an unbounded probe would hang
    slow_latency_s: float = 3.0
    # a read through the backend's own pooled clients (Redis cache, then MySQL): any status
    # in api_probe_ok means it answered; the data path where API writes are not allowed, and
    # CHS-07's load; read-only
    api_probe_path: str = "/api/v1/documents/0"
    api_probe_ok: list[int] = field(default_factory=lambda: [200, 404])
    # writes through the backend's API (POST api_write_path with api_write_body, then GET
    # api_read_path): the backend's first_write. Always on ephemeral targets; on live targets
    # only with api_write_on_live (an API write creates real data: not a canary object)
    api_write_path: str = "/api/v1/documents"
    api_write_body: dict[str, str] = field(
        default_factory=lambda: {"title": "stackprobe canary", "content": "{marker}"})
    api_read_path: str = "/api/v1/documents/{id}"
    # where the new document's id is in the POST's JSON answer (a dotted path, e.g. "data.note_id")
    api_write_id_field: str = "id"
    api_write_on_live: bool = False
    # CHS-04: a bounded writer (MySQL canary rows, Redis canary keys) crashed in the middle:
    # the crash comes after crash_after_writes acknowledged writes, the writer stops
    # after_recovery_writes acknowledged writes later, or at its bounds
    writer_max_writes: int = 3000
    writer_max_s: float = 90.0
    writer_interval_s: float = 0.02
    writer_crash_after_writes: int = 50
    writer_crash_after_s: float = 5.0  # ... and at least this long after the writer started
    writer_after_recovery_writes: int = 50
    # Redis with appendfsync everysec acknowledges writes it has not written to its AOF yet while
    # an fsync is in flight (it postpones the write by up to 2 s): acknowledged writes this close
    # before a crash may be lost, and are counted apart. 0 demands none (appendfsync always)
    redis_everysec_window_s: float = 2.0
    # CHS-07: bounded load on the backend (GET these paths; ok statuses as api_probe_ok)
    # while it crashes; errors count only inside [crash, recovered + error_grace_s]
    load_paths: list[str] = field(default_factory=lambda: ["/api/v1/system/ping", "/api/v1/documents/0"])
    load_concurrency: int = 4
    load_max_requests: int = 20000
    load_max_s: float = 120.0
    load_after_recovery_s: float = 5.0
    error_grace_s: float = 1.0
    # host commands of the faults (kill -9 of the main process, nsenter ... tc) run with this
    # prefix, e.g. ["sudo", "-n"] for a remote host reached as a non-root user
    host_command_prefix: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SafetySection:
    allow_destructive: bool = False
    destructive_services: list[str] = field(default_factory=list)
    # run only the checks marked nightly (the production-safe set), like `-m nightly`
    nightly_only: bool = False


@dataclass(frozen=True)
class SshSection:
    # ssh://user@host[:port] of a live target on another host; empty: this host
    host: str = ""
    identity_file: str = ""  # private key (key authentication only)
    known_hosts_file: str = ""  # empty: ~/.ssh/known_hosts; host keys are always checked
    connect_timeout_s: int = 10
    docker_socket: str = "/var/run/docker.sock"  # the engine's socket on that host
    # "service:container_port" -> "host:port" reachable from here; unnamed ports are
    # tunnelled over the SSH connection to 127.0.0.1 (random local ports)
    addresses: dict[str, str] = field(default_factory=dict)


DEPLOY_ACTIONS = ("help", "init", "start", "stop", "restart", "logs", "backup", "clean")


@dataclass(frozen=True)
class DeploySection:
    # the deployment's deploy script (relative paths: to the project directory) and the
    # subcommands its help documents; DEP-01 runs them on a throwaway project of its own
    command: list[str] = field(default_factory=lambda: ["stack/scripts/deploy.sh"])
    subcommands: list[str] = field(
        default_factory=lambda: ["help", "init", "update", "start", "stop", "restart", "logs",
                                 "build", "backup", "clean"]
    )
    # the suite's actions (DEPLOY_ACTIONS) -> the argv that does each ({deploy} is `command`);
    # an action not named here is `{deploy} <action>`, one set to [] is one the deploy command
    # does not offer: the checks that need it are not applicable
    actions: dict[str, list[str]] = field(default_factory=dict)
    # how the deploy command is pointed at an env file and at compose files (":"-separated)
    env_file_var: str = "STACK_ENV_FILE"
    compose_files_var: str = "COMPOSE_FILE"
    # arguments after `clean` that confirm it without a prompt
    clean_confirm_args: list[str] = field(default_factory=lambda: ["--yes"])
    # env-file keys naming images the deploy command builds: a throwaway project builds them
    # under a tag of its own (removed afterwards), never over the deployment's own tags
    image_vars: list[str] = field(default_factory=lambda: ["BACKEND_IMAGE"])
    # variable telling the backup command where to write, and the dump files it writes there
    backup_dir_var: str = "BACKUP_DIR"
    backup_glob: str = "*.sql.gz"
    # the update flow, one argv per step, run in the project directory; {deploy} is `command`
    update_flow: list[list[str]] = field(default_factory=lambda: [["{deploy}", "update"]])
    # run in the backend service: the schema's revision(s); the heads come from
    # [database] migration_heads_command
    migration_current_command: list[str] = field(default_factory=lambda: ["alembic", "current"])
    # DEP-02: the outage the update flow causes (first failed read to health answering again)
    update_slo_s: float = 120.0
    command_timeout_s: float = 600.0
    # bounded read traffic during the update: one request per interval, at most this many
    read_paths: list[str] = field(
        default_factory=lambda: ["/api/v1/system/health", "/api/v1/documents/{document_id}"]
    )
    traffic_interval_s: float = 0.2
    traffic_max_requests: int = 3000
    # data the update must keep: documents (rows + vectors; stored with [chaos]'s API write) and
    # uploaded files
    uploads_path: str = "/api/v1/uploads/{name}"
    uploads_dir: str = "/app/uploads"
    seed_documents: int = 5
    seed_uploads: int = 3

    def action(self, name: str) -> list[str]:
        """The argv of one of DEPLOY_ACTIONS ([]: the deploy command does not offer it)."""
        return list(self.actions.get(name, ["{deploy}", name]))


@dataclass(frozen=True)
class BackupSection:
    # the deployment's backup and restore commands (relative paths: to project_dir), run on the
    # host the stack runs on; in restore_command {file} is the dump, {database} the scratch
    # database the suite restores into (never the live one)
    command: list[str] = field(default_factory=lambda: ["stack/scripts/backup.sh"])
    restore_command: list[str] = field(
        default_factory=lambda: ["stack/scripts/restore.sh", "{file}", "--database", "{database}"]
    )
    # how the commands are pointed at things (variables of their environment); an empty name
    # is not set. files_var=1 also archives uploads/ and vector_db/, 0 the database only
    dir_var: str = "BACKUP_DIR"
    database_var: str = "BACKUP_DATABASE"
    files_var: str = "BACKUP_FILES"
    retention_var: str = "BACKUP_RETENTION_DAYS"
    env_file_var: str = "STACK_ENV_FILE"
    compose_files_var: str = "COMPOSE_FILE"
    # more variables for both commands (not secrets: the commands read those themselves)
    env: dict[str, str] = field(default_factory=dict)
    command_timeout_s: float = 600.0
    # the contract probe, before any backup check judges anything: the backup command (then the
    # restore command) run once with the variables above into a scratch directory and a canary
    # database, the deployment's directory (project_dir, the compose files' directories and
    # `dir`) read before and after by path and SHA-256. A command that wrote elsewhere or ignored
    # a variable errors every backup check. The reading is bounded (entries, shallowest first,
    # and MiB hashed; beyond, size and mtime); the stack's writable bind mounts are not read.
    # contract_ignore: globs (relative to project_dir) of files the deployment changes by itself
    # meanwhile (a host process's log), not counted as the command's writes; hidden directories
    # (.git, .venv, tool caches: written by tools at any time) are read only with contract_hidden_dirs
    contract_max_files: int = 20000
    contract_hash_mb: int = 16
    contract_ignore: list[str] = field(default_factory=list)
    contract_hidden_dirs: bool = False
    # the deployment's backup directory (relative: to project_dir; on an SSH host, the host's
    # path): BKP-07/08/10 judge what is there; the suite never writes into it
    dir: str = "backups"
    # names the backup command gives its artifacts (globs); retention applies to these only
    dump_pattern: str = "backup_*.sql.gz"
    archive_patterns: dict[str, str] = field(
        default_factory=lambda: {"uploads": "uploads_backup_*.tar.gz", "vector_db": "vector_db_backup_*.tar.gz"}
    )
    # BKP-06: where the archived directories live in the backend container
    archive_sources: dict[str, str] = field(
        default_factory=lambda: {"uploads": "/app/uploads", "vector_db": "/app/vector_db"}
    )
    # BKP-06: the Chroma collection the backend keeps in vector_db/, and the module (in the
    # backend image) whose embed(text) makes its query vectors
    chroma_collection: str = "documents"
    embed_module: str = "app.embeddings"
    # BKP-05: backups older than this many whole days are pruned (`find -mtime +N`: a backup
    # exactly N days old stays, one N+1 days old goes); other files are never touched
    retention_days: int = 30
    # BKP-07: the newest backup must be younger than this (a daily job plus an hour)
    rpo_s: float = 90000.0
    # BKP-08: restoring the newest backup into a scratch database must take at most this
    rto_s: float = 900.0
    # BKP-03: a bounded writer moves amounts between two tables during a dump; the dump must
    # restore to an unchanged total and no commit may wait longer than max_write_stall_s.
    # padding_mb of table data make the dump last long enough to tell (it grows, up to
    # max_padding_mb, until the dump lasts min_dump_s)
    max_write_stall_s: float = 1.0
    padding_mb: int = 32
    max_padding_mb: int = 192
    min_dump_s: float = 2.0
    writer_interval_s: float = 0.02
    writer_max_transactions: int = 20000
    writer_max_seconds: float = 180.0
    # BKP-02: generated edge-case rows per table (hypothesis), and the size of the large rows
    dataset_rows: int = 60
    large_row_bytes: int = 1_500_000


@dataclass(frozen=True)
class ReportSection:
    # waiver file (TOML, [[waiver]] tables); "" for none. Relative to project_dir.
    waivers: str = ""
    # history file (one JSON line per run); "" means <report dir>/history.jsonl
    history: str = ""
    # also print controls.html to controls.pdf with headless Chromium at the end of a run
    pdf: bool = False
    # lowest severity whose failure fails the run: critical, high, medium, low ("" = low: every failure)
    fail_on: str = ""
    # also write stackprobe.prom here (node_exporter's textfile collector directory), atomically
    prom_textfile: str = ""
    # attestation file (TOML, [[attestation]] tables) for controls checked by people; "" none
    attestations: str = ""
    # OpenSSH private key that signs SHA256SUMS (ssh-keygen -Y sign); "" leaves the run unsigned
    sign_key: str = ""


@dataclass(frozen=True)
class CatalogueSection:
    # the user's own controls: a TOML file of [[control]] tables (id, title, why, fix, severity,
    # suite, tags), relative to the profile's directory; "" for none (see stackprobe.user_catalogue)
    extra: str = ""


@dataclass(frozen=True)
class HardeningSection:
    # HRD-01: services allowed to start as root, each with the reason (shown in the evidence)
    root_allowed: dict[str, str] = field(default_factory=dict)
    # HRD-02: capabilities each service may add back (cap_add), by service; and whether every
    # service must drop all capabilities first (cap_drop: [ALL])
    capabilities: dict[str, list[str]] = field(default_factory=dict)
    require_cap_drop_all: bool = True
    # HRD-04: host directories no container may mount (any path under one only read-only);
    # the container runtime's socket is refused in any mode
    host_paths: list[str] = field(default_factory=lambda: ["/", "/boot", "/dev", "/etc", "/lib", "/proc",
                                                             "/sys", "/usr"])
    # HRD-06: upper bounds of the memory (MiB) and PID limits every service must set
    memory_max_mb: int = 4096
    pids_max: int = 4096
    # HRD-07: services that must run with a read-only root filesystem -> their writable paths
    # (each a tmpfs or a volume)
    read_only: dict[str, list[str]] = field(default_factory=dict)
    # HRD-08: "version" (a tag with at least min_version_parts numbers, e.g. 7.0 or 3.11-slim)
    # or "digest" (@sha256:...); floating tags (latest, stable, alpine, a bare major) never pin
    pinning: str = "version"
    min_version_parts: int = 2
    # HRD-10: hadolint's failure threshold ("error", "warning", "info", "style") and rules to ignore
    hadolint_threshold: str = "warning"
    hadolint_ignore: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Profile:
    stack: StackSection = field(default_factory=StackSection)
    services: ServicesSection = field(default_factory=ServicesSection)
    health: HealthSection = field(default_factory=HealthSection)
    metrics: MetricsSection = field(default_factory=MetricsSection)
    credentials: CredentialsSection = field(default_factory=CredentialsSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    redis: RedisSection = field(default_factory=RedisSection)
    vector_store: VectorStoreSection = field(default_factory=VectorStoreSection)
    containers: ContainersSection = field(default_factory=ContainersSection)
    compose: ComposeSection = field(default_factory=ComposeSection)
    config: ConfigSection = field(default_factory=ConfigSection)
    secrets: SecretsSection = field(default_factory=SecretsSection)
    logs: LogsSection = field(default_factory=LogsSection)
    safety: SafetySection = field(default_factory=SafetySection)
    absent: AbsentSection = field(default_factory=AbsentSection)
    deploy: DeploySection = field(default_factory=DeploySection)
    backup: BackupSection = field(default_factory=BackupSection)
    report: ReportSection = field(default_factory=ReportSection)
    ssh: SshSection = field(default_factory=SshSection)
    chaos: ChaosSection = field(default_factory=ChaosSection)
    catalogue: CatalogueSection = field(default_factory=CatalogueSection)
    hardening: HardeningSection = field(default_factory=HardeningSection)
    # where the profile came from, for reports (not a TOML key)
    source: str = field(default="(defaults)", compare=False)
    sha256: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # one declaration: a cache declared absent is no service's role (every reader of
        # [services] cache then sees "", as for a role the stack does not have)
        if "cache" in self.absent.parts and self.services.cache:
            object.__setattr__(self, "services", dataclasses.replace(self.services, cache=""))


def role_names(profile: Profile) -> dict[str, str]:
    """What `{database}`, `{cache}` and `{backend}` stand for in commands and markers."""
    roles = profile.services
    return {"database": roles.database, "cache": roles.cache, "backend": roles.backend}


def with_roles(argv: list[str], profile: Profile) -> list[str]:
    """`argv` with the service role placeholders filled from [services]."""
    names = role_names(profile)
    return [re.sub(r"\{(database|cache|backend)\}", lambda m: names[m.group(1)], arg) for arg in argv]


def _type_ok(value: Any, expected: Any) -> bool:
    origin = typing.get_origin(expected)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        (item,) = typing.get_args(expected)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(expected)
        return isinstance(value, dict) and all(
            _type_ok(k, key) and _type_ok(v, item) for k, v in value.items()
        )
    if isinstance(expected, types.UnionType):
        return any(_type_ok(value, arm) for arm in typing.get_args(expected))
    return isinstance(value, expected)


def _describe(expected: Any) -> str:
    return getattr(expected, "__name__", None) or str(expected).replace("typing.", "")


def _dataclass_values(expected: Any) -> type[Any] | None:
    """The item class of a dict[str, SomeDataclass] field, else None."""
    if typing.get_origin(expected) is dict:
        _, item = typing.get_args(expected)
        if dataclasses.is_dataclass(item):
            return item  # type: ignore[return-value]
    return None


def _build(cls: type[Any], data: dict[str, Any], file: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name not in {"source", "sha256"}}
    for key in data:
        if key not in known:
            import difflib

            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {where}{close[0]!r}?)" if close else ""
            raise StackprobeUsageError(
                f"profile {file}: unknown key {where}{key!r}{hint}; valid keys: {', '.join(sorted(known))}"
            )
    values: dict[str, Any] = {}
    for key, value in data.items():
        expected = hints[key]
        if dataclasses.is_dataclass(expected):
            if not isinstance(value, dict):
                raise StackprobeUsageError(
                    f"profile {file}: [{where}{key}] must be a table, got {type(value).__name__}"
                )
            values[key] = _build(expected, value, file, f"{where}{key}.")  # type: ignore[arg-type]
        elif _dataclass_values(expected) is not None:
            if not isinstance(value, dict):
                raise StackprobeUsageError(
                    f"profile {file}: [{where}{key}] must be a table of tables, got {type(value).__name__}"
                )
            item_cls = _dataclass_values(expected)
            built = {}
            for name, table in value.items():
                if not isinstance(table, dict):
                    raise StackprobeUsageError(
                        f"profile {file}: [{where}{key}.{name}] must be a table, got {type(table).__name__}"
                    )
                built[name] = _build(item_cls, table, file, f"{where}{key}.{name}.")  # type: ignore[arg-type]
            values[key] = built
        elif not _type_ok(value, expected):
            raise StackprobeUsageError(
                f"profile {file}: key {where}{key} must be {_describe(expected)}, "
                f"got {type(value).__name__} {value!r}"
            )
        else:
            values[key] = float(value) if expected is float else value
    return cls(**values)


def load_profile(path: Path | None) -> Profile:
    """Load and validate a profile; None gives the defaults (the reference stack)."""
    if path is None:
        return Profile()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StackprobeUsageError(
            f"profile {path} does not exist: pass --profile with an existing file "
            "(see profiles/production.example.toml)"
        ) from None
    except OSError as error:
        raise StackprobeUsageError(f"profile {path} cannot be read: {error.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise StackprobeUsageError(f"profile {path} is not valid TOML: {error}") from None
    profile: Profile = _build(Profile, data, str(path), "")
    _validate(profile, str(path))
    return dataclasses.replace(
        profile, source=str(path), sha256=hashlib.sha256(raw).hexdigest()
    )


def _validate(profile: Profile, file: str) -> None:
    """Values whose type is right but whose meaning is not."""
    _validate_secrets(profile, file)
    _validate_health(profile, file)
    _validate_absent(profile, file)
    _validate_deploy(profile.deploy, file)
    _validate_hardening(profile.hardening, file)
    chaos = profile.chaos
    if not 0 < chaos.poll_interval_s <= 0.1:
        raise StackprobeUsageError(
            f"profile {file}: chaos.poll_interval_s = {chaos.poll_interval_s:g} must be above 0 and at most 0.1 "
            "(recovery times are polled at 100 ms or finer)")
    if chaos.trials < 1:
        raise StackprobeUsageError(f"profile {file}: chaos.trials = {chaos.trials} must be at least 1")
    if not chaos.freeze_faults or set(chaos.freeze_faults) - {"pause", "slow"}:
        raise StackprobeUsageError(
            f"profile {file}: chaos.freeze_faults = {chaos.freeze_faults} must name \"pause\", \"slow\" or both")
    for key in ("freeze_dependencies", "partition_dependencies"):
        unknown = [d for d in getattr(chaos, key) if d not in profile.health.dependency_services]
        if unknown:
            raise StackprobeUsageError(
                f"profile {file}: chaos.{key} names {unknown}, which [health] dependency_services does not map "
                f"to a service (it maps: {', '.join(sorted(profile.health.dependency_services)) or 'nothing'})")


def _validate_absent(profile: Profile, file: str) -> None:
    for key in ("parts", "findings"):
        unknown = [p for p in getattr(profile.absent, key) if p not in PARTS]
        if unknown:
            raise StackprobeUsageError(f"profile {file}: absent.{key} names {unknown}: known parts are "
                                       f"{', '.join(PARTS)}")
    if not profile.backup.restore_command and "backup" not in profile.absent.parts:
        raise StackprobeUsageError(f"profile {file}: backup.restore_command is empty: the backup suite restores "
                                   "every dump it judges with it; name the deployment's restore command, or declare "
                                   "[absent] parts backup if it has no backup procedure")


def _validate_deploy(deploy: DeploySection, file: str) -> None:
    unknown = sorted(set(deploy.actions) - set(DEPLOY_ACTIONS))
    if unknown:
        raise StackprobeUsageError(f"profile {file}: deploy.actions names {unknown}: the suite's actions are "
                                   f"{', '.join(DEPLOY_ACTIONS)}")


def _validate_health(profile: Profile, file: str) -> None:
    health = profile.health
    if health.format not in ("json", "text"):
        raise StackprobeUsageError(f"profile {file}: health.format = {health.format!r} must be \"json\" or \"text\"")
    unknown = sorted(set(health.dependency_paths) - set(health.dependencies))
    if unknown:
        raise StackprobeUsageError(f"profile {file}: health.dependency_paths names {unknown}, which are not in "
                                   f"health.dependencies ({', '.join(health.dependencies) or 'none'})")


def _validate_secrets(profile: Profile, file: str) -> None:
    import re

    secrets, config = profile.secrets, profile.config
    unknown = [c for c in secrets.required_char_classes if c not in CHAR_CLASSES]
    if unknown:
        raise StackprobeUsageError(
            f"profile {file}: secrets.required_char_classes names {unknown}; "
            f"character classes are {', '.join(CHAR_CLASSES)}")
    if not 0 <= secrets.min_char_classes <= len(CHAR_CLASSES):
        raise StackprobeUsageError(
            f"profile {file}: secrets.min_char_classes = {secrets.min_char_classes} must be 0 to {len(CHAR_CLASSES)}")
    for key in ("secret_key_min_length", "password_min_length"):
        if getattr(secrets, key) < 1:
            raise StackprobeUsageError(f"profile {file}: secrets.{key} = {getattr(secrets, key)} must be at least 1")
    if not 4 <= secrets.min_bcrypt_rounds <= 31:
        raise StackprobeUsageError(
            f"profile {file}: secrets.min_bcrypt_rounds = {secrets.min_bcrypt_rounds} must be 4 to 31 (bcrypt's range)")
    for key, pattern in [("secret_name_pattern", secrets.secret_name_pattern),
                         ("not_secret_pattern", secrets.not_secret_pattern),
                         *(("placeholder_patterns", p) for p in secrets.placeholder_patterns)]:
        try:
            re.compile(pattern)
        except re.error as error:
            raise StackprobeUsageError(
                f"profile {file}: secrets.{key} {pattern!r} is not a valid regex ({error})") from None
    if not 0 <= config.env_file_max_mode <= 0o777:
        raise StackprobeUsageError(
            f"profile {file}: config.env_file_max_mode = {config.env_file_max_mode:o} (octal) must be "
            "permission bits, 0o000 to 0o777 (write it as 0o600)")


def _validate_hardening(section: HardeningSection, file: str) -> None:
    if section.pinning not in ("version", "digest"):
        raise StackprobeUsageError(
            f"profile {file}: hardening.pinning = {section.pinning!r} must be \"version\" or \"digest\"")
    if section.min_version_parts < 1:
        raise StackprobeUsageError(
            f"profile {file}: hardening.min_version_parts = {section.min_version_parts} must be at least 1")
    if section.hadolint_threshold not in ("error", "warning", "info", "style"):
        raise StackprobeUsageError(
            f"profile {file}: hardening.hadolint_threshold = {section.hadolint_threshold!r} must be one of "
            "error, warning, info, style")
    for key in ("memory_max_mb", "pids_max"):
        if getattr(section, key) < 0:
            raise StackprobeUsageError(f"profile {file}: hardening.{key} must be 0 (no bound) or more")
    empty = [name for name, reason in section.root_allowed.items() if not reason.strip()]
    if empty:
        raise StackprobeUsageError(
            f"profile {file}: hardening.root_allowed gives no reason for {empty}: say why each may run as root")

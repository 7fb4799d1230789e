"""The control catalogue: every check in every suite proves one of these controls.

One place for ID, title, why it matters, how to fix, severity and tags, so the terminal,
JUnit, JSON and HTML reports all say the same thing about a control.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from stackprobe import nist

Severity = Literal["critical", "high", "medium", "low"]


@dataclass(frozen=True)
class Control:
    id: str
    suite: str
    title: str
    why: str
    fix: str
    severity: Severity
    tags: tuple[str, ...] = field(default_factory=tuple)
    # NIST SP 800-53 rev. 5 tags; left empty, they come from stackprobe.nist (by family, per-ID overrides)
    nist: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.nist:
            object.__setattr__(self, "nist", nist.tags_for(self.id))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "suite": self.suite, "title": self.title, "why": self.why, "fix": self.fix,
                "severity": self.severity, "tags": list(self.tags), "nist": list(self.nist)}


def _c(
    id: str, suite: str, severity: Severity, title: str, why: str, fix: str, *tags: str
) -> Control:
    return Control(id, suite, title, why, fix, severity, tags)


CONTROLS: tuple[Control, ...] = (
    # --- smoke -----------------------------------------------------------------------
    _c("HLT-01", "smoke", "high", "Health answers 200 with the contract JSON within its latency budget",
       "Load balancers, Docker and on-call engineers all decide on this endpoint.",
       "Serve the documented health contract ([health]: JSON fields or plain text) quickly; keep probes cheap.",
       "availability", "ISO27001:A.8.16"),
    _c("HLT-02", "smoke", "high", "Every dependency reported healthy; timestamp timezone-aware and near now",
       "A health answer without dependencies or with a wrong clock hides outages.",
       "Report each dependency by name; use an aware timestamp from a synchronised clock.",
       "availability"),
    _c("HLT-03", "smoke", "critical", "Health answers non-2xx when a dependency is down",
       "If health stays 200 during an outage, Docker never marks the service unhealthy.",
       "Probe each dependency on every request and answer 503 naming the failing one.",
       "availability", "resilience"),
    _c("HLT-04", "smoke", "high", "Health reflects a dependency's state within seconds (no stale cache)",
       "A cached health answer reports yesterday's truth during today's outage.",
       "Do not cache probe results, or cache them for at most a second.",
       "availability"),
    _c("MET-01", "smoke", "medium", "Metrics URL serves valid Prometheus text with the required families",
       "Dashboards and alerts silently go blind when families vanish or the text is invalid.",
       "Expose the documented families with the right types; validate with promtool.",
       "observability"),
    _c("MET-02", "smoke", "medium", "Counters never go down between scrapes (one registry across workers)",
       "Per-worker registries make rate() meaningless and alerts fire at random.",
       "Use prometheus_client multiprocess mode and aggregate in one exporter.",
       "observability"),
    _c("MET-03", "smoke", "medium", "Request counters move with traffic",
       "A counter that does not count makes traffic dashboards lie.",
       "Count every request in middleware, with the route template as label.",
       "observability"),
    _c("CTR-01", "smoke", "high", "Every container running and Docker-healthy, restart count stable",
       "A crash-looping container can look 'up' between restarts.",
       "Find the cause in `docker logs`; fix the service, not the restart policy.",
       "availability"),
    _c("CTR-02", "smoke", "high", "Every service has a real healthcheck within policy bounds, in compose and in effect",
       "A no-op healthcheck (`true`) reports healthy while the service is dead.",
       "Use a healthcheck that exercises the service; keep interval/timeout/retries in bounds.",
       "availability"),
    _c("CTR-03", "smoke", "high", "Restart policy set on every long-running service",
       "Without a restart policy a crashed service stays down until someone notices.",
       "Set `restart: unless-stopped` (or always/on-failure) on every long-running service.",
       "resilience"),
    _c("DB-01", "smoke", "high", "MySQL reachable with app credentials, version per profile, utf8mb4",
       "A wrong server version or charset corrupts data silently (4-byte characters).",
       "Run the documented server version with character-set-server=utf8mb4.",
       "data-integrity"),
    _c("DB-02", "smoke", "critical", "The app user is not root and has no global privileges",
       "An application connecting as root turns any SQL injection into full compromise.",
       "Create a dedicated user with privileges on the application database only.",
       "least-privilege", "CIS-Docker", "ISO27001:A.8.2"),
    _c("DB-03", "smoke", "high", "Schema at the migration head",
       "A backend running against an old schema fails on the first write that needs a new column.",
       "Run the migrations ([database] migration_heads_command's tool) in every deployment's init and update flow.",
       "change-management"),
    _c("RDS-01", "smoke", "high", "Redis reachable, version per profile, persistence as policy",
       "A cache without the configured persistence loses acknowledged data on restart.",
       "Run the documented Redis version with AOF or RDB persistence as the profile requires.",
       "data-integrity"),
    _c("RDS-02", "smoke", "critical", "Redis refuses commands without AUTH (by policy)",
       "A Redis that answers without a password gives every container on its network, and every process "
       "that reaches its port, the cache's data and commands like CONFIG SET that write files on its host.",
       "Set requirepass (or ACL users without nopass) and give the password to the backend; "
       "[redis] auth = \"any\" only for a Redis no one but the backend can reach.",
       "access-control", "OWASP-A07"),
    _c("VEC-01", "smoke", "medium", "Vector store answers a query",
       "Retrieval silently returning nothing makes every answer of the assistant worse.",
       "Check the vector_db/ volume and the Chroma collection; re-index if needed.",
       "availability"),
    # --- config ----------------------------------------------------------------------
    _c("ENV-01", "config", "high", "Every template key present and non-empty",
       "A missing key falls back to an insecure or broken default at run time.",
       "Copy every key of .env.example into .env and give it a value.",
       "configuration"),
    _c("ENV-02", "config", "medium", "No unknown or misspelt keys",
       "A misspelt key is ignored, so the value you meant to set never takes effect.",
       "Rename the key to the template's spelling or add it to the template.",
       "configuration"),
    _c("ENV-03", "config", "high", "Production flags: ENVIRONMENT, DEBUG, LOG_LEVEL",
       "DEBUG in production leaks stack traces and internals to every client.",
       "Set ENVIRONMENT=production, DEBUG=False and LOG_LEVEL=INFO (or stricter).",
       "configuration", "OWASP-A05"),
    _c("SEC-01", "config", "critical", "SECRET_KEY long, high-entropy, not a placeholder or known default",
       "A known signing key lets anyone forge sessions and tokens.",
       "Generate one: `python -c 'import secrets; print(secrets.token_urlsafe(48))'`.",
       "secrets", "OWASP-A02", "ISO27001:A.8.24"),
    _c("SEC-02", "config", "critical", "DB/Redis passwords strong, not defaults, not reused",
       "Default or reused passwords turn one leak into a breach of every service.",
       "Generate a distinct random password per service (at least the policy's length).",
       "secrets", "OWASP-A07"),
    _c("SEC-03", "config", "high", "BCRYPT_ROUNDS ≥ 12",
       "Cheap password hashes are cracked quickly when the users table leaks.",
       "Set BCRYPT_ROUNDS to 12 or more.",
       "secrets", "OWASP-A02"),
    _c("SEC-04", "config", "critical", "Compose has no insecure fallback defaults for secrets",
       "A fallback written into compose (`${VAR:-literal}`) silently deploys a password anyone who reads the "
       "compose file knows, whenever .env lacks the key.",
       "Use `${VAR:?message}` so compose refuses to start without the secret.",
       "secrets"),
    _c("SEC-05", "config", "high", "Env file not readable by group or others",
       "Every local user and backup job can read a world-readable .env.",
       "`chmod 600 .env` and keep it owned by the deploying user.",
       "secrets", "CIS-Docker"),
    _c("SEC-06", "config", "critical", "DB/Redis not published on all interfaces",
       "A database on 0.0.0.0 is one firewall mistake away from the internet.",
       "Publish on 127.0.0.1 only (`127.0.0.1:3306:3306`) or not at all.",
       "network", "CIS-Docker"),
    _c("SEC-07", "config", "critical",
       "Secrets not exposed in healthcheck commands, process arguments, image layers, logs or reports",
       "Command lines are visible to every local user (`ps`) and in `docker inspect`.",
       "Pass secrets through environment or files (MYSQL_PWD, REDISCLI_AUTH, config files).",
       "secrets"),
    _c("CMP-01", "config", "high", "Compose valid, images pinned, data on named volumes, depends_on waits for health",
       "Unpinned images and anonymous volumes make deployments unrepeatable and lose data.",
       "Pin image tags, use named volumes for data, `depends_on: condition: service_healthy`.",
       "change-management"),
    # --- backup ----------------------------------------------------------------------
    _c("BKP-01", "backup_restore", "critical", "Backup produces an intact gzip dump of every table",
       "A truncated or partial dump is discovered on the day it is needed.",
       "set -o pipefail; gzip -t and check mysqldump's '-- Dump completed' trailer before the file gets its "
       "final name; dump the whole database (no --ignore-table).", "backup"),
    _c("BKP-02", "backup_restore", "critical", "Restore gives identical per-table checksums",
       "Only a restore proves a backup: mangled characters, lost rows or a skipped table show nowhere else.",
       "Dump with --default-character-set=utf8mb4 and --hex-blob; restore the dump as it is, without filters.",
       "backup"),
    _c("BKP-03", "backup_restore", "high", "Dump under concurrent writes is consistent and does not stall writers",
       "Without a snapshot the dump mixes moments (money moved half-way); table locks make it consistent by "
       "blocking every write for the whole dump.", "Use --single-transaction (InnoDB).", "backup"),
    _c("BKP-04", "backup_restore", "high", "Routines, triggers and events included",
       "Restored data without its routines, triggers and events behaves differently.",
       "Add --routines --triggers --events (mysqldump leaves routines and events out by default).", "backup"),
    _c("BKP-05", "backup_restore", "medium", "Retention prunes old dumps and keeps new ones",
       "Unbounded backups fill the disk; over-eager pruning leaves none to go back to.",
       "find BACKUP_DIR -maxdepth 1 -name 'backup_*.sql.gz' -mtime +N -delete (days, and -delete).", "backup"),
    _c("BKP-06", "backup_restore", "high", "Vector store and uploads archives round-trip",
       "Documents without their embeddings or files are not a restore.",
       "Archive vector_db/ and uploads/ whole (no --exclude) with the dump.", "backup"),
    _c("BKP-07", "backup_restore", "critical", "Newest backup younger than the RPO and restorable",
       "A backup job that stopped weeks ago, or writes unreadable files, is noticed during the incident.",
       "Run backups from cron or a timer, alert on their age, and restore one regularly.", "backup"),
    _c("BKP-08", "backup_restore", "high", "Restore time within the RTO",
       "An RTO that was never measured is a guess.", "Measure restores; shrink dumps or add replicas.",
       "backup"),
    _c("BKP-09", "backup_restore", "high", "A failed backup exits non-zero and leaves nothing that looks good",
       "A zero-byte or truncated .sql.gz that looks like a backup is worse than none.",
       "set -euo pipefail; write to a temp file and rename only after the checks.", "backup"),
    _c("BKP-10", "backup_restore", "high", "Backup files not readable by group or others",
       "Dumps hold password hashes and personal data.",
       "umask 077 in the backup script (and no chmod that opens them again).", "backup"),
    # --- logs ------------------------------------------------------------------------
    _c("LOG-01", "logs", "medium", "Log file where configured, lines in the documented format",
       "Parsers and grep-based runbooks break on an undocumented format.",
       "Log with the documented line format to LOG_FILE.", "logging"),
    _c("LOG-02", "logs", "medium", "Rotation at LOG_MAX_BYTES, at most LOG_BACKUP_COUNT backups",
       "Unrotated logs fill the disk and take the database down with them.",
       "Honour LOG_MAX_BYTES and LOG_BACKUP_COUNT in the handler.", "logging"),
    _c("LOG-03", "logs", "high", "No record lost or duplicated across rotation under concurrent load",
       "Several workers rotating one file lose exactly the lines an incident needs.",
       "Use a process-safe rotating handler (lock around rotation).", "logging"),
    _c("LOG-04", "logs", "low", "logrotate config valid and as documented",
       "A logrotate typo disables rotation silently.", "Check with `logrotate -d`.", "logging"),
    _c("LOG-05", "logs", "critical", "No secret values in logs",
       "Logs are shipped, kept and read far more widely than .env.",
       "Never log URLs with credentials; add a redaction filter.", "logging", "secrets"),
    _c("LOG-06", "logs", "medium", "Container log driver bounded (max-size/max-file)",
       "Unbounded json-file logs fill /var/lib/docker.", "Set logging.options max-size and max-file.",
       "logging"),
    # --- chaos -----------------------------------------------------------------------
    _c("CHS-01", "chaos", "high", "A crashed service comes back running and healthy within its SLO",
       "The restart policy is the only on-call engineer at 3 a.m.", "Set restart policies; keep start-up fast.",
       "resilience"),
    _c("CHS-02", "chaos", "high", "MySQL down: health answers non-2xx promptly; backend recovers by itself",
       "A backend that needs a manual restart after a database blip doubles every outage.",
       "Use pool_pre_ping and reconnecting clients.", "resilience"),
    _c("CHS-03", "chaos", "high", "Redis down: health answers non-2xx promptly; backend recovers by itself",
       "A client that never reconnects turns a Redis restart into a backend outage.",
       "Use a connection pool with retries.", "resilience"),
    _c("CHS-04", "chaos", "critical", "Writes acknowledged before a crash are all there after recovery",
       "Acknowledged-then-lost writes are silent data loss.",
       "Enable persistence (Redis AOF; appendfsync always where no window of loss is acceptable) and durable "
       "commits (innodb_flush_log_at_trx_commit = 1).", "resilience", "data-integrity"),
    _c("CHS-05", "chaos", "high", "A frozen dependency does not hang the health endpoint",
       "A probe without a timeout turns a slow database into a hung fleet.", "Bound every probe with a timeout.",
       "resilience"),
    _c("CHS-06", "chaos", "medium", "A network partition degrades gracefully (no hang), then heals by itself",
       "Partitions happen; a client that hangs on one, or never reconnects after it, turns it into an outage.",
       "Bound every call with a timeout; reconnect with backoff.", "resilience"),
    _c("CHS-07", "chaos", "high", "Backend crash under load: errors only inside the outage window",
       "Errors after recovery mean clients see failures long after the incident.",
       "Recover cleanly; no stale connections after restart.", "resilience"),
    _c("CHS-08", "chaos", "critical", "The stack is steady after every experiment",
       "A chaos suite that leaves the stack broken is an outage.",
       "Undo every fault in finally; let restart policies and healthchecks bring services back by themselves.",
       "resilience"),
    # --- deploy ----------------------------------------------------------------------
    _c("DEP-01", "deploy", "high", "The deploy command's subcommands do what the runbook documents",
       "Runbook commands are run under pressure; a surprise there is an incident.",
       "Keep the deploy script ([deploy] command) and the runbook in step; make clean ask first.",
       "change-management"),
    _c("DEP-02", "deploy", "critical", "The update flow keeps every row and comes back healthy within its SLO",
       "Updates are where data gets lost.", "Never recreate volumes in the update flow.", "change-management"),
    _c("DEP-03", "deploy", "high", "Migrations idempotent", "Re-running a deploy must be safe.",
       "Use alembic's version table; never write data migrations that repeat.", "change-management"),
    # --- hardening (CIS Docker Benchmark sections 4 and 5) --------------------------------
    _c("HRD-01", "hardening", "high", "Containers run as a non-root user (image USER or compose user:)",
       "Root in a container is root on the host's kernel: one escape or a writable host mount away from the host.",
       "Add a USER to the Dockerfile (owning the paths it writes) or `user: UID:GID` in compose; services that "
       "must start as root to drop to a service user are listed in [hardening] root_allowed with the reason.",
       "least-privilege", "CIS-Docker:4.1"),
    _c("HRD-02", "hardening", "critical", "Not privileged; capabilities dropped, only allowed ones added back",
       "A privileged container, or one keeping Docker's default capabilities, can reconfigure the host.",
       "Remove `privileged: true`; set `cap_drop: [ALL]` and `cap_add` only what [hardening] capabilities allows.",
       "least-privilege", "CIS-Docker:5.3", "CIS-Docker:5.4"),
    _c("HRD-03", "hardening", "high", "no-new-privileges set",
       "Without it a setuid binary in the image turns a compromised process back into root.",
       "Add `security_opt: [\"no-new-privileges:true\"]` to every service.",
       "least-privilege", "CIS-Docker:5.25"),
    _c("HRD-04", "hardening", "critical", "No Docker socket or host control path mounted",
       "The Docker socket, /proc, /sys, /etc or / in a container hand it the host.",
       "Remove such bind mounts; give the container named volumes or copied files instead.",
       "least-privilege", "CIS-Docker:5.5", "CIS-Docker:5.31"),
    _c("HRD-05", "hardening", "high", "No host network, PID, IPC, UTS or user namespace",
       "A shared host namespace lets the container see and reach the host's processes and interfaces.",
       "Remove `network_mode: host`, `pid: host`, `ipc: host`, `uts: host`, `userns_mode: host`.",
       "least-privilege", "CIS-Docker:5.9", "CIS-Docker:5.15", "CIS-Docker:5.16", "CIS-Docker:5.20",
       "CIS-Docker:5.30"),
    _c("HRD-06", "hardening", "medium", "Memory and PID limits set, within the profile's bounds",
       "One leaking or forking container otherwise takes the memory or the process table of the whole host.",
       "Set `mem_limit` and `pids_limit` on every service (bounds in [hardening] memory_max_mb, pids_max).",
       "availability", "CIS-Docker:5.10", "CIS-Docker:5.28"),
    _c("HRD-07", "hardening", "medium",
       "Read-only root filesystem where the profile asks, writable paths on tmpfs or volumes",
       "A writable root filesystem lets an intruder change the service's own code and keep it.",
       "Set `read_only: true` and mount each writable path as a tmpfs or a volume.",
       "least-privilege", "CIS-Docker:5.12"),
    _c("HRD-08", "hardening", "high", "Every image and Dockerfile base pinned (full version tag or digest)",
       "A floating tag (latest, stable, alpine, a bare major) deploys whatever was pushed last: untested code.",
       "Pin compose images and every FROM to a full version tag or a digest ([hardening] pinning).",
       "change-management", "CIS-Docker:4.2"),
    _c("HRD-09", "hardening", "critical", "No secrets in ARG or ENV of the Dockerfiles compose builds",
       "Build arguments and ENV are stored in the image: `docker history` and `docker inspect` show them to anyone "
       "with the image.", "Use build secrets (`RUN --mount=type=secret`) and pass secrets at run time.",
       "secrets", "CIS-Docker:4.10"),
    _c("HRD-10", "hardening", "medium", "hadolint passes on every Dockerfile compose builds",
       "Dockerfile mistakes (ADD for local files, no pinned packages, shell pitfalls) make images unsafe or "
       "unrepeatable.", "Fix what hadolint reports at the profile's threshold, or ignore a rule in [hardening] "
       "hadolint_ignore with a reason in a comment.", "change-management", "CIS-Docker:4.3", "CIS-Docker:4.9"),
)

BY_ID: dict[str, Control] = {control.id: control for control in CONTROLS}


def get(control_id: str) -> Control:
    try:
        return BY_ID[control_id]
    except KeyError:
        raise KeyError(f"unknown control {control_id!r} (see `pytest --list-controls`)") from None


# --- users' own controls (stackprobe.user_catalogue) ----------------------------------------
BUILT_IN_IDS: frozenset[str] = frozenset(BY_ID)
EXTRA_SOURCES: list[str] = []  # the catalogue files added to this process


def extend(controls: tuple[Control, ...] | list[Control], source: str) -> None:
    """Add a user's controls after the built-in ones (the same file installed again adds nothing)."""
    global CONTROLS
    for control in controls:
        known = BY_ID.get(control.id)
        if known is not None and known != control:
            raise ValueError(f"catalogue {source}: {control.id} is already defined")
    fresh = tuple(c for c in controls if c.id not in BY_ID)
    CONTROLS = (*CONTROLS, *fresh)
    BY_ID.update((c.id, c) for c in fresh)
    if source not in EXTRA_SOURCES:
        EXTRA_SOURCES.append(source)


def where_to_look() -> str:
    """For an unknown ID: where controls come from in this process."""
    files = f" or {', '.join(EXTRA_SOURCES)}" if EXTRA_SOURCES else ""
    return f"not in the built-in catalogue{files}; see stackprobe controls"


def as_json() -> list[dict[str, Any]]:
    """The catalogue as data (`controls --format json`): one object per control, NIST tags included."""
    return [control.to_json() for control in CONTROLS]

"""The control catalogue: every check in every suite proves one of these controls.

One place for ID, title, why it matters, how to fix, severity and tags, so the terminal,
JUnit, JSON and HTML reports all say the same thing about a control.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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


def _c(
    id: str, suite: str, severity: Severity, title: str, why: str, fix: str, *tags: str
) -> Control:
    return Control(id, suite, title, why, fix, severity, tags)


CONTROLS: tuple[Control, ...] = (
    # --- smoke -----------------------------------------------------------------------
    _c("HLT-01", "smoke", "high", "Health answers 200 with the contract JSON within its latency budget",
       "Load balancers, Docker and on-call engineers all decide on this endpoint.",
       "Serve the documented JSON (status, timestamp, services) quickly; keep probes cheap.",
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
       "Run `alembic upgrade head` as part of every deployment (deploy.sh init / update flow).",
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
    _c("DEP-01", "deploy", "high", "deploy.sh commands do what the runbook documents",
       "Runbook commands are run under pressure; a surprise there is an incident.",
       "Keep deploy.sh and the runbook in step; make clean ask first.", "change-management"),
    _c("DEP-02", "deploy", "critical", "The update flow keeps every row and comes back healthy within its SLO",
       "Updates are where data gets lost.", "Never recreate volumes in the update flow.", "change-management"),
    _c("DEP-03", "deploy", "high", "Migrations idempotent", "Re-running a deploy must be safe.",
       "Use alembic's version table; never write data migrations that repeat.", "change-management"),
)

BY_ID: dict[str, Control] = {control.id: control for control in CONTROLS}


def get(control_id: str) -> Control:
    try:
        return BY_ID[control_id]
    except KeyError:
        raise KeyError(f"unknown control {control_id!r} (see `pytest --list-controls`)") from None


def render_table() -> str:
    """The catalogue as the terminal shows it for --list-controls."""
    lines = []
    suite = ""
    for control in CONTROLS:
        if control.suite != suite:
            suite = control.suite
            lines.append(f"\n{suite}")
        lines.append(f"  {control.id:<7} {control.severity:<8} {control.title}")
    return "\n".join(lines).lstrip("\n")

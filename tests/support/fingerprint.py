"""What a read-only run must leave unchanged, seen from outside the suite.

Per-table checksums of every non-canary table, the Redis keyspace outside the canary prefix
(each key's DUMP digest), the SHA-256 of every file of the backend's uploads/ and vector_db/
and of the host's backup directory; plus anything a run may leave behind: canary databases,
tables and keys, and throwaway containers (BKP-06's query, BKP-09's server) or their volumes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from support.stacks import REPO, TestStack

CANARY = "stackprobe"  # canary tables/databases start with it; canary Redis keys with "stackprobe:"
SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")


def fingerprint(stack: TestStack, backup_dir: Path = REPO / "backups") -> dict[str, Any]:
    target = stack.target
    tables: dict[str, Any] = {}
    canaries: list[str] = []
    with target.mysql_root() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT table_schema, table_name FROM information_schema.tables "
                       f"WHERE table_schema NOT IN {SYSTEM_SCHEMAS!r} AND table_type = 'BASE TABLE'")
        for schema, table in sorted(cursor.fetchall()):
            if schema.startswith(CANARY) or table.startswith(CANARY):
                canaries.append(f"mysql:{schema}.{table}")
                continue
            cursor.execute(f"CHECKSUM TABLE `{schema}`.`{table}` EXTENDED")
            tables[f"{schema}.{table}"] = cursor.fetchone()[1]
        cursor.execute("SELECT schema_name FROM information_schema.schemata")
        canaries += [f"mysql:{s}" for (s,) in cursor.fetchall() if s.startswith(CANARY)]
    client = target.redis()
    keys: dict[str, str] = {}
    for key in sorted(client.scan_iter(count=1000)):
        if key.startswith(CANARY + ":"):
            canaries.append(f"redis:{key}")
            continue
        raw = client.dump(key)
        keys[key] = hashlib.sha256(raw or b"").hexdigest()[:16]
    client.close()
    listing = target.service(target.profile.services.backend).exec(
        ["sh", "-c", "find /app/uploads /app/vector_db -type f -exec sha256sum {} + | sort -k 2"])
    assert listing.exit_code == 0, listing.output
    backups = sorted(f"{p.name} {hashlib.sha256(p.read_bytes()).hexdigest()}"
                     for p in backup_dir.iterdir() if p.is_file()) if backup_dir.is_dir() else []
    return {"tables": tables, "redis": keys, "files": listing.output.splitlines(), "backups": backups,
            "canaries": sorted(canaries + throwaways(stack))}


def throwaways(stack: TestStack) -> list[str]:
    """Containers and volumes the suite creates for a moment for this stack (labelled
    stackprobe.throwaway; other test workers make their own for their own stacks)."""
    client = stack.target.docker
    label = {"label": ["stackprobe.throwaway", f"stackprobe.target={stack.target.project}"]}
    return ([f"container:{c.name}" for c in client.containers.list(all=True, filters=label)]
            + [f"volume:{v.name}" for v in client.volumes.list(filters=label)])


def canaries_now(stack: TestStack) -> list[str]:
    """Only the canary objects: cheap enough to poll while a run is going."""
    found = []
    with stack.target.mysql_root() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'stackprobe%'")
        found += [f"mysql:{s}" for (s,) in cursor.fetchall()]
        cursor.execute("SELECT table_schema, table_name FROM information_schema.tables "
                       "WHERE table_name LIKE 'stackprobe%'")
        found += [f"mysql:{s}.{t}" for s, t in cursor.fetchall()]
    client = stack.target.redis()
    found += [f"redis:{k}" for k in client.scan_iter(match=CANARY + ":*", count=1000)]
    client.close()
    return found


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    found = []
    for part in ("tables", "redis"):
        for key in sorted(set(before[part]) | set(after[part])):
            if before[part].get(key) != after[part].get(key):
                found.append(f"{part} {key}: {before[part].get(key)} -> {after[part].get(key)}")
    for part in ("files", "backups"):
        gone, new = set(before[part]) - set(after[part]), set(after[part]) - set(before[part])
        found += [f"{part}: removed {x}" for x in sorted(gone)] + [f"{part}: added {x}" for x in sorted(new)]
    return found

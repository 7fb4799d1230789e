"""DB-01..03, RDS-01/02, VEC-01: the data stores are the documented ones, set up safely."""

from __future__ import annotations

import re
import uuid

import pytest
import redis

from stackprobe.api_write import write_document
from stackprobe.checks.redis_auth import redis_auth_policy
from stackprobe.credentials import app_account, missing_account
from stackprobe.evidence import Evidence
from stackprobe.redact import REDACTOR
from stackprobe.targets import Target
from stackprobe.vector import search


@pytest.mark.control("DB-01")
@pytest.mark.nightly
def test_mysql_reachable_version_charset(target: Target, evidence: Evidence) -> None:
    cfg = target.profile.database
    with target.mysql() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT VERSION(), @@character_set_server, @@collation_server, "
                       "@@character_set_database, DATABASE()")
        version, charset, collation, db_charset, database = cursor.fetchone()
    evidence.record("server", {"version": version, "character_set_server": charset,
                               "collation_server": collation, "database": database,
                               "character_set_database": db_charset})
    assert any(version.startswith(p) for p in cfg.version_prefixes), (
        f"server version {version} is not one of {cfg.version_prefixes}")
    wrong = {k: v for k, v in {"character_set_server": charset, "character_set_database": db_charset}.items()
             if v != cfg.charset}
    assert not wrong, f"expected {cfg.charset}, saw {wrong}"


@pytest.mark.control("DB-02")
@pytest.mark.nightly
def test_app_user_not_root_no_global_privileges(target: Target, evidence: Evidence) -> None:
    cfg = target.profile.database
    backend = target.profile.services.backend
    account = app_account(cfg, target.service_environment(backend), target.env,
                          lambda path: target.secret_file(backend, path))
    REDACTOR.add(account.password, account.source or cfg.password_env)
    evidence.record("backend_connects_as", {"user": account.user, "read_from": account.source,
                                            **({"password_from": account.password_source}
                                               if account.password_source else {})})
    assert account.user, missing_account(cfg)
    assert account.user != "root", f"the backend connects to MySQL as 'root' (read from {account.source})"
    with target.mysql(user=account.user, password=account.password) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER()")
        current = cursor.fetchone()[0]
        cursor.execute("SHOW GRANTS")
        grants = [row[0] for row in cursor.fetchall()]
    evidence.record("current_user", current)
    evidence.record("grants", [re.sub(r"IDENTIFIED BY PASSWORD '[^']*'", "IDENTIFIED BY PASSWORD '…'", g)
                               for g in grants])
    global_grants = [g for g in grants if " ON *.* " in g and not g.startswith("GRANT USAGE ON *.*")]
    assert not current.startswith("root@"), f"the app user resolves to {current}"
    assert not global_grants, f"the app user has global privileges: {global_grants}"


@pytest.mark.control("DB-03")
@pytest.mark.nightly
def test_schema_at_migration_head(target: Target, evidence: Evidence) -> None:
    cfg = target.profile.database
    backend = target.service(target.profile.services.backend)
    heads_run = backend.exec(cfg.migration_heads_command)
    heads = set(re.findall(r"^(\S+) \(head\)", heads_run.output, re.M))
    evidence.record("heads_command", {"cmd": cfg.migration_heads_command, "exit": heads_run.exit_code,
                                      "output": heads_run.output[-2000:]})
    assert heads_run.exit_code == 0 and heads, (
        f"could not read the migration heads with {' '.join(cfg.migration_heads_command)} in "
        f"{target.profile.services.backend} (exit {heads_run.exit_code}: {heads_run.output.strip()[-200:]}): set "
        "[database] migration_heads_command, or declare [absent] parts migrations if the schema has none")
    with target.mysql() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
                       "AND table_name = %s", (cfg.migration_table,))
        present = cursor.fetchone()[0]
        current = set()
        if present:
            cursor.execute(f"SELECT version_num FROM `{cfg.migration_table}`")
            current = {row[0] for row in cursor.fetchall()}
    evidence.record("schema", {"current": sorted(current), "heads": sorted(heads)})
    assert current == heads, f"schema at {sorted(current) or 'no revision'}, migration head is {sorted(heads)}"


@pytest.mark.control("RDS-01")
@pytest.mark.nightly
def test_redis_reachable_version_persistence(target: Target, evidence: Evidence) -> None:
    cfg = target.profile.redis
    client = target.redis()
    assert client.ping()
    server, persistence = client.info("server"), client.info("persistence")
    try:
        save = str(client.config_get("save").get("save", ""))
    except Exception:  # CONFIG may be renamed away in production
        save = "(CONFIG unavailable)"
    aof = bool(persistence.get("aof_enabled"))
    rdb = bool(save.strip()) and save != "(CONFIG unavailable)"
    evidence.record("redis", {"version": server.get("redis_version"), "aof_enabled": aof, "save": save})
    version = str(server.get("redis_version"))
    assert any(version.startswith(p) for p in cfg.version_prefixes), (
        f"Redis {version} is not one of {cfg.version_prefixes}")
    required = {"aof": aof, "rdb": rdb, "aof+rdb": aof and rdb, "any": aof or rdb, "none": True}
    assert cfg.persistence in required, f"profile redis.persistence {cfg.persistence!r} is not valid"
    assert required[cfg.persistence], (
        f"persistence required: {cfg.persistence}; saw appendonly={'yes' if aof else 'no'}, save={save!r}")


@pytest.mark.control("RDS-02")
@pytest.mark.nightly
def test_redis_refuses_commands_without_auth(target: Target, evidence: Evidence) -> None:
    cfg, roles = target.profile.redis, target.profile.services
    try:
        model = target.compose_config()
    except RuntimeError:  # no compose files to render: judge as the strictest case
        model = {}
    policy = redis_auth_policy(model, roles.cache, roles.backend, cfg.auth)
    evidence.record("policy", {"auth_required": policy.required, "because": policy.reason})
    host, port = target.address(roles.cache, cfg.container_port)  # published, or through a relay
    # No password: what anyone who reaches the port gets.
    anonymous = redis.Redis(host=host, port=port, socket_timeout=5, socket_connect_timeout=5,
                            decode_responses=True)
    try:
        reply = anonymous.execute_command("PING")
        answer = "PONG" if reply is True else str(reply)  # redis-py reads +PONG as True
    except redis.exceptions.AuthenticationError as error:
        answer = f"refused: {error}"
    except redis.exceptions.ResponseError as error:  # NOAUTH on servers that call it so
        answer = f"refused: {error}"
    finally:
        anonymous.close()
    evidence.record("ping_without_auth", {"address": f"{host}:{port}", "answer": str(answer)})
    if policy.required:
        assert str(answer).startswith("refused"), (
            f"{roles.cache} answered PING without AUTH with {answer!r} at {host}:{port}, and auth is required "
            f"({policy.reason}): set requirepass (or an ACL user without nopass) and give the password to "
            f"the backend ({cfg.password_env})")


@pytest.mark.control("VEC-01")
@pytest.mark.nightly
@pytest.mark.writes("{backend}: one canary document", on="ephemeral")
def test_vector_store_answers_query(target: Target, evidence: Evidence) -> None:
    cfg = target.profile.vector_store
    client = target.http()
    marker = None
    if target.kind == "ephemeral":
        # a throwaway stack may be written to: prove the query finds what was just stored
        marker = f"stackprobe canary {uuid.uuid4().hex}"
        expected = write_document(client, target.backend_url, target.profile.chaos, marker)
        evidence.record("canary_document", expected)
    answer = search(client, target.backend_url, cfg, marker or cfg.query_text, 3)
    evidence.record("query", {"request": f"{cfg.query_method} {cfg.query_path}", "status": answer.status,
                              "body": answer.body})
    assert not answer.problem, answer.problem
    if marker:
        assert answer.ids[:1] == [expected], f"stored document {expected} not the best match: {answer.ids}"

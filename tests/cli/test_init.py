"""`stackprobe init` without a running stack: the reference stack's files give the reference
profile; a foreign stack (other service names, images, ports, health path, template keys) is
named right; no compose file, or an existing profile without --force, is a one-line error."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
from support.stacks import REFERENCE_PROFILE, REPO

from stackprobe.profile import load_profile

from .test_cli import stackprobe

FOREIGN_COMPOSE = """\
services:
  db:
    image: mariadb:10.6
    environment:
      MARIADB_USER: shop
      MARIADB_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}
      MARIADB_DATABASE: shop
      MARIADB_ROOT_PASSWORD: ${DB_ROOT_PASSWORD:?set DB_ROOT_PASSWORD}
    ports: ["127.0.0.1:13306:3306"]
  cache:
    image: redis:6.2
    command: ["redis-server", "--save", "60", "1"]
    environment:
      REDIS_PASSWORD: ${CACHE_PASSWORD:?set CACHE_PASSWORD}
  api:
    build: ./api
    depends_on: [db, cache]
    ports: ["127.0.0.1:5080:5000", "127.0.0.1:19102:9102"]
    environment:
      DB_HOST: db
      APP_SECRET_KEY: ${APP_SECRET_KEY:?set APP_SECRET_KEY}
    healthcheck:
      test: ["CMD-SHELL", "wget -qO- http://127.0.0.1:5000/healthz || exit 1"]
  worker:
    image: busybox:1.36
    command: ["sleep", "infinity"]
"""
FOREIGN_TEMPLATE = "DB_PASSWORD=\nDB_ROOT_PASSWORD=\nCACHE_PASSWORD=\nAPP_SECRET_KEY=\nMAIL_API_TOKEN=\nREGION=eu\n"


def _differences(written: Path, reference: Path) -> dict[str, tuple[object, object]]:
    mine, theirs = load_profile(written), load_profile(reference)
    found = {}
    for section in dataclasses.fields(mine):
        if section.name in {"source", "sha256"}:
            continue
        a, b = getattr(mine, section.name), getattr(theirs, section.name)
        for key in dataclasses.fields(a):
            if getattr(a, key.name) != getattr(b, key.name):
                found[f"{section.name}.{key.name}"] = (getattr(a, key.name), getattr(b, key.name))
    return found


def test_reference_stack_files_give_the_reference_profile(tmp_path: Path) -> None:
    done = stackprobe("init", "--project-dir", str(REPO), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = tmp_path / "stackprobe.toml"
    assert str(written) in done.stdout
    differences = _differences(written, REFERENCE_PROFILE)
    # the reference profile is relative to the repository; init names the directory
    assert differences.pop("stack.project_dir") == (str(REPO), ".")
    # from files alone init cannot see the health answer: it lists the database and cache it
    # found, a subset of the reference's names, and says to check them
    mine, theirs = differences.pop("health.dependencies")
    assert set(mine) < set(theirs)  # type: ignore[call-overload]
    # who may start as root init suggests from the capabilities added back; why is the operator's
    # to say, so the reasons differ and the values are marked for a look
    mine, theirs = differences.pop("hardening.root_allowed")
    assert set(mine) == set(theirs) == {"mysql", "redis"}  # type: ignore[arg-type]
    text = written.read_text()
    assert "root_allowed = " in text and "TODO check: confirm each image's entrypoint" in text
    # the hadolint baseline is the reference's own ignore list, marked for a look
    assert "hadolint_ignore = [\"DL3008\"]  # TODO check:" in text
    # the files name no route of the API: the chaos read probe is the health route, marked for a look
    # (the reference profile names a document read)
    assert differences.pop("chaos.api_probe_path") == ("/api/v1/system/health", "/api/v1/documents/0")
    assert differences.pop("chaos.api_probe_ok") == ([200], [200, 404])
    assert "api_probe_path = \"/api/v1/system/health\"  # TODO check:" in text and "# TODO api_write_path:" in text
    assert differences == {}
    assert "# TODO check:" in written.read_text() and "dependencies" in written.read_text()


def test_foreign_stack_is_named_right(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    (project / "api").mkdir(parents=True)
    (project / "api" / "Dockerfile").write_text("FROM busybox:1.36\n")
    (project / "ops").mkdir()
    (project / "ops" / "backup-db.sh").write_text("#!/bin/sh\n")
    (project / "compose.yaml").write_text(FOREIGN_COMPOSE)
    (project / ".env.sample").write_text(FOREIGN_TEMPLATE)
    out = tmp_path / "profiles" / "shop.toml"
    done = stackprobe("init", "--compose-file", str(project / "compose.yaml"), "--output", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    p = load_profile(out)
    assert (p.services.database, p.services.cache, p.services.backend) == ("db", "cache", "api")
    assert (p.health.path, p.health.container_port) == ("/healthz", 5000)
    assert p.health.dependency_services == {"database": "db", "redis": "cache"}
    assert p.metrics.container_port == 9102
    assert (p.database.user_env, p.database.password_env, p.database.root_password_env) == (
        "MARIADB_USER", "MARIADB_PASSWORD", "MARIADB_ROOT_PASSWORD")
    assert p.database.version_prefixes == ["10.6."] and p.redis.version_prefixes == ["6.2."]
    assert p.redis.persistence == "rdb" and p.redis.password_env == "REDIS_PASSWORD"
    assert p.stack.env_template == ".env.sample" and p.stack.compose_files == ["compose.yaml"]
    assert p.stack.project_dir == str(project) and p.stack.project_name == "shop"
    assert p.secrets.secret_key == "APP_SECRET_KEY"
    assert p.secrets.password_keys == ["DB_PASSWORD", "DB_ROOT_PASSWORD", "CACHE_PASSWORD"]
    assert p.secrets.other_secret_keys == ["MAIL_API_TOKEN"]
    assert p.backup.command == ["ops/backup-db.sh"]
    assert p.database.url_env == ""  # no URL: the account is MARIADB_USER/PASSWORD
    text = out.read_text()
    # what it could not infer: no migrations, restore or deploy script, logrotate file, log file variable
    for key in ("migrate_command", "restore_command", "logrotate_file", "command", "file"):
        assert f"# TODO {key}:" in text, (key, text)
    assert "worker" in text and "worker" not in {p.services.database, p.services.cache, p.services.backend}


def test_no_compose_file_is_one_line(tmp_path: Path) -> None:
    done = stackprobe("init", "--project-dir", str(tmp_path), cwd=tmp_path)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert done.stderr.count("\n") == 1 and f"no compose file in {tmp_path}" in done.stderr
    assert not (tmp_path / "stackprobe.toml").exists()


def test_never_overwrites_without_force(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(textwrap.dedent("""\
        services:
          web:
            image: nginx:1.25
    """))
    existing = tmp_path / "stackprobe.toml"
    existing.write_text("# mine\n")
    refused = stackprobe("init", cwd=tmp_path)
    assert refused.returncode == pytest.ExitCode.USAGE_ERROR and refused.stderr.count("\n") == 1
    assert "--force" in refused.stderr and existing.read_text() == "# mine\n"
    forced = stackprobe("init", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    text = existing.read_text()
    # nothing but a web server: every role is a TODO, and the profile still loads
    assert "# TODO database:" in text and "# TODO cache:" in text
    load_profile(existing)


def test_a_stack_without_env_file_or_template_gets_an_inline_profile(tmp_path: Path) -> None:
    project = tmp_path / "ctf"
    project.mkdir()
    (project / "compose.yaml").write_text(textwrap.dedent("""\
        services:
          db:
            image: mariadb:10.11
            environment:
              - MARIADB_ROOT_PASSWORD=ctfd
              - MARIADB_USER=ctfd
              - MARIADB_PASSWORD=ctfd
              - MARIADB_DATABASE=ctfd
          app:
            image: ctfd/ctfd:3
            ports: ["127.0.0.1:8000:8000"]
            environment:
              - DATABASE_URL=mysql+pymysql://ctfd:ctfd@db/ctfd
              - SECRET_KEY=not-so-secret
              - ACCESS_TOKEN_EXPIRE_DAYS=7
              - TONGYI_MAX_TOKENS=2000
    """))
    out = tmp_path / "ctf.toml"
    done = stackprobe("init", "--compose-file", str(project / "compose.yaml"), "--output", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    p = load_profile(out)
    assert (p.stack.env_file, p.stack.env_template) == ("", "")
    assert p.secrets.secret_key == "SECRET_KEY"
    assert sorted(p.secrets.password_keys) == ["MARIADB_PASSWORD", "MARIADB_ROOT_PASSWORD"]
    assert p.secrets.other_secret_keys == []  # a count and a duration are no secrets
    assert "values are inline in compose" in out.read_text()
    # no service plays the cache role: declared absent, so no check looks for a Redis
    assert p.absent.parts == ["cache"] and p.services.cache == ""
    assert "redis" not in p.health.dependency_services and "cache" not in p.health.dependency_services
    # no healthcheck, build or depends_on: the API is the service whose URL names the database
    assert p.services.backend == "app"
    # the app's account is only in its URL: DB-02 reads it there
    assert p.database.url_env == "DATABASE_URL"

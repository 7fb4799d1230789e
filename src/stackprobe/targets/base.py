"""The target interface shared by the ephemeral and the live implementation."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
import pymysql
import redis
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from stackprobe.commands import parse_sha256sum
from stackprobe.credentials import lookup_variable, secret_file_of
from stackprobe.errors import DependencyUnreachable, StackprobeUsageError
from stackprobe.profile import Profile
from stackprobe.redact import REDACTOR
from stackprobe.secret_names import DEFAULT_NAMES
from stackprobe.targets import mysql_connect
from stackprobe.targets.host import Host, LocalHost
from stackprobe.targets.relay import ExecRelay

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def docker_health(state: dict[str, Any]) -> str:
    """A container's own healthcheck verdict from its inspected State; "none" without one."""
    return str((state.get("Health") or {}).get("Status", "none"))


def container_ready(state: dict[str, Any]) -> bool:
    """Running (not paused, not restarting) and healthy by its own healthcheck when it has one."""
    return (bool(state.get("Running")) and not state.get("Paused") and not state.get("Restarting")
            and docker_health(state) in ("healthy", "none"))


def _connect_auth_if_asked(connection: Any) -> None:
    """redis-py's connection set-up, but a Redis without any password (which rejects AUTH) is
    connected to without one: RDS-02 reports the missing password, the other checks still run."""
    try:
        connection.on_connect()
    except redis.exceptions.ResponseError as error:
        if "without any password configured" not in str(error):
            raise
        connection.password = None
        connection.on_connect()


SECRETS_DIR = "/run/secrets/"  # where compose mounts a service's Docker secrets


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


class Service:
    """One compose service's container, seen through the Docker API."""

    def __init__(self, container: Container) -> None:
        self.container = container

    @property
    def name(self) -> str:
        return str(self.container.labels.get(SERVICE_LABEL, self.container.name))

    @property
    def container_name(self) -> str:
        return str(self.container.name)

    def inspect(self) -> dict[str, Any]:
        self.container.reload()
        return dict(self.container.attrs)

    def state(self) -> dict[str, Any]:
        return dict(self.inspect()["State"])

    def exec(self, cmd: list[str], env: dict[str, str] | None = None, user: str = "") -> ExecResult:
        """Run a command in the container; exit code returned, never raised (unlike compose exec)."""
        code, output = self.container.exec_run(cmd, environment=env, user=user, demux=False)
        text = output.decode("utf-8", "replace") if isinstance(output, bytes) else str(output)
        return ExecResult(int(code if code is not None else -1), text)

    def file_digests(self, directory: str) -> dict[str, str]:
        """relative path -> sha256 of every file under `directory` in the container."""
        listing = self.exec(["sh", "-c", 'cd "$1" && find . -type f -exec sha256sum {} +', "sh", directory])
        return parse_sha256sum(listing.output)

    def logs(self, tail: int | str = "all") -> str:
        raw = self.container.logs(tail=tail, stdout=True, stderr=True)
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    def read_file(self, path: str) -> bytes:
        stream, _ = self.container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            member = archive.next()
            if member is None or not member.isfile():
                raise FileNotFoundError(path)
            handle = archive.extractfile(member)
            assert handle is not None
            return handle.read()

    def read_dir(self, path: str, attempts: int = 3) -> dict[str, bytes]:
        """Every regular file directly in directory `path`, by name, in one archive.

        A file that grows while Docker archives it breaks the archive: retried up to `attempts`."""
        for attempt in range(1, attempts + 1):
            try:
                stream, _ = self.container.get_archive(path.rstrip("/") + "/.")
                files: dict[str, bytes] = {}
                with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
                    for member in archive:
                        parts = [p for p in member.name.split("/") if p not in ("", ".")]
                        if member.isfile() and len(parts) == 1:
                            handle = archive.extractfile(member)
                            assert handle is not None
                            files[parts[0]] = handle.read()
                return files
            except NotFound:
                raise FileNotFoundError(f"{self.name}: no directory {path}") from None
            except (tarfile.TarError, OSError, APIError):
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def published_address(self, container_port: int, protocol: str = "tcp") -> tuple[str, int] | None:
        """Where the host reaches `container_port`, or None when it is not published (or the
        container is not running: a stopped container has no bindings)."""
        ports = self.inspect()["NetworkSettings"]["Ports"] or {}
        for binding in ports.get(f"{container_port}/{protocol}") or []:
            if binding.get("HostPort"):
                host = binding.get("HostIp") or "127.0.0.1"
                host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
                return host, int(binding["HostPort"])
        return None

    def published_port(self, container_port: int, protocol: str = "tcp") -> tuple[str, int]:
        found = self.published_address(container_port, protocol)
        if found is None:
            raise DependencyUnreachable(f"service {self.name}: port {container_port}/{protocol} is not published")
        return found


class _Redis(redis.Redis):  # type: ignore[type-arg]
    """A client whose lost connection is DependencyUnreachable: one line, not redis-py's trace."""

    unreachable = ""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute_command(*args, **options)
        except redis.ConnectionError as error:
            raise DependencyUnreachable(f"{self.unreachable}: {error}") from None


def load_image_overrides(project_dir: Path) -> None:
    """Use the stand-in images tools/setup.sh chose (.stackprobe/images.env) unless the
    environment already names images: compose interpolates MYSQL_IMAGE etc. from there."""
    from dotenv import dotenv_values

    chosen = project_dir / ".stackprobe" / "images.env"
    if chosen.is_file():
        for key, value in dotenv_values(chosen).items():
            if value:
                os.environ.setdefault(key, value)


# Per-request bound on the Docker API. Compose's own default is 60 s; a busy 2-core machine
# running several stacks was seen taking over 30 s to answer an image request.
DOCKER_API_TIMEOUT_S = 120


def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=DOCKER_API_TIMEOUT_S)
        client.ping()
        return client
    except Exception as error:  # docker raises several types for "no engine"
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise StackprobeUsageError(
            f"no Docker engine answers at {host} ({type(error).__name__}): start one "
            "(tools/setup.sh does) or set DOCKER_HOST"
        ) from None


class Target:
    """What every check uses. Subclasses decide how the stack comes to exist."""

    kind = "abstract"

    def __init__(
        self,
        profile: Profile,
        project: str,
        project_dir: Path,
        compose_files: list[Path],
        env_files: list[Path],
        env: dict[str, str],
        host: Host | None = None,
    ) -> None:
        # where the stack runs: commands, files and signals of that machine go through it
        self.host: Host = host or LocalHost()
        self.profile = profile
        self.project = project
        self.project_dir = project_dir
        self.compose_files = compose_files
        self.env_files = env_files
        self.env = env
        load_image_overrides(project_dir)
        self._docker: docker.DockerClient | None = None
        self._http: httpx.Client | None = None
        # restart counts when the run began: CTR-01 proves none restarted during the run
        self.initial_restarts: dict[str, int] = {}
        self._relays: dict[tuple[str, int], ExecRelay] = {}  # (service, port) -> its relay
        self._service_env: dict[str, dict[str, str]] = {}  # service -> its container's environment
        self._secret_files: dict[tuple[str, str], str] = {}  # (service, path) -> a Docker secret's value

    # --- description -------------------------------------------------------------------
    @property
    def env_file(self) -> Path | None:
        return self.env_files[0] if self.env_files else None

    @property
    def label(self) -> str:
        """Where the target is, for messages (a remote target names its host)."""
        return "this host"

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "project": self.project,
            "project_dir": str(self.project_dir),
            "compose_files": [str(p) for p in self.compose_files],
            "env_files": [str(p) for p in self.env_files],
        }

    # --- docker --------------------------------------------------------------------------
    @property
    def docker(self) -> docker.DockerClient:
        if self._docker is None:
            self._docker = docker_client()
        return self._docker

    def containers(self, service: str | None = None) -> list[Container]:
        """The project's containers (one-off `compose run` containers excluded), or one service's.
        docker-py inspects every container it lists, so filtering by service in the engine saves
        a request per other container (URLs are looked up this way many times per run)."""
        labels = [f"{PROJECT_LABEL}={self.project}", *([f"{SERVICE_LABEL}={service}"] if service else [])]
        found = self.docker.containers.list(all=True, filters={"label": labels})
        return [c for c in found if c.labels.get("com.docker.compose.oneoff") != "True"]

    def services(self) -> dict[str, Service]:
        return {s.name: s for s in (Service(c) for c in self.containers())}

    def service(self, name: str) -> Service:
        found = self.containers(name)
        if not found:
            running = sorted(self.services())
            raise StackprobeUsageError(
                f"service {name!r} is not part of project {self.project!r} "
                f"(it runs: {', '.join(running) or 'nothing'}); check [services] in the profile"
            )
        return Service(found[-1])  # as services() does, the last one listed

    def compose_base(self) -> list[str]:
        cmd = ["docker", "compose", "-p", self.project, "--project-directory", str(self.project_dir)]
        for file in self.compose_files:
            cmd += ["-f", str(file)]
        for env_file in self.env_files:
            cmd += ["--env-file", str(env_file)]
        return cmd

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.compose_base(), *args], capture_output=True, text=True, timeout=timeout,
            cwd=self.project_dir,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                REDACTOR.redact(f"docker compose {' '.join(args)} failed ({result.returncode}): "
                                f"{result.stderr.strip()[-2000:]}")
            )
        return result

    def compose_config(self) -> dict[str, Any]:
        return dict(json.loads(self.compose("config", "--format", "json").stdout))

    # --- endpoints -----------------------------------------------------------------------
    def _address(self, service: str, container_port: int) -> tuple[str, int]:
        """A published port when the stack publishes one; otherwise a loopback relay into the
        service's container (targets/relay.py): the stack decides what is published, not the suite."""
        found = self.service(service)
        published = found.published_address(container_port)
        if published is not None:
            return self._reach_published(*published)
        state = found.state()
        status = "paused" if state.get("Paused") else str(state.get("Status"))
        if status != "running":
            raise DependencyUnreachable(
                f"service {service} is {status}: port {container_port} cannot be reached (start it, then re-run)")
        key = (service, container_port)
        if key not in self._relays:
            self._relays[key] = ExecRelay(self.docker.api, lambda: str(self.service(service).container.id),
                                          container_port)
        return "127.0.0.1", self._relays[key].local_port

    def _reach_published(self, host: str, port: int) -> tuple[str, int]:
        return host, port

    def address(self, service: str, container_port: int) -> tuple[str, int]:
        """Where a check reaches `service`'s `container_port`: published, or through a relay."""
        return self._address(service, container_port)

    def relayed(self, service: str) -> bool:
        """Whether a check reached `service` through an exec relay: each connection to it starts a
        process in its container (pollers pace themselves by it: chaos/recovery.pacing)."""
        return any(name == service for name, _ in self._relays)

    def _route(self, port: int) -> str:
        """How a local address reaches its service, for messages."""
        relayed = [k for k, r in self._relays.items() if r.local_port == port]
        if relayed:
            reason = self._relays[relayed[0]].last_error
            return f"through docker exec into its container (port {relayed[0][1]} is not published)" + (
                f": {reason}" if reason else "")
        return f"at 127.0.0.1:{port}"

    @property
    def backend_url(self) -> str:
        host, port = self._address(self.profile.services.backend, self.profile.health.container_port)
        return f"http://{host}:{port}"

    @property
    def health_url(self) -> str:
        return self.backend_url + self.profile.health.path

    @property
    def metrics_url(self) -> str:
        host, port = self._address(self.profile.services.backend, self.profile.metrics.container_port)
        return f"http://{host}:{port}{self.profile.metrics.path}"

    def http(self) -> httpx.Client:
        if self._http is None:
            creds = self.profile.credentials
            headers = {}
            auth: httpx.BasicAuth | None = None
            if creds.bearer_token_env and os.environ.get(creds.bearer_token_env):
                token = os.environ[creds.bearer_token_env]
                REDACTOR.add(token, creds.bearer_token_env)
                headers["Authorization"] = f"Bearer {token}"
            if creds.basic_user_env and creds.basic_password_env:
                password = os.environ.get(creds.basic_password_env, "")
                REDACTOR.add(password, creds.basic_password_env)
                auth = httpx.BasicAuth(os.environ.get(creds.basic_user_env, ""), password)
            # no keep-alive: a connection the server closed after one check's request (uvicorn
            # closes it after an unhandled error) must not fail the next check that reuses it
            self._http = httpx.Client(timeout=10.0, headers=headers, auth=auth,
                                      limits=httpx.Limits(max_keepalive_connections=0))
        return self._http

    def mysql(
        self, user: str | None = None, password: str | None = None, database: str | None = None,
        timeout: float = 10, read_timeout: float = 60,
    ) -> pymysql.connections.Connection[Any]:
        cfg = self.profile.database
        host, port = self._address(self.profile.services.database, cfg.container_port)
        user_env, password_env = cfg.user_env, cfg.password_env
        readonly = user is None and self.kind == "live" and bool(cfg.readonly_user_env)
        if readonly:
            # live targets use the profile's read-only account for every default connection
            user_env, password_env = cfg.readonly_user_env, cfg.readonly_password_env
        if user is None:
            user = self._credential(user_env, readonly)
        if password is None:
            password = self._credential(password_env, readonly)
            REDACTOR.add(password, password_env)
        try:
            return mysql_connect.connect(
                host=host, port=port, user=user, password=password,
                database=database if database is not None else self.database_name() or None,
                connect_timeout=timeout, read_timeout=read_timeout, write_timeout=read_timeout, charset="utf8mb4",
            )
        except pymysql.err.OperationalError as error:
            code = error.args[0] if error.args else 0
            if code in {2003, 2013}:  # no connection, or closed before the greeting
                raise DependencyUnreachable(
                    f"MySQL (service {self.profile.services.database}) did not answer {self._route(port)}") from None
            if code == 1045:
                raise StackprobeUsageError(
                    f"MySQL at {host}:{port} refused user {user!r} (access denied): check "
                    f"{user_env}/{password_env} in {self.env_file} or the environment"
                ) from None
            raise

    def _credential(self, name: str, environment_first: bool = False) -> str:
        """A credential named in the profile (see `variable`); a read-only account (given to the
        suite, not to the stack) is looked up in the process environment first."""
        if not name:
            return ""
        given = os.environ.get(name, "") if environment_first else ""
        return given or self.variable(name, self.profile.services.database)

    def variable(self, name: str, service: str = "") -> str:
        """A variable the profile names: the env file's value, else the value in `service`'s
        container environment (a stack without an env file has its values inline in compose),
        else the Docker secret that environment names (`NAME_FILE`, see `secret_file`).
        MYSQL_X and MARIADB_X are one variable, as the mariadb image reads either."""
        if not name:
            return ""
        value, _ = lookup_variable(name, self.env)
        if value or not service:
            return value
        env = self.service_environment(service)
        value, _ = lookup_variable(name, env)
        if value:
            return value
        path, _ = secret_file_of(name, env)
        return self.secret_file(service, path) if path else ""

    def service_environment(self, service: str) -> dict[str, str]:
        """`service`'s container environment as Docker reports it ({} when it has no container)."""
        if service not in self._service_env:
            container = self.services().get(service)
            lines = (container.inspect().get("Config") or {}).get("Env") or [] if container else []
            self._service_env[service] = dict(line.split("=", 1) for line in lines if "=" in line)
        return self._service_env[service]

    def secret_variables(self, service: str) -> dict[str, str]:
        """NAME -> value of each Docker secret `service`'s container reads through a secret-named
        NAME_FILE (a file mounted in it, read there), where its environment has no NAME itself."""
        found = self.services().get(service)
        if found is None:
            return {}
        mounted = {str(m.get("Destination")) for m in found.inspect().get("Mounts") or []}
        env = self.service_environment(service)
        values = {}
        for key, path in env.items():
            name = key[:-len("_FILE")]
            secret = key.endswith("_FILE") and path in mounted and name not in env and DEFAULT_NAMES.is_secret(name)
            if secret and (value := self.secret_file(service, path)):
                values[name] = value
        return values

    def secret_file(self, service: str, path: str) -> str:
        """A Docker secret's value: the file at `path` in `service`'s container, read there (as
        the stack's own processes read it, here or over SSH), trailing newlines dropped as the
        official images' entrypoints drop them; "" when it cannot be read. Learnt by the redactor."""
        key = (service, path)
        if key not in self._secret_files:
            found = self.services().get(service)
            try:
                done = found.exec(["cat", path]) if found is not None else None
            except APIError:  # not running: nothing to read it with
                done = None
            value = done.output.rstrip("\r\n") if done is not None and done.exit_code == 0 else ""
            REDACTOR.add(value, f"{service} secret {path}")
            self._secret_files[key] = value
        return self._secret_files[key]

    def database_name(self) -> str:
        """The application's database ([database] database_env, see `variable`)."""
        return self.variable(self.profile.database.database_env, self.profile.services.database)

    def mysql_root(self, database: str | None = None) -> pymysql.connections.Connection[Any]:
        cfg = self.profile.database
        return self.mysql("root", self.variable(cfg.root_password_env, self.profile.services.database), database or "")

    def redis(self, timeout: float = 5, single_attempt: bool = False) -> redis.Redis[str]:
        """`single_attempt`: no retries (redis-py retries a timed-out command 3 times by default),
        so a probe of a frozen Redis is bounded by `timeout`."""
        cfg = self.profile.redis
        if not self.profile.services.cache:
            raise StackprobeUsageError("the profile declares no cache ([absent] parts has \"cache\"): there is no "
                                       "Redis to connect to; remove \"cache\" from [absent] parts if the stack has one")
        host, port = self._address(self.profile.services.cache, cfg.container_port)
        extra: dict[str, Any] = {}
        if single_attempt:
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            extra["retry"] = Retry(NoBackoff(), 0)
        client = _Redis(
            host=host, port=port, password=self.variable(cfg.password_env, self.profile.services.cache) or None,
            socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True,
            redis_connect_func=_connect_auth_if_asked, **extra,
        )
        client.unreachable = f"Redis (service {self.profile.services.cache}) did not answer {self._route(port)}"
        return client

    # --- lifecycle -----------------------------------------------------------------------
    def learn_secrets(self) -> None:
        """Teach the redactor every secret of the env files and the containers' environments."""
        REDACTOR.add_environment(self.env, "env file")
        # A secret equal to one of these is redacted only as a whole value, never inside them.
        roles = self.profile.services
        REDACTOR.add_names([n for n in (self.project, *self.services(), roles.database, roles.cache, roles.backend)
                            if n])
        for name, service in self.services().items():
            attrs = service.inspect()
            REDACTOR.add_environment(attrs.get("Config", {}).get("Env") or [], f"{service.name} environment")
            self.initial_restarts[service.name] = int(attrs.get("RestartCount", 0))
            for mount in attrs.get("Mounts") or []:  # compose mounts each Docker secret there
                if str(mount.get("Destination", "")).startswith(SECRETS_DIR):
                    self.secret_file(name, str(mount["Destination"]))

    def close(self) -> None:
        for relay in self._relays.values():
            relay.close()
        self._relays.clear()
        if self._http is not None:
            self._http.close()
            self._http = None

"""What a compose model says about a stack, for `stackprobe init`: which service plays which role
(database, cache, backend), where its health endpoint and metrics are, which versions it runs.

Pure functions of the model as `docker compose config --format json` renders it. Each guess carries
a note; a value not inferred is None and its note says what to check instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_DATABASE_IMAGES = re.compile(r"mysql|mariadb|percona", re.I)
_CACHE_IMAGES = re.compile(r"redis|valkey|keydb", re.I)
_DATABASE_ENV = re.compile(r"^(MYSQL|MARIADB)_")
_CACHE_ENV = re.compile(r"^REDIS")
_URL = re.compile(r"https?://[^/\s'\"]+?(?::(?P<port>\d+))?(?P<path>/[^\s'\"]*)?(?=[\s'\"]|$)")
_VERSION = re.compile(r"(?<![\d.])(\d+)\.(\d+)")
_DATABASE_PORT, _CACHE_PORT = 3306, 6379


@dataclass
class Guess:
    """A value for the profile (None: not inferred) and what it was read from or what to check."""

    value: Any
    note: str

    @property
    def todo(self) -> bool:
        return self.value is None


@dataclass
class Roles:
    database: Guess
    cache: Guess
    backend: Guess
    services: list[str] = field(default_factory=list)


def _services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = model.get("services")
    return services if isinstance(services, dict) else {}


def target_ports(service: dict[str, Any]) -> list[int]:
    """Container ports a service publishes or exposes."""
    ports: list[int] = []
    for entry in service.get("ports") or []:
        target = entry.get("target") if isinstance(entry, dict) else None
        if isinstance(target, int) and target not in ports:
            ports.append(target)
    for entry in service.get("expose") or []:
        number = str(entry).split("/")[0]
        if number.isdigit() and int(number) not in ports:
            ports.append(int(number))
    return ports


# mounts that hold no data of the service's own: configuration, init scripts, runtime sockets, logs
_NOT_DATA = re.compile(r"^/(etc|run|tmp|var/run|var/log|docker-entrypoint-initdb\.d)(/|$)|/logs?$")


def data_dirs(service: dict[str, Any], project_dir: Path | None) -> list[str]:
    """Where a service keeps data: its writable directory mounts (named volumes, and binds of a
    directory), less configuration, init scripts, runtime paths and logs (CMP-01 wants these on
    named volumes)."""
    found = []
    for entry in service.get("volumes") or []:
        if not isinstance(entry, dict) or entry.get("read_only") or entry.get("type") not in ("volume", "bind"):
            continue
        target = str(entry.get("target") or "")
        source = Path(str(entry.get("source") or ""))
        if entry.get("type") == "bind" and project_dir is not None:
            source = source if source.is_absolute() else project_dir / source
            if source.is_file():  # a file mounted (a script, a config), not a data directory
                continue
        if target and not _NOT_DATA.search(target) and target not in found:
            found.append(target)
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    return {str(k): "" if v is None else str(v) for k, v in env.items()} if isinstance(env, dict) else {}


def _image(service: dict[str, Any]) -> str:
    return str(service.get("image") or "")


def _score(service: dict[str, Any], images: re.Pattern[str], env: re.Pattern[str], port: int) -> tuple[int, str]:
    reasons = []
    if images.search(_image(service)):
        reasons.append(f"image {_image(service)}")
    if port in target_ports(service):
        reasons.append(f"port {port}")
    names = [k for k in environment(service) if env.match(k)]
    if names and not reasons:  # a client's variables (MYSQL_HOST in the backend) only break ties
        return 0, ""
    if names:
        reasons.append(f"variables {', '.join(sorted(names)[:3])}")
    return len(reasons), ", ".join(reasons)


def _best(services: dict[str, dict[str, Any]], images: re.Pattern[str], env: re.Pattern[str], port: int,
          what: str, taken: set[str]) -> Guess:
    scored = sorted(((_score(s, images, env, port), name) for name, s in services.items() if name not in taken),
                    key=lambda x: -x[0][0])
    if not scored or scored[0][0][0] == 0:
        return Guess(None, f"no service looks like the {what} (image, port {port}): name it")
    (points, reasons), name = scored[0]
    rivals = [n for (p, _), n in scored[1:] if p == points]
    note = f"{reasons}" + (f"; also possible: {', '.join(rivals)}" if rivals else "")
    return Guess(name, note)


def health_url(service: dict[str, Any]) -> tuple[int | None, str | None]:
    """Port and path of the HTTP URL in a service's healthcheck (curl, wget, python urllib...)."""
    test = (service.get("healthcheck") or {}).get("test") or []
    text = " ".join(test) if isinstance(test, list) else str(test)
    match = _URL.search(text)
    if not match:
        return None, None
    port = int(match["port"]) if match["port"] else (443 if text[match.start():].startswith("https") else 80)
    return port, match["path"] or "/"


def _backend(services: dict[str, dict[str, Any]], taken: set[str]) -> Guess:
    """The service whose healthcheck calls an HTTP URL (the API), else the one built from source."""
    with_url = [n for n, s in services.items() if n not in taken and health_url(s)[1] is not None]
    built = [n for n, s in services.items() if n not in taken and s.get("build")]
    depending = [n for n, s in services.items() if n not in taken and set(s.get("depends_on") or {}) & taken]
    clients = [n for n, s in services.items() if n not in taken and _connects_to(s, taken)]
    for candidates, why in ((with_url, "healthcheck calls an HTTP URL"), (built, "built from source"),
                            (depending, "depends on the database or cache"),
                            (clients, "its environment names the database or cache as a host")):
        if candidates:
            ranked = sorted(candidates, key=lambda n: (n not in built, n not in depending, n not in clients, n))
            rivals = ranked[1:]
            return Guess(ranked[0], why + (f"; also possible: {', '.join(rivals)}" if rivals else ""))
    return Guess(None, "no service has an HTTP healthcheck, a build, or the database or cache as a host in its "
                       "environment: name the API service")


def _connects_to(service: dict[str, Any], hosts: set[str]) -> bool:
    """Whether a service's environment names one of `hosts` as a host (DB_HOST=db, a URL @db)."""
    for value in environment(service).values():
        try:
            host = urlsplit(value).hostname if "://" in value else value
        except ValueError:  # not a URL after all
            continue
        if host in hosts:
            return True
    return False


def roles(model: dict[str, Any]) -> Roles:
    services = _services(model)
    database = _best(services, _DATABASE_IMAGES, _DATABASE_ENV, _DATABASE_PORT, "database (MySQL/MariaDB)", set())
    taken = {database.value} if database.value else set()
    cache = _best(services, _CACHE_IMAGES, _CACHE_ENV, _CACHE_PORT, "cache (Redis)", taken)
    taken |= {cache.value} if cache.value else set()
    return Roles(database, cache, _backend(services, taken), sorted(services))


def version_prefixes(image: str) -> Guess:
    """Accepted server versions from an image's tag: every major.minor in it ("8.0-mariadb10.11": both)."""
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    found = list(dict.fromkeys(f"{major}.{minor}." for major, minor in _VERSION.findall(tag)))
    if found:
        return Guess(found, f"from the image tag {tag!r}")
    return Guess(None, f"image {image or '(none)'} has no version in its tag: list the server versions you run "
                       "as prefixes of SELECT VERSION() / INFO server")


def redis_persistence(service: dict[str, Any]) -> Guess:
    command = service.get("command") or []
    text = " ".join(command) if isinstance(command, list) else str(command)
    aof = re.search(r"--appendonly\s+yes", text) is not None
    rdb = re.search(r"--save\s+['\"]?\d", text) is not None
    if aof or rdb:
        value = "aof+rdb" if aof and rdb else "aof" if aof else "rdb"
        return Guess(value, "from the service's command")
    return Guess(None, "no --appendonly/--save in the command (a config file may set it): aof, rdb, "
                       "aof+rdb, any or none")


def metrics_port(service: dict[str, Any], health_port: int | None) -> Guess:
    """The backend's other port if it has exactly one, else the health port (one server for both)."""
    others = [p for p in target_ports(service) if p != health_port]
    if len(others) == 1:
        return Guess(others[0], "the backend's other published port")
    if not others and health_port is not None:
        return Guess(health_port, "the backend publishes only its API port: metrics assumed served there")
    return Guess(None, f"the backend publishes {', '.join(map(str, others)) or 'no port'}: which serves /metrics?")


def env_key(env: dict[str, str], pattern: str, default: str) -> Guess:
    """The name of the first variable matching `pattern` (a regex) in a service's environment; a
    Docker secret (`NAME_FILE` naming its file, the official images' convention) gives NAME, which
    the suite then reads from that file in the container."""
    for name in env:
        if re.fullmatch(pattern, name) and not name.endswith("_FILE"):
            return Guess(name, "from the service's environment")
    for name in env:
        if name.endswith("_FILE") and re.fullmatch(pattern, name[:-len("_FILE")]):
            return Guess(name[:-len("_FILE")], f"a Docker secret: the service's {name} names its file")
    return Guess(None, f"no variable like {default} in the service's environment: name the one that holds it")


_DATABASE_URL = re.compile(r"(mysql|mariadb)(\+\w+)?://", re.I)


def database_url_key(env: dict[str, str]) -> str | None:
    """The variable holding a MySQL/MariaDB URL (`mysql+pymysql://user:pass@db/app`), if any:
    where the backend's account is when it gets one URL instead of user and password variables."""
    return next((name for name, value in env.items() if _DATABASE_URL.match(value)), None)


_DATABASE_NAME = re.compile(r"data|db|sql|maria", re.I)
_CACHE_NAME = re.compile(r"redis|cache|valkey|keydb", re.I)


def health_dependencies(roles: Roles, cache_image: str, reported: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """The dependency names the health JSON reports and the service behind each.

    `reported`: the names a running backend's health answer lists (None: not seen); each is
    mapped to the database or cache service by its name. Without it, the names are guessed
    ("database", and "redis" or "cache")."""
    if reported is None:
        cache_name = "redis" if _CACHE_IMAGES.search(cache_image) else "cache"
        guessed = {"database": roles.database.value, cache_name: roles.cache.value}
        mapping = {k: str(v) for k, v in guessed.items() if v}
        return list(mapping), mapping
    mapping = {}
    for name in reported:
        if _DATABASE_NAME.search(name) and roles.database.value:
            mapping[name] = str(roles.database.value)
        elif _CACHE_NAME.search(name) and roles.cache.value:
            mapping[name] = str(roles.cache.value)
    return list(reported), mapping

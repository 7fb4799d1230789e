"""`stackprobe init`: a commented starting profile from a compose project (its files, or a running
project by name). What it reads is said beside each value; what it cannot infer is marked `# TODO`
with what to check. It never overwrites a profile without `force`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe import compose_roles as cr
from stackprobe.activation import DEFAULT_PROFILE
from stackprobe.checks.docker_secrets import secret_files
from stackprobe.errors import StackprobeUsageError
from stackprobe.profile import ChaosSection, ComposeSection, LogsSection, StackSection, load_profile
from stackprobe.secret_names import DEFAULT_NAMES, is_password_name

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
TEMPLATE_NAMES = (".env.example", ".env.template", ".env.sample", ".env.dist", "env.example")
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".stackprobe", "reports"}
_SEARCH_DEPTH = 4
_EPHEMERAL_LOG_BYTES = "16384"  # an ephemeral copy rotates its log quickly (LOG-02/03 see rotations)
_EPHEMERAL_LOG_BACKUPS = "3"


@dataclass
class Source:
    """Where the compose project is: its directory, files, env file (if any) and project name (if running)."""

    project_dir: Path
    compose_files: list[Path]
    env_file: Path | None
    project_name: str | None
    env_note: str = ""


def _compose_files_in(directory: Path) -> list[Path]:
    found = [directory / name for name in COMPOSE_NAMES if (directory / name).is_file()]
    return found[:1]


def source_from_files(project_dir: Path | None, compose_files: Sequence[Path] | None) -> Source:
    if compose_files:
        files = [Path(f).resolve() for f in compose_files]
        for file in files:
            if not file.is_file():
                raise StackprobeUsageError(f"compose file {file} does not exist: pass the right --compose-file")
        directory = files[0].parent
    else:
        directory = (project_dir or Path.cwd()).resolve()
        if not directory.is_dir():
            raise StackprobeUsageError(f"project directory {directory} does not exist: pass the right --project-dir")
        files = _compose_files_in(directory)
        if not files:
            raise StackprobeUsageError(f"no compose file in {directory} (looked for {', '.join(COMPOSE_NAMES)}): "
                                       "pass --project-dir DIR or --compose-file FILE")
    env = directory / ".env"
    return Source(directory, files, env if env.is_file() else None, None)


def source_from_running(project_name: str) -> Source:
    """A running project's files and env file, as compose labelled its containers."""
    from stackprobe.targets.base import docker_client

    containers = docker_client().containers.list(filters={"label": f"com.docker.compose.project={project_name}"})
    if not containers:
        raise StackprobeUsageError(f"no running container of compose project {project_name!r}: "
                                   "check `docker compose ls`, or pass --project-dir")
    labels = containers[0].labels
    files = [Path(f) for f in labels.get("com.docker.compose.project.config_files", "").split(",") if f]
    working = labels.get("com.docker.compose.project.working_dir", "")
    if not files or not working:
        raise StackprobeUsageError(f"compose project {project_name!r} has no config_files/working_dir labels "
                                   "(started by an old compose?): pass --compose-file instead")
    env_files = [Path(f) for f in labels.get("com.docker.compose.project.environment_file", "").split(",") if f]
    note = ""
    if len(env_files) > 1:
        note = (f"compose started the project with {len(env_files)} env files ({', '.join(map(str, env_files))}); "
                "stackprobe reads one: point env_file at one that holds every key")
    return Source(Path(working), files, env_files[0] if env_files else None, project_name, note)


def _template(directory: Path) -> Path | None:
    return next((directory / n for n in TEMPLATE_NAMES if (directory / n).is_file()), None)


def render(source: Source) -> dict[str, Any]:
    """The compose model as `up` would see it (the shell's environment, stand-in images chosen by
    .stackprobe/images.env); without an env file, one generated from the template (random secrets),
    so `${VAR:?}` variables render. A running project's images are the containers' own."""
    import os

    from stackprobe.checks.compose_render import render_compose
    from stackprobe.targets.base import load_image_overrides
    from stackprobe.targets.envfiles import generated_from_template, write_env

    load_image_overrides(source.project_dir)
    env_file = source.env_file
    with tempfile.TemporaryDirectory(prefix="stackprobe-init-") as scratch:
        template = _template(source.project_dir)
        if env_file is None and template is not None:
            env_file = Path(scratch) / ".env"
            write_env(env_file, generated_from_template(template))
        model = render_compose(source.compose_files, env_file, source.project_dir, environ=dict(os.environ))
    if source.project_name:
        _images_of_running(model, source.project_name)
    return model


def _images_of_running(model: dict[str, Any], project_name: str) -> None:
    from stackprobe.targets.base import docker_client

    services = model.get("services") or {}
    for container in docker_client().containers.list(filters={"label": f"com.docker.compose.project={project_name}"}):
        service = container.labels.get("com.docker.compose.service", "")
        image = (container.attrs.get("Config") or {}).get("Image")
        if service in services and image:
            services[service]["image"] = image


def _walk(directory: Path, depth: int = 0) -> Iterator[Path]:
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.is_dir() and entry.name not in _SKIP_DIRS and depth < _SEARCH_DEPTH:
            yield from _walk(entry, depth + 1)
        elif entry.is_file():
            yield entry


def find_scripts(project_dir: Path) -> dict[str, str]:
    """Relative paths of the deployment's scripts: backup, restore, deploy and a logrotate file."""
    patterns = {"backup": re.compile(r"backup[\w.-]*\.sh$"), "restore": re.compile(r"restore[\w.-]*\.sh$"),
                "deploy": re.compile(r"deploy[\w.-]*\.sh$")}
    found: dict[str, str] = {}
    for path in _walk(project_dir):
        relative = path.relative_to(project_dir).as_posix()
        for kind, pattern in patterns.items():
            if kind not in found and pattern.fullmatch(path.name):
                found[kind] = relative
        if "logrotate" not in found and ("logrotate" in path.parent.name or path.suffix == ".logrotate"):
            found["logrotate"] = relative
    return found


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.todos = 0

    def section(self, name: str, comment: str = "") -> None:
        self.lines += ["", f"[{name}]" + (f"  # {comment}" if comment else "")]

    def value(self, key: str, value: Any, note: str = "") -> None:
        self.lines.append(f"{key} = {_toml(value)}" + (f"  # {note}" if note else ""))

    def guess(self, key: str, guess: cr.Guess, default: Any) -> None:
        """An inferred value with where it came from; else the default, commented out, and a TODO."""
        if guess.todo:
            self.todo(key, default, guess.note)
        else:
            self.value(key, guess.value, guess.note)

    def todo(self, key: str, value: Any, note: str) -> None:
        self.todos += 1
        self.lines.append(f"# TODO {key}: {note}")
        self.lines.append(f"# {key} = {_toml(value)}")

    def check(self, key: str, value: Any, note: str) -> None:
        """A value written on a guess: kept, and marked for a look."""
        self.todos += 1
        self.lines.append(f"{key} = {_toml(value)}  # TODO check: {note}")


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def _template_values(source: Source) -> dict[str, str | None]:
    from stackprobe.checks.envread import read_env_file

    for candidate in (_template(source.project_dir), source.env_file):
        if candidate is not None:
            return dict(read_env_file(candidate).values)
    return {}


def profile_text(source: Source, model: dict[str, Any], origin: str) -> tuple[str, int]:
    """The profile's text and the number of values marked TODO."""
    services: dict[str, dict[str, Any]] = model.get("services") or {}
    roles = cr.roles(model)
    db = services.get(roles.database.value or "", {})
    cache = services.get(roles.cache.value or "", {})
    backend = services.get(roles.backend.value or "", {})
    scripts = find_scripts(source.project_dir)
    template = _template(source.project_dir)
    w = _Writer()
    w.lines += [
        f"# stackprobe profile written by `stackprobe init` from {origin} on {dt.date.today().isoformat()}.",
        "# Beside each value: what it was read from. `# TODO` marks what could not be inferred, or was",
        "# guessed: check each before you trust a run. Every key and its default is documented in",
        "# profiles/production.example.toml of stackprobe's source. Relative paths are relative to",
        "# [stack] project_dir; run `stackprobe run` from the directory holding this file.",
    ]
    w.section("stack")
    w.value("project_dir", str(source.project_dir), "the compose project's directory")
    w.value("compose_files", [_relative(f, source.project_dir) for f in source.compose_files])
    env_file = _relative(source.env_file, source.project_dir) if source.env_file else ".env"
    inline = source.env_file is None and template is None and not (source.project_dir / ".env").is_file()
    if source.env_note:
        w.check("env_file", env_file, source.env_note)
    elif inline:
        w.value("env_file", "", "no env file nor template: the values are inline in compose (judged there; "
                                "ENV-01/02 and SEC-05 are not applicable)")
    else:
        w.value("env_file", env_file, "live runs read it" + ("" if source.env_file else
                                                              " (none yet; ephemeral runs generate their own)"))
    if template is not None:
        w.value("env_template", template.name, "ephemeral runs generate their env file from it")
    elif inline:
        w.value("env_template", "", "none: ephemeral copies use the values in compose")
    else:
        w.todo("env_template", StackSection().env_template, "no env template found "
               f"({', '.join(TEMPLATE_NAMES)}): ephemeral runs and ENV-01/02 need one")
    project_name = source.project_name or model.get("name")
    w.value("project_name", str(project_name), "live runs attach to this compose project")
    backend_name = roles.backend.value
    context = Path(str((backend.get("build") or {}).get("context") or "")) if backend.get("build") else None
    alembic = context is not None and (context / "alembic.ini").is_file()
    if backend_name and alembic:
        w.value("migrate_command", ["run", "--rm", "-T", "{backend}", "alembic", "upgrade", "head"],
                "alembic.ini in the backend's build context; ephemeral copies migrate once up")
    else:
        w.todo("migrate_command", [], "no alembic.ini in the backend's build context: the compose arguments "
               "that migrate a fresh copy (e.g. run --rm -T {backend} ./migrate), or [] for none")
    backend_env = cr.environment(backend)
    logs = LogsSection()
    small = {logs.max_bytes_env: _EPHEMERAL_LOG_BYTES, logs.backup_count_env: _EPHEMERAL_LOG_BACKUPS}
    if all(key in backend_env for key in small):
        w.section("stack.ephemeral_env", "an ephemeral copy rotates its log quickly, so LOG-02/03 see rotations")
        for key, value in small.items():
            w.value(key, value)

    w.section("services", f"roles of the compose services ({', '.join(roles.services)})")
    for role in ("database", "cache", "backend"):
        w.guess(role, getattr(roles, role), role)

    health_port, health_path = cr.health_url(backend)
    w.section("health")
    if health_path is not None:
        w.value("path", health_path, "from the backend's healthcheck")
        w.value("container_port", health_port, "from the backend's healthcheck")
    else:
        w.todo("path", "/health", "the backend's healthcheck calls no HTTP URL: the health endpoint's path")
        w.todo("container_port", 8000, "the port the health endpoint listens on inside the container")
    reported = _reported_dependencies(source, roles.backend.value, health_port, health_path)
    dependencies, dependency_services = cr.health_dependencies(roles, str(cache.get("image") or ""), reported)
    seen = "as the running backend's health answer lists them" if reported is not None else ""
    if seen:
        w.value("dependencies", dependencies, seen)
        w.value("dependency_services", dependency_services, "the service behind each (by its name)")
    else:
        w.check("dependencies", dependencies, "every dependency the health JSON must report healthy, by the "
                "names it gives them (start the stack and run init with --project-name to read them)")
        w.check("dependency_services", dependency_services, "the service behind each name (HLT-03, chaos outages)")
    database_name = next((k for k, v in dependency_services.items() if v == roles.database.value), None)
    w.section("chaos", "the experiments' probes of the backend's data path, and what they take down")
    if database_name != "database":  # the chaos experiments' default names the database "database"
        w.check("freeze_dependencies", [database_name] if database_name else [], "the database's health name")
        w.check("partition_dependencies", [database_name] if database_name else [], "the database's health name")
    # the files name no route of the API: the health route reads the database in most stacks, and
    # CHS-02/05/06 prove it (a probe that still answers while the database is out fails them)
    w.check("api_probe_path", health_path or "/health", "a GET the database serves (tried while the database "
            "is out); the health route until you name one of your API's reads")
    w.check("api_probe_ok", [200], "its statuses on a healthy stack")
    w.todo("api_write_path", ChaosSection().api_write_path, "a POST that stores a document (read back at "
           "api_read_path, its id at api_write_id_field); or declare [absent] parts api_writes")

    w.section("metrics")
    w.check("path", "/metrics", "the Prometheus convention; your metrics path if it differs")
    w.guess("container_port", cr.metrics_port(backend, health_port), 9090)

    db_env = cr.environment(db)
    w.section("database", f"service {roles.database.value}" if roles.database.value else "no database found")
    db_ports = cr.target_ports(db)
    w.value("container_port", 3306 if 3306 in db_ports or not db_ports else db_ports[0])
    for key, pattern, default in (("user_env", r"(MYSQL|MARIADB)_USER", "MYSQL_USER"),
                                  ("password_env", r"(MYSQL|MARIADB)_PASSWORD", "MYSQL_PASSWORD"),
                                  ("database_env", r"(MYSQL|MARIADB)_DATABASE", "MYSQL_DATABASE"),
                                  ("root_password_env", r"(MYSQL|MARIADB)_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD")):
        w.guess(key, cr.env_key(db_env, pattern, default), default)
    url_key = cr.database_url_key(backend_env)
    if url_key:  # DB-02 then reads the backend's account from it, not from the database's variables
        w.value("url_env", url_key, "the backend's database URL, from its environment (its account: DB-02)")
    w.guess("version_prefixes", cr.version_prefixes(str(db.get("image") or "")), ["8.0."])

    w.section("redis", f"service {roles.cache.value}" if roles.cache.value else "no cache found")
    cache_ports = cr.target_ports(cache)
    w.value("container_port", 6379 if 6379 in cache_ports or not cache_ports else cache_ports[0])
    password = cr.env_key({**cr.environment(cache), **{k: v for k, v in backend_env.items() if "REDIS" in k}},
                          r"\w*PASSWORD\w*", "REDIS_PASSWORD")
    w.guess("password_env", password, "REDIS_PASSWORD")
    w.guess("version_prefixes", cr.version_prefixes(str(cache.get("image") or "")), ["7.0."])
    w.guess("persistence", cr.redis_persistence(cache), "any")
    if not roles.cache.value:
        w.section("absent", "parts of the reference design the stack does not have")
        w.check("parts", ["cache"], "no service plays the cache role: RDS-01/02 and CHS-03 are not applicable")

    # the template's keys, else (values inline in compose) those the services get
    template_values = _template_values(source) or {
        k: v for spec in services.values() for k, v in cr.environment(spec).items()}
    for secret in secret_files(model):  # a Docker secret stands for its variable (its value: the file's)
        template_values.setdefault(secret.name(), None)
    keys = [k for k, v in template_values.items() if DEFAULT_NAMES.is_secret(k, v) or k == "SECRET_KEY"]
    passwords = [k for k in keys if is_password_name(k)]
    signing = next((k for k in keys if k == "SECRET_KEY"), next((k for k in keys if k.endswith("SECRET_KEY")), None))
    w.section("secrets", "from the env template's keys, else the services' environments")
    w.guess("secret_key", cr.Guess(signing, "the signing key") if signing else
            cr.Guess(None, "no *SECRET_KEY in the template: the key SEC-01 judges"), "SECRET_KEY")
    w.value("password_keys", passwords)
    w.value("other_secret_keys", [k for k in keys if k not in passwords and k != signing])

    w.section("logs")
    if logs.file_env not in backend_env:
        w.todo("file", "/app/logs/app.log", f"the backend's environment has no {logs.file_env}: its log file")
    if "logrotate" in scripts:
        w.value("logrotate_file", scripts["logrotate"], "found in the project")
    else:
        w.todo("logrotate_file", logs.logrotate_file, "no logrotate file found (LOG-04)")

    w.section("backup")
    if "backup" in scripts:
        w.value("command", [scripts["backup"]], "found in the project")
    else:
        w.todo("command", ["scripts/backup.sh"], "no backup script found: the command that writes a dump, or "
               "declare [absent] parts backup (a finding unless you accept it)")
    if "restore" in scripts:
        w.check("restore_command", [scripts["restore"], "{file}", "--database", "{database}"],
                "found in the project; the arguments it takes ({file}: the dump, {database}: a scratch database)")
    else:
        w.todo("restore_command", ["scripts/restore.sh", "{file}", "--database", "{database}"],
               "no restore script found (BKP-02/07/08 restore into a scratch database)")

    w.section("deploy")
    if "deploy" in scripts:
        w.value("command", [scripts["deploy"]], "found in the project")
    else:
        w.todo("command", ["scripts/deploy.sh"], "no deploy script found (DEP-01/02 drive it)")
    _data_dirs(w, roles, services, source.project_dir)
    _hardening(w, services)
    return "\n".join(w.lines) + "\n", w.todos


def _data_dirs(w: _Writer, roles: cr.Roles, services: dict[str, dict[str, Any]], project_dir: Path | None) -> None:
    """[compose] *_data_dirs (CMP-01) from each role's writable mounts; the database's and cache's
    images' own data directories where nothing is mounted (CMP-01 then says so)."""
    defaults = ComposeSection()
    w.section("compose", "CMP-01: the directories each role keeps its data in (named volumes expected)")
    for key, role, default in (("database_data_dirs", roles.database.value, defaults.database_data_dirs),
                               ("cache_data_dirs", roles.cache.value, defaults.cache_data_dirs)):
        found = cr.data_dirs(services[role], project_dir) if role else []
        if found:
            w.value(key, found, f"{role}'s writable mounts")
        elif role:
            w.check(key, default, f"{role} mounts nothing writable: the image's own data directory")
    backend = roles.backend.value
    found = cr.data_dirs(services[backend], project_dir) if backend else []
    w.check("backend_data_dirs", found, (f"{backend}'s writable mounts, logs and configuration left out: keep "
                                         "those that hold its data (uploads, an embedded store)") if found else
            "the backend mounts nothing writable: the directories its data lives in, if any")


def _hardening(w: _Writer, services: dict[str, dict[str, Any]]) -> None:
    """[hardening] as the compose file declares it (capabilities added back, read-only services and
    their writable paths), what it suggests (a service that adds SETUID/SETGID back starts as root
    to drop to a service user) and a hadolint baseline of the Dockerfiles it builds: the last two
    marked for a look, since why is the operator's to say."""
    w.section("hardening", "HRD-01..10: what the compose file declares, and what only you can say")
    added = {name: [str(c) for c in spec.get("cap_add") or []] for name, spec in services.items()
             if spec.get("cap_add")}
    w.value("capabilities", added, "the cap_add of each service (HRD-02 fails any capability not listed)")
    read_only: dict[str, list[str]] = {}
    for name, spec in services.items():
        if spec.get("read_only"):
            paths = [str(t).split(":")[0] for t in spec.get("tmpfs") or []]
            paths += [str(v["target"]) for v in spec.get("volumes") or [] if isinstance(v, dict) and v.get("target")]
            read_only[name] = sorted(set(paths))
    w.value("read_only", read_only, "services with read_only: true, and their tmpfs and volume paths")
    dropping = {name: "starts as root and drops to a service user (it adds SETUID/SETGID back)"
                for name, spec in services.items()
                if str(spec.get("user") or "root").split(":")[0] in ("root", "0")
                and {"SETUID", "SETGID"} & {str(c).upper() for c in spec.get("cap_add") or []}}
    if dropping:
        w.check("root_allowed", dropping, "confirm each image's entrypoint drops to its service user, and write "
                                          "the reason; HRD-01 fails any other service that runs as root")
    else:
        w.todo("root_allowed", {}, "the services that start as root, each with the reason (an entrypoint that "
                                   "drops to a service user, say): HRD-01 fails any other")
    baseline = _hadolint_baseline(services)
    if baseline is None:
        w.todo("hadolint_ignore", [], "hadolint rules the project's Dockerfiles ignore, each for a reason you "
                                      "write beside it (HRD-10)")
    else:
        w.check("hadolint_ignore", baseline, "the rules hadolint reports on the Dockerfiles compose builds "
                                             "today (a baseline): keep those you accept, each with its reason, "
                                             "and fix the rest")


def _hadolint_baseline(services: dict[str, dict[str, Any]]) -> list[str] | None:
    """hadolint's rules (warning or worse) on every Dockerfile the model builds; None without hadolint."""
    from stackprobe.checks.dockerfile import run_hadolint
    from stackprobe.checks.findings import ConfigInputError

    rules: set[str] = set()
    for spec in services.values():
        build = spec.get("build") or {}
        if not isinstance(build, dict) or not build.get("context"):
            continue
        dockerfile = Path(str(build["context"])) / str(build.get("dockerfile") or "Dockerfile")
        if not dockerfile.is_file():
            continue
        try:
            found = run_hadolint(dockerfile.read_text(encoding="utf-8"), str(dockerfile), "warning", ())
        except ConfigInputError:
            return None
        rules |= {str(r.get("code")) for r in found if r.get("code")}
    return sorted(rules)


def _reported_dependencies(source: Source, backend: str | None, port: int | None, path: str | None) -> list[str] | None:
    """A running backend's health answer, read once on its published port (127.0.0.1): the names
    in its `services` object. None when the project is not running or the answer says nothing."""
    if not (source.project_name and backend and port and path):
        return None
    import httpx

    from stackprobe.targets.base import docker_client

    filters = {"label": [f"com.docker.compose.project={source.project_name}",
                         f"com.docker.compose.service={backend}"]}
    for container in docker_client().containers.list(filters=filters):
        bindings = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        for binding in bindings.get(f"{port}/tcp") or []:
            host = binding.get("HostIp") or "127.0.0.1"
            host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
            try:
                answer = httpx.get(f"http://{host}:{binding['HostPort']}{path}", timeout=5.0).json()
            except (httpx.HTTPError, ValueError):
                continue
            services = answer.get("services") if isinstance(answer, dict) else None
            if isinstance(services, dict) and services:
                return [str(name) for name in services]
    return None


def init_profile(*, project_dir: Path | None = None, compose_files: Sequence[Path] | None = None,
                 project_name: str | None = None, output: Path | None = None, force: bool = False) -> Path:
    """Write the profile and return its path; an existing one only with `force`."""
    target = (output or Path.cwd() / DEFAULT_PROFILE).resolve()
    if project_name:
        source, origin = source_from_running(project_name), f"running compose project {project_name!r}"
    else:
        source = source_from_files(project_dir, compose_files)
        origin = ", ".join(str(f) for f in source.compose_files)
    if target.exists() and not force:
        raise StackprobeUsageError(f"{target} exists: pass --force to overwrite it, or --output another path")
    text, _todos = profile_text(source, render(source), origin)
    with tempfile.TemporaryDirectory(prefix="stackprobe-init-") as scratch:
        check = Path(scratch) / DEFAULT_PROFILE
        check.write_text(text, encoding="utf-8")
        load_profile(check)  # what we write must load under the strict loader
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target

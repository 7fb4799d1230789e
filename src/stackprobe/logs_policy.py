"""The log policy the backend actually runs with (file, limit, backups: from the profile's [logs],
else the service's environment, else the env file), and reading every file of that log."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from stackprobe.errors import StackprobeUsageError
from stackprobe.logs import LogFile, log_set
from stackprobe.profile import LogsSection
from stackprobe.targets.base import Service, Target


@dataclass(frozen=True)
class LogPolicy:
    """The log file, its limit and its backups as the service runs them."""

    service: str
    file: str
    max_bytes: int
    backup_count: int
    sources: dict[str, str] = field(default_factory=dict)
    # where the limits are not known: what to set (only the rotation experiment needs them)
    limits_unknown: str = ""

    @property
    def stdout(self) -> bool:
        """The service logs to its standard output only ([absent] parts: log_file)."""
        return not self.file

    @property
    def where(self) -> str:
        return f"the standard output of {self.service} (docker logs)" if self.stdout else self.file

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.file) or "/"

    @property
    def base(self) -> str:
        return posixpath.basename(self.file)

    def describe(self) -> dict[str, Any]:
        if self.limits_unknown:
            return {"service": self.service, "file": self.file, "limits": "unknown", "from": self.sources}
        return {"service": self.service, "file": self.file, "max_bytes": self.max_bytes,
                "backup_count": self.backup_count, "from": self.sources}


def _setting(cfg: LogsSection, key: str, service_env: dict[str, str], target: Target, service: str) -> tuple[str, str]:
    value = getattr(cfg, key)
    unset = value == "" if isinstance(value, str) else value < (0 if key == "backup_count" else 1)
    if not unset:
        return str(value), "profile [logs]"
    env_key = getattr(cfg, f"{key}_env")
    if service_env.get(env_key):
        return service_env[env_key], f"{service} environment {env_key}"
    if target.env.get(env_key):
        return target.env[env_key], f"env file {env_key}"
    raise StackprobeUsageError(
        f"[logs] {key} is not set and {env_key} is in neither the {service} container's environment "
        f"nor the env file: set [logs] {key} in the profile")


def resolve_log_policy(target: Target) -> LogPolicy:
    cfg = target.profile.logs
    service = cfg.service or target.profile.services.backend
    if "log_file" in target.profile.absent.parts:
        return LogPolicy(service, "", 0, 0, {"file": "[absent] parts: log_file (standard output)"})
    target.service(service)  # a service the profile names wrongly stops here, named
    service_env = target.service_environment(service)
    values, sources = {}, {}
    values["file"], sources["file"] = _setting(cfg, "file", service_env, target, service)
    try:  # the limits: LOG-02/03's rotation experiment needs them, the checks of the file do not
        for key in ("max_bytes", "backup_count"):
            values[key], sources[key] = _setting(cfg, key, service_env, target, service)
    except StackprobeUsageError as error:
        return LogPolicy(service, values["file"], 0, 0, sources, limits_unknown=str(error))
    try:
        max_bytes, backups = int(values["max_bytes"]), int(values["backup_count"])
    except ValueError:
        raise StackprobeUsageError(
            f"log limits must be integers: max_bytes={values['max_bytes']!r} ({sources['max_bytes']}), "
            f"backup_count={values['backup_count']!r} ({sources['backup_count']})") from None
    return LogPolicy(service, values["file"], max_bytes, backups, sources)


def log_service(target: Target, policy: LogPolicy) -> Service:
    return target.service(policy.service)


def current_log(service: Service, policy: LogPolicy) -> str:
    """The log as the service writes it now: the current file, or its `docker logs`."""
    if policy.stdout:
        return service.logs()
    try:
        return service.read_file(policy.file).decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def read_logs(target: Target, policy: LogPolicy) -> list[LogFile]:
    """Every file of the log (current, handler backups, logrotate's copies), read in one archive;
    a log on standard output is one "file": the service's `docker logs`."""
    if policy.stdout:
        text = log_service(target, policy).logs()
        return [LogFile(f"docker logs {policy.service}", len(text.encode()), text)]
    try:
        files = log_service(target, policy).read_dir(policy.directory)
    except FileNotFoundError:
        return []
    return log_set(files, policy.base)

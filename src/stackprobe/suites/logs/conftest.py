"""What the logs suite shares: the log policy in effect, reading the log files, and the one
rotation experiment (bounded sequenced traffic) that LOG-02 and LOG-03 both judge."""

from __future__ import annotations

import math
import posixpath
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from stackprobe.errors import StackprobeUsageError
from stackprobe.logs import LogFile, backup_index, log_set
from stackprobe.profile import LogsSection
from stackprobe.settings import RunSettings
from stackprobe.targets import Target
from stackprobe.targets.base import Service
from stackprobe.traffic import TrafficReport, sequenced_traffic


@dataclass(frozen=True)
class LogPolicy:
    """The log file, its limit and its backups as the service runs them."""

    service: str
    file: str
    max_bytes: int
    backup_count: int
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.file) or "/"

    @property
    def base(self) -> str:
        return posixpath.basename(self.file)

    def describe(self) -> dict[str, Any]:
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
    raw_env = target.service(service).inspect()["Config"].get("Env") or []
    service_env = dict(item.split("=", 1) for item in raw_env if "=" in item)
    values, sources = {}, {}
    for key in ("file", "max_bytes", "backup_count"):
        values[key], sources[key] = _setting(cfg, key, service_env, target, service)
    try:
        max_bytes, backups = int(values["max_bytes"]), int(values["backup_count"])
    except ValueError:
        raise StackprobeUsageError(
            f"log limits must be integers: max_bytes={values['max_bytes']!r} ({sources['max_bytes']}), "
            f"backup_count={values['backup_count']!r} ({sources['backup_count']})") from None
    return LogPolicy(service, values["file"], max_bytes, backups, sources)


@pytest.fixture(scope="session")
def log_policy(target: Target) -> LogPolicy:
    return resolve_log_policy(target)


def log_service(target: Target, policy: LogPolicy) -> Service:
    return target.service(policy.service)


def read_logs(target: Target, policy: LogPolicy) -> list[LogFile]:
    """Every file of the log (current, handler backups, logrotate's copies), read in one archive."""
    try:
        files = log_service(target, policy).read_dir(policy.directory)
    except FileNotFoundError:
        return []
    return log_set(files, policy.base)


def require_destructive(target: Target, settings: RunSettings, why: str) -> None:
    if target.kind == "live" and not settings.allow_destructive:
        pytest.skip(f"{why}: live targets need --allow-destructive")


# --- LOG-02/03: the rotation experiment ---------------------------------------------------------
@dataclass
class RotationExperiment:
    policy: LogPolicy
    traffic: list[TrafficReport]
    line_bytes: float  # mean length of one access line, measured
    calibration_lines_found: int
    needed_bytes: int
    files: list[LogFile]

    @property
    def sent(self) -> list[Any]:
        return [s for report in self.traffic for s in report.sent]

    @property
    def written_bytes(self) -> float:
        return sum(1 for s in self.sent if s.acknowledged) * self.line_bytes

    @property
    def rotations(self) -> float:
        """Rotations the written bytes amount to (the handler rotates every max_bytes)."""
        return self.written_bytes / self.policy.max_bytes if self.policy.max_bytes else 0.0

    @property
    def backups(self) -> list[int]:
        found = (backup_index(f.name, self.policy.base) for f in self.files)
        return sorted(i for i in found if i)

    @property
    def oldest_rotated_away(self) -> bool:
        return self.rotations > self.policy.backup_count and len(self.backups) >= self.policy.backup_count

    def summary(self) -> dict[str, Any]:
        return {
            "log": self.policy.describe(),
            "traffic": [report.summary() for report in self.traffic],
            "access_line_bytes": round(self.line_bytes, 1),
            "calibration_lines_found": self.calibration_lines_found,
            "needed_bytes": self.needed_bytes,
            "written_bytes_estimate": int(self.written_bytes),
            "rotations_estimate": round(self.rotations, 1),
            "files": {f.name: f.size for f in self.files},
        }


def _lines_with(text: str, ids: list[str]) -> list[str]:
    wanted = set(ids)
    return [line for line in text.splitlines() if any(rid in line for rid in wanted)]


@pytest.fixture(scope="session")
def rotation_experiment(target: Target, stackprobe_settings: RunSettings, log_policy: LogPolicy) -> RotationExperiment:
    """Sequenced traffic until the log rotated more than backup_count times, then every file."""
    require_destructive(target, stackprobe_settings,
                        "writes enough log lines to rotate the log more than LOG_BACKUP_COUNT times")
    cfg, policy = target.profile.logs, log_policy
    if policy.max_bytes <= 0:
        pytest.fail(f"LOG_MAX_BYTES is {policy.max_bytes} ({policy.sources['max_bytes']}): the log never rotates")
    url = target.backend_url + cfg.traffic_path
    prefix = f"spx-log-{secrets.token_hex(4)}"
    # a new connection per request, as from many clients: the backend's workers share the load
    # (pooled keep-alive connections can all land on one worker, which hides races between them)
    client = httpx.Client(timeout=10.0, limits=httpx.Limits(max_connections=cfg.traffic_concurrency,
                                                            max_keepalive_connections=0))
    service = log_service(target, policy)
    started = time.monotonic()
    try:
        calibration = sequenced_traffic(
            client, url, header=cfg.request_id_header, prefix=prefix, requests=2 * cfg.traffic_concurrency,
            concurrency=cfg.traffic_concurrency, max_seconds=cfg.traffic_max_seconds)
        ids = [s.request_id for s in calibration.acknowledged]
        try:
            current = service.read_file(policy.file).decode("utf-8", "replace")
        except FileNotFoundError:
            current = ""
        found = _lines_with(current, ids)
        # lines of rotated-away calibration requests are not in the current file: fine
        line_bytes = (sum(len(line.encode()) + 1 for line in found) / len(found)) if found else 150.0
        needed = (policy.backup_count + cfg.rotation_margin) * policy.max_bytes
        requests = max(0, math.ceil(needed / line_bytes) - len(calibration.acknowledged))
        total = len(calibration.sent) + requests
        if total > cfg.traffic_max_requests:
            pytest.skip(
                f"rotating a {policy.max_bytes}-byte log {policy.backup_count + cfg.rotation_margin} times "
                f"needs about {total} requests, over [logs] traffic_max_requests={cfg.traffic_max_requests}: "
                "run on an ephemeral copy with a small LOG_MAX_BYTES ([stack] ephemeral_env)")
        remaining = max(1.0, cfg.traffic_max_seconds - (time.monotonic() - started))
        main = sequenced_traffic(
            client, url, header=cfg.request_id_header, prefix=prefix, requests=requests,
            concurrency=cfg.traffic_concurrency, max_seconds=remaining, first_seq=len(calibration.sent))
    finally:
        client.close()
    files = read_logs(target, policy)
    return RotationExperiment(policy, [calibration, main], line_bytes, len(found), needed, files)


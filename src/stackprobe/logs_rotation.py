"""LOG-02/03's one experiment: bounded sequenced traffic until the log has rotated more than
its backup count, then every file of the log read back for both controls to judge."""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

from stackprobe.errors import StackprobeUsageError
from stackprobe.logs import LogFile, backup_index
from stackprobe.logs_policy import LogPolicy, log_service, read_logs
from stackprobe.targets.base import Target
from stackprobe.traffic import TrafficReport, sequenced_traffic


class LogNeverRotates(Exception):
    """The policy in effect has no size limit: LOG-02/03 fail on that alone."""


class RotationInfeasible(Exception):
    """Rotating the log often enough needs more requests than the profile allows: not run."""


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


def run_rotation_experiment(target: Target, policy: LogPolicy) -> RotationExperiment:
    """Sequenced traffic until the log rotated more than backup_count times, then every file.
    Raises LogNeverRotates or RotationInfeasible instead of sending anything pointless."""
    cfg = target.profile.logs
    if policy.limits_unknown:
        raise StackprobeUsageError(policy.limits_unknown)
    if policy.max_bytes <= 0:
        raise LogNeverRotates(f"LOG_MAX_BYTES is {policy.max_bytes} ({policy.sources['max_bytes']}): "
                              "the log never rotates")
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
            raise RotationInfeasible(
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


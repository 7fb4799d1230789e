"""LOG-04: the logrotate file passes the real `logrotate -d` and sets the documented policy."""

from __future__ import annotations

import posixpath
from pathlib import Path

import pytest

from stackprobe.evidence import Evidence
from stackprobe.logs import check_logrotate_policy, logrotate_debug
from stackprobe.logs_policy import LogPolicy, log_service
from stackprobe.targets import Target


def _host_log_path(target: Target, policy: LogPolicy) -> str:
    """Where the log file is on the host for the profile's project ('' when not on a volume):
    a copy's own project name stands for the deployment's, which the logrotate file names."""
    mounts = log_service(target, policy).inspect().get("Mounts") or []
    best = max((m for m in mounts if policy.directory == m["Destination"]
                or policy.directory.startswith(m["Destination"].rstrip("/") + "/")),
               key=lambda m: len(m["Destination"]), default=None)
    if best is None or not best.get("Source"):
        return ""
    inside = posixpath.relpath(policy.file, best["Destination"])
    source = str(best["Source"])
    if best.get("Type") == "volume":
        source = source.replace(f"/{target.project}_", f"/{target.profile.stack.project_name}_")
    return posixpath.join(source, inside)


@pytest.mark.control("LOG-04")
@pytest.mark.nightly
def test_logrotate_config_valid_and_as_documented(target: Target, log_policy: LogPolicy, evidence: Evidence,
                                                  tmp_path: Path) -> None:
    cfg = target.profile.logs
    config = target.project_dir / cfg.logrotate_file
    assert config.is_file(), f"no logrotate file {config} ([logs] logrotate_file)"
    try:
        debug = logrotate_debug(config, tmp_path, log_policy.base, cfg.logrotate_command)
    except FileNotFoundError:
        pytest.skip(f"{cfg.logrotate_command} is not installed on this host: `logrotate -d` cannot run")
    host_path = _host_log_path(target, log_policy)
    problems = check_logrotate_policy(config.read_text(encoding="utf-8"), cfg.logrotate_policy, host_path)
    evidence.record("logrotate_d", {"command": debug.command, "exit": debug.returncode, "errors": debug.errors,
                                    "output": debug.output[-4000:]})
    evidence.record("policy", {"required": cfg.logrotate_policy, "log_file_on_host": host_path,
                               "problems": problems})
    assert debug.returncode == 0 and not debug.errors, (
        f"`logrotate -d` on {config} exited {debug.returncode}: {'; '.join(debug.errors) or debug.output[-300:]}")
    assert not problems, f"{config}: " + "; ".join(problems)

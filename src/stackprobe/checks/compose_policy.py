"""Compose policy on the rendered model: CMP-01 structure, SEC-06 published ports,
LOG-06 log limits, CTR-03 restart policies (and, re-exported, CTR-02 healthchecks,
SEC-04 fallbacks, SEC-07 exposure and the renderer itself)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackprobe.checks.compose_fallbacks import check_fallback_defaults as check_fallback_defaults
from stackprobe.checks.compose_positions import key_location
from stackprobe.checks.compose_render import ComposeModel as ComposeModel
from stackprobe.checks.compose_render import render_compose as render_compose
from stackprobe.checks.findings import ConfigInputError, Finding
from stackprobe.checks.healthchecks import Healthcheck as Healthcheck
from stackprobe.checks.healthchecks import HealthcheckBounds, services
from stackprobe.checks.healthchecks import check_healthchecks as check_healthchecks
from stackprobe.checks.healthchecks import healthchecks as healthchecks
from stackprobe.checks.pinning import image_pin as image_pin
from stackprobe.checks.pinning import pin_problem
from stackprobe.checks.secret_exposure import (
    check_secrets_in_commands as check_secrets_in_commands,
)
from stackprobe.profile import ServicesSection

# Which compose service plays which part ("" when the stack has no such service): the profile's
# [services] section itself, so the defaults are written once.
ServiceRoles = ServicesSection


@dataclass(frozen=True)
class ComposePolicy:
    """What a good compose model looks like. Defaults fit the reference stack."""

    roles: ServiceRoles = field(default_factory=ServiceRoles)
    # SEC-06: where database and cache ports may be published (loopback only).
    allowed_host_ips: tuple[str, ...] = ("127.0.0.1", "::1")
    # CMP-01: a tag other than `latest` pins well enough by default; digests are stricter.
    require_digest: bool = False
    # CMP-01: directories whose data must live on named volumes, per role.
    database_data_dirs: tuple[str, ...] = ("/var/lib/mysql",)
    cache_data_dirs: tuple[str, ...] = ("/data",)
    backend_data_dirs: tuple[str, ...] = ("/app/uploads", "/app/vector_db")
    # CTR-03: compose `restart:` values that bring a crashed service back.
    restart_policies: tuple[str, ...] = ("always", "unless-stopped", "on-failure")
    # Services that run to completion (migrations): no restart policy, no healthcheck.
    one_shot_services: tuple[str, ...] = ()
    # LOG-06: drivers that ship logs off the host, bounded by their own backend.
    log_remote_drivers: tuple[str, ...] = (
        "syslog", "journald", "fluentd", "gelf", "awslogs", "gcplogs", "splunk",
    )
    # LOG-06: json-file needs max-size; with max-file too, rotation keeps some history.
    log_require_max_file: bool = True
    healthcheck: HealthcheckBounds = field(default_factory=HealthcheckBounds)


def require_roles(model: Mapping[str, Any], roles: ServiceRoles) -> None:
    """A role naming a service the model lacks is a profile error, not a violation."""
    present = services(model)
    for role in ("database", "cache", "backend"):
        name = getattr(roles, role)
        if name and name not in present:
            raise ConfigInputError(
                f"the compose model has no service {name!r} for the {role} role: set the "
                f"profile's [services] {role} to one of {', '.join(sorted(present))}"
            )


# ---- CMP-01 -------------------------------------------------------------------------

def _image_findings(name: str, spec: Mapping[str, Any], policy: ComposePolicy,
                    files: Sequence[Path] = ()) -> list[Finding]:
    image = str(spec.get("image") or "")
    if not image:
        return [Finding("CMP-01", name, (
            f"{name} is built without an image name; expected `image: name:version` so the "
            "build is a named, versioned artifact"
        ), key_location(files, ("services", name, "build")))] if "build" in spec else []
    # One pin rule with HRD-08 (stackprobe.checks.pinning); CMP-01 asks only for a named release.
    problem = pin_problem(image, "digest" if policy.require_digest else "tag")
    if problem is None:
        return []
    return [Finding("CMP-01", name, f"{name} image {image} {problem}; expected a version tag or a digest",
                    key_location(files, ("services", name, "image")))]


def _volume_findings(
    name: str, spec: Mapping[str, Any], data_dirs: tuple[str, ...]
) -> list[Finding]:
    mounts = {str(m.get("target")): m for m in spec.get("volumes") or [] if isinstance(m, Mapping)}
    found = []
    for directory in data_dirs:
        mount = mounts.get(directory)
        kind = mount.get("type") if mount else None
        if mount is None:
            seen = "nothing is mounted there (it lives in the container, or an anonymous volume)"
        elif kind == "volume" and not mount.get("source"):
            seen = "it is an anonymous volume, orphaned whenever the container is recreated"
        elif kind == "volume":
            continue
        else:
            seen = f"it is a {kind} mount"
        found.append(Finding("CMP-01", name, (
            f"{name} data directory {directory}: {seen}; expected a named volume"
        )))
    for target, mount in mounts.items():
        if target not in data_dirs and mount.get("type") == "volume" and not mount.get("source"):
            found.append(Finding("CMP-01", name, (
                f"{name} has an anonymous volume at {target}; expected a named volume"
            )))
    return found


def _dependency_findings(model: Mapping[str, Any], roles: ServiceRoles) -> list[Finding]:
    if not roles.backend:
        return []
    backend = services(model)[roles.backend]
    depends = backend.get("depends_on") or {}
    found = []
    for dependency in (roles.database, roles.cache):
        if not dependency:
            continue
        condition = (depends.get(dependency) or {}).get("condition")
        if condition != "service_healthy":
            seen = f"condition {condition}" if condition else "no depends_on entry"
            found.append(Finding("CMP-01", roles.backend, (
                f"{roles.backend} depends_on {dependency}: {seen}; expected "
                "`condition: service_healthy`, so it starts only once the dependency answers"
            )))
    return found


def check_compose_structure(model: Mapping[str, Any], policy: ComposePolicy,
                            files: Sequence[Path] = ()) -> list[Finding]:
    """CMP-01: images pinned, data on named volumes, backend waits for healthy dependencies.
    Given the compose files, an image finding is located where the image is written."""
    require_roles(model, policy.roles)
    data_dirs = {
        policy.roles.database: policy.database_data_dirs,
        policy.roles.cache: policy.cache_data_dirs,
        policy.roles.backend: policy.backend_data_dirs,
    }
    found: list[Finding] = []
    for name, spec in services(model).items():
        found += _image_findings(name, spec, policy, files)
        found += _volume_findings(name, spec, data_dirs.get(name, ()))
    return found + _dependency_findings(model, policy.roles)


# ---- SEC-06 -------------------------------------------------------------------------

def _interfaces(host_ip: str) -> str:
    return {
        "": "all interfaces (no host IP given)",
        "0.0.0.0": "0.0.0.0 (all IPv4 interfaces)",
        "::": ":: (all IPv6 interfaces)",
    }.get(host_ip, host_ip)


def port_findings(
    name: str, spec: Mapping[str, Any], allowed_host_ips: Sequence[str]
) -> list[Finding]:
    """SEC-06 for one service (the file checks and the in-effect checks both call this)."""
    found = []
    if spec.get("network_mode") == "host":
        found.append(Finding("SEC-06", name, (
            f"{name} uses network_mode: host, so every port it listens on is on all host "
            "interfaces; expected the project network with ports on 127.0.0.1"
        )))
    for port in spec.get("ports") or []:
        host_ip = str(port.get("host_ip") or "")
        if host_ip in allowed_host_ips:
            continue
        published = port.get("published") or "a random port"
        found.append(Finding("SEC-06", name, (
            f"{name} publishes container port {port.get('target')} as {published} on "
            f"{_interfaces(host_ip)}; expected host_ip {' or '.join(allowed_host_ips)}"
        )))
    return found


def check_published_ports(model: Mapping[str, Any], policy: ComposePolicy) -> list[Finding]:
    """SEC-06: database and cache ports published on loopback (or policy IPs) only."""
    require_roles(model, policy.roles)
    found = []
    for name in (policy.roles.database, policy.roles.cache):
        if name:
            found += port_findings(name, services(model)[name], policy.allowed_host_ips)
    return found


# ---- LOG-06 -------------------------------------------------------------------------

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]?)b?", re.I)


def _bounded_size(text: str) -> bool:
    match = _SIZE.fullmatch(text.strip())
    return match is not None and float(match.group(1)) > 0


def check_log_limits(model: Mapping[str, Any], policy: ComposePolicy) -> list[Finding]:
    """LOG-06: every service's container logs are bounded."""
    found = []
    for name, spec in services(model).items():
        logging = spec.get("logging") or {}
        driver = str(logging.get("driver") or "")
        options = {str(k): str(v) for k, v in (logging.get("options") or {}).items()}
        if driver in policy.log_remote_drivers:
            continue
        if driver == "local":
            # local rotates by default (20m x 5); only an explicit unbounded size breaks that.
            if "max-size" in options and not _bounded_size(options["max-size"]):
                found.append(Finding("LOG-06", name, (
                    f"{name} local log driver has an unbounded max-size; expected a size"
                )))
            continue
        if driver not in ("", "json-file"):
            found.append(Finding("LOG-06", name, (
                f"{name} uses log driver {driver}; expected json-file or local with limits, or "
                f"one of {', '.join(policy.log_remote_drivers)}"
            )))
            continue
        missing = []
        if not _bounded_size(options.get("max-size", "")):
            missing.append("max-size")
        if policy.log_require_max_file and not options.get("max-file"):
            missing.append("max-file")
        if missing:
            what = "no logging configuration (the daemon default)" if not logging else "json-file"
            found.append(Finding("LOG-06", name, (
                f"{name} logs with {what} without {' and '.join(missing)}, so its log grows "
                "without bound; expected json-file with max-size and max-file (e.g. 10m, 3)"
            )))
    return found


# ---- CTR-03 -------------------------------------------------------------------------

def restart_policy(spec: Mapping[str, Any]) -> str:
    """The restart policy compose applies: `restart:`, else deploy.restart_policy."""
    restart = str(spec.get("restart") or "")
    if restart:
        return restart
    condition = str(((spec.get("deploy") or {}).get("restart_policy") or {}).get("condition") or "")
    return {"any": "always", "on-failure": "on-failure", "none": "no"}.get(condition, "")


def restart_findings(
    model: Mapping[str, Any], allowed: Sequence[str], one_shot: Sequence[str] = ()
) -> list[Finding]:
    """CTR-03: every service but the one-shot ones comes back by itself after a crash (the
    file checks and the in-effect checks both call this)."""
    found = []
    for name, spec in services(model).items():
        if name in one_shot:
            continue
        restart = restart_policy(spec)
        if restart.split(":")[0] not in allowed:
            found.append(Finding("CTR-03", name, (
                f"{name} restart policy is {restart or 'unset (no)'}; expected one of "
                f"{', '.join(allowed)}"
            )))
    return found


def check_restart_policies(model: Mapping[str, Any], policy: ComposePolicy) -> list[Finding]:
    """CTR-03 (compose side) with this policy's restart policies and one-shot services."""
    return restart_findings(model, policy.restart_policies, policy.one_shot_services)


def check_compose_healthchecks(model: Mapping[str, Any], policy: ComposePolicy) -> list[Finding]:
    """CTR-02 (compose side) with this policy's bounds and one-shot services."""
    return check_healthchecks(model, policy.healthcheck, policy.one_shot_services)

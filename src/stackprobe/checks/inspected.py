"""Rules in effect: what `docker inspect` reports, in the shape of the rendered compose model,
run through the file-side rule itself, so a setting the files would fail fails in effect too.

- CTR-02: Config.Healthcheck through `check_healthchecks` (plus: the test in effect is the
  one compose declares, else the container predates the files).
- CTR-03: HostConfig.RestartPolicy through `restart_findings`.
- LOG-06: HostConfig.LogConfig through `check_log_limits`.
- SEC-06 (ports and network mode) goes the same way in `in_effect.check_ports_in_effect`.

Pure: the suites fetch the inspect data (service name -> attrs) and call these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stackprobe.checks.compose_policy import ComposePolicy, check_log_limits, restart_findings
from stackprobe.checks.findings import Finding
from stackprobe.checks.healthchecks import HealthcheckBounds, check_healthchecks, healthchecks
from stackprobe.checks.in_effect import in_effect_label, labelled_in_effect, port_bindings, ports_spec

Inspected = Mapping[str, Mapping[str, Any]]  # service name -> `docker inspect` of its container

_NS = 1e9


def _healthcheck(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """Config.Healthcheck as compose writes `healthcheck:`; a zero duration or retry count is
    Docker's "use the default", so it is left out like an unset compose field."""
    test = [str(part) for part in config.get("Test") or ()]
    if not test:
        return None
    spec: dict[str, Any] = {"test": test}
    for field, key in (("Interval", "interval"), ("Timeout", "timeout"), ("StartPeriod", "start_period")):
        if config.get(field):
            spec[key] = float(config[field]) / _NS
    if config.get("Retries"):
        spec["retries"] = int(config["Retries"])
    return spec


def service_from_inspect(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """One container as a compose service: healthcheck, restart, ports, network_mode, logging."""
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    spec: dict[str, Any] = {}
    if (healthcheck := _healthcheck(config.get("Healthcheck") or {})) is not None:
        spec["healthcheck"] = healthcheck
    restart = host.get("RestartPolicy") or {}
    if name := str(restart.get("Name") or ""):
        retries = int(restart.get("MaximumRetryCount") or 0)
        spec["restart"] = f"{name}:{retries}" if name == "on-failure" and retries else name
    spec["ports"] = ports_spec(port_bindings(attrs))
    if mode := str(host.get("NetworkMode") or ""):
        spec["network_mode"] = mode
    log = host.get("LogConfig") or {}
    spec["logging"] = {"driver": str(log.get("Type") or ""),
                       "options": {str(k): str(v) for k, v in (log.get("Config") or {}).items()}}
    return spec


def model_from_inspect(inspected: Inspected) -> dict[str, Any]:
    """The containers as a rendered compose model (`services:` only)."""
    return {"services": {name: service_from_inspect(attrs) for name, attrs in sorted(inspected.items())}}


def check_healthchecks_in_effect(
    inspected: Inspected, declared: Mapping[str, Any], bounds: HealthcheckBounds,
    skip: Sequence[str] = (),
) -> list[Finding]:
    """CTR-02 in effect: the file-side rule on each container's healthcheck, and the test in
    effect is the one the compose model `declared` gives (else the container is stale)."""
    model = model_from_inspect(inspected)
    found = labelled_in_effect(check_healthchecks(model, bounds, skip))
    running = healthchecks(model)
    for name, check in sorted(healthchecks(declared).items()):
        if name in skip or name not in running or check.disabled or not check.test:
            continue
        # the rendered model writes a literal `$` as `$$`; the container has it once
        declared_test = [str(part).replace("$$", "$") for part in check.test]
        if list(running[name].test) != declared_test:
            found.append(Finding("CTR-02", name, (
                f"{in_effect_label([name])}: healthcheck {list(running[name].test)} differs from "
                f"compose {declared_test}; recreate the container (`docker compose up -d {name}`)"
            )))
    return found


def check_restart_in_effect(
    inspected: Inspected, allowed: Sequence[str], one_shot: Sequence[str] = ()
) -> list[Finding]:
    """CTR-03 in effect: the file-side rule on each container's restart policy."""
    return labelled_in_effect(restart_findings(model_from_inspect(inspected), allowed, one_shot))


def check_log_limits_in_effect(inspected: Inspected, policy: ComposePolicy) -> list[Finding]:
    """LOG-06 in effect: the file-side rule on each container's log driver and options."""
    return labelled_in_effect(check_log_limits(model_from_inspect(inspected), policy))

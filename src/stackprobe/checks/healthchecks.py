"""Healthchecks as compose declares them (CTR-02, file side): present, real, within bounds."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackprobe.checks.findings import Finding
from stackprobe.profile import ContainersSection

# Docker's defaults when a healthcheck leaves a field out.
DEFAULT_INTERVAL_S = 30.0
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 3

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
          "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/env sh"}
# Commands that succeed whatever the service's state.
_ALWAYS_OK = {"true", "/bin/true", "/usr/bin/true", ":", "exit", "exit 0"}
_ALWAYS_OK_TAIL = re.compile(r"(?:\|\||;)\s*(?:true|/bin/true|:|exit(?:\s+0)?)\s*$")


def parse_duration(value: str | float) -> float:
    """Seconds in a Go duration ("1m30s", "500ms") or a bare number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = _PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a duration: {value!r}")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def _is_noop_shell(script: str) -> bool:
    script = script.strip()
    return (
        script in _ALWAYS_OK
        or script == "echo"
        or script.startswith("echo ")
        or bool(_ALWAYS_OK_TAIL.search(script))
    )


def is_noop(test: Sequence[str]) -> bool:
    """Whether a healthcheck test passes whatever the service's state (or runs nothing)."""
    if not test or test[0] == "NONE":
        return True
    kind, args = test[0], list(test[1:])
    if kind == "CMD-SHELL":
        return _is_noop_shell(" ".join(args))
    if kind != "CMD":
        return _is_noop_shell(" ".join(test))  # a bare string test runs in a shell
    if not args:
        return True
    if args[0] in _SHELLS and len(args) >= 3 and args[1] == "-c":
        return _is_noop_shell(args[2])
    return args[0] in {"true", "/bin/true", "/usr/bin/true", "echo", "/bin/echo"} or (
        " ".join(args) in _ALWAYS_OK
    )


@dataclass(frozen=True)
class Healthcheck:
    """A service's healthcheck with Docker's defaults filled in."""

    test: tuple[str, ...]
    interval_s: float = DEFAULT_INTERVAL_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    start_period_s: float = 0.0
    disabled: bool = False

    @property
    def noop(self) -> bool:
        return self.disabled or is_noop(self.test)


def _parse(spec: Mapping[str, Any]) -> Healthcheck:
    raw = spec.get("test") or ()
    test = ("CMD-SHELL", raw) if isinstance(raw, str) else tuple(str(part) for part in raw)
    disabled = bool(spec.get("disable")) or test[:1] == ("NONE",)
    return Healthcheck(
        test=test,
        interval_s=parse_duration(spec.get("interval", DEFAULT_INTERVAL_S)),
        timeout_s=parse_duration(spec.get("timeout", DEFAULT_TIMEOUT_S)),
        retries=int(spec.get("retries", DEFAULT_RETRIES)),
        start_period_s=parse_duration(spec.get("start_period", 0.0)),
        disabled=disabled,
    )


def services(model: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The rendered model's services (compose always renders this as a mapping)."""
    found = model.get("services") or {}
    return {str(name): dict(spec or {}) for name, spec in found.items()}


def healthchecks(model: Mapping[str, Any]) -> dict[str, Healthcheck]:
    """Every service that declares a healthcheck in compose, parsed."""
    return {
        name: _parse(spec["healthcheck"])
        for name, spec in services(model).items()
        if isinstance(spec.get("healthcheck"), Mapping)
    }


@dataclass(frozen=True)
class HealthcheckBounds:
    """CTR-02 bounds; the defaults are the profile's [containers] section's."""

    max_interval_s: float = ContainersSection.healthcheck_max_interval_s
    max_timeout_s: float = ContainersSection.healthcheck_max_timeout_s
    min_retries: int = ContainersSection.healthcheck_min_retries
    max_retries: int = ContainersSection.healthcheck_max_retries


def check_healthchecks(
    model: Mapping[str, Any], bounds: HealthcheckBounds, skip: Sequence[str] = ()
) -> list[Finding]:
    """CTR-02 (compose side): every service but `skip` has a real healthcheck within bounds."""
    declared = healthchecks(model)
    found = []
    for name in services(model):
        if name in skip:
            continue
        check = declared.get(name)
        if check is None:
            found.append(Finding("CTR-02", name, (
                f"{name} declares no healthcheck; expected one that probes the service, so "
                "Docker and depends_on know when it is really up"
            )))
            continue
        if check.noop:
            what = "is disabled" if check.disabled else "always succeeds (a no-op)"
            found.append(Finding("CTR-02", name, (
                f"{name} healthcheck {what}; expected a command that fails when the service does"
            )))
            continue
        problems = []
        if not 0 < check.interval_s <= bounds.max_interval_s:
            problems.append(
                f"interval {check.interval_s:g}s, expected (0, {bounds.max_interval_s:g}]"
            )
        if not 0 < check.timeout_s <= bounds.max_timeout_s:
            problems.append(
                f"timeout {check.timeout_s:g}s, expected (0, {bounds.max_timeout_s:g}]"
            )
        if not bounds.min_retries <= check.retries <= bounds.max_retries:
            problems.append(
                f"retries {check.retries}, expected [{bounds.min_retries}, {bounds.max_retries}]"
            )
        if problems:
            found.append(Finding("CTR-02", name, f"{name} healthcheck: {'; '.join(problems)}"))
    return found

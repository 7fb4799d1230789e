"""The config suite's "in effect" facts, read from the target: `docker inspect` of every
container, the processes inside them, the service images' history and layers."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import docker.errors
import requests.exceptions

from stackprobe.checks.envchecks import EnvPolicy
from stackprobe.checks.envparity import compose_env_values
from stackprobe.checks.findings import ConfigInputError, Finding
from stackprobe.checks.image_layers import (
    HistoryEntry,
    LayerScan,
    TextScan,
    check_image,
    history_entries,
    scan_saved_image,
)
from stackprobe.checks.in_effect import (
    PROC_DUMP_SCRIPT,
    ContainerFacts,
    Passthrough,
    Process,
    check_commands_in_effect,
    check_env_in_effect,
    check_flags_in_effect,
    check_ports_in_effect,
    check_secrets_in_effect,
    env_from_inspect,
    healthcheck_from_inspect,
    mask,
    parse_proc_dump,
    parse_top,
    passthrough_variables,
    port_bindings,
)
from stackprobe.checks.policies import Policies
from stackprobe.checks.secret_exposure import MIN_SECRET_LENGTH, collect_secret_values
from stackprobe.checks.secrets import SecretPolicy
from stackprobe.targets.base import Service, Target

# `ps` on the Docker host, full width: the fallback for images without a shell and cat.
TOP_PS_ARGS = "-ww -o pid,args"


def read_processes(service: Service) -> tuple[tuple[Process, ...], str, bool]:
    """(processes, how they were read, whether they could be) for one running container.

    First /proc/*/cmdline through `sh` and `cat` inside the container (exact argv, no ps
    needed); where the image has no shell, `docker top` (ps on the Docker host).
    """
    if service.container.status != "running":
        return (), f"container {service.container.status}: no processes", True
    reason = ""
    try:
        done = service.exec(["sh", "-c", PROC_DUMP_SCRIPT])
        if done.exit_code == 0:
            mine = [p for p in parse_proc_dump(done.output) if PROC_DUMP_SCRIPT not in p.argv]
            return tuple(mine), "/proc/*/cmdline via sh and cat in the container", True
        reason = f"sh in the container exited {done.exit_code}"
    except docker.errors.APIError as error:
        reason = f"exec failed: {error.explanation or error}"
    try:
        top = service.container.top(ps_args=TOP_PS_ARGS)
        return parse_top(top), f"docker top ({reason})", True
    except docker.errors.APIError as error:
        return (), f"{reason}; docker top failed: {error.explanation or error}", False


def container_facts(target: Target) -> list[ContainerFacts]:
    facts = []
    for name, service in sorted(target.services().items()):
        attrs = service.inspect()
        processes, source, read = read_processes(service)
        facts.append(ContainerFacts(
            service=name,
            container=service.container_name,
            image=str((attrs.get("Config") or {}).get("Image") or ""),
            image_id=str(attrs.get("Image") or ""),
            env={**target.secret_variables(name), **env_from_inspect(attrs)},  # Docker secrets too
            healthcheck=healthcheck_from_inspect(attrs),
            ports=port_bindings(attrs),
            network_mode=str((attrs.get("HostConfig") or {}).get("NetworkMode") or ""),
            processes=processes,
            process_source=source,
            processes_read=read,
        ))
    return facts


@dataclass
class InEffect:
    """Everything the in-effect checks saw and found; `evidence(control)` is safe to record."""

    facts: list[ContainerFacts]
    passthroughs: dict[str, dict[str, Passthrough]]
    secrets: dict[str, str] = field(repr=False)  # value -> key
    findings: list[Finding]
    env_policy: EnvPolicy
    secret_policy: SecretPolicy

    def for_control(self, control: str) -> list[Finding]:
        return [f for f in self.findings if f.control == control]

    def evidence(self, control: str) -> dict[str, Any]:
        """What was observed for `control`, by service; secret values appear only as «KEY»."""
        seen: dict[str, Any] = {}
        for fact in self.facts:
            seen[fact.service] = self._observed(control, fact)
        return seen

    def _observed(self, control: str, fact: ContainerFacts) -> Any:
        sp, ep = self.secret_policy, self.env_policy
        if control == "ENV-01":
            checked = self.passthroughs.get(fact.service, {})
            return {var: f"${{{p.key}}}" for var, p in sorted(checked.items())}
        if control == "ENV-03":
            flags = (ep.environment_key, ep.debug_key, ep.log_level_key)
            return {k: fact.env[k] for k in flags if k in fact.env}
        if control in {"SEC-01", "SEC-02"}:
            keys = (sp.secret_key,) if control == "SEC-01" else (*sp.password_keys, *sp.other_secret_keys)
            return {k: f"{len(fact.env[k])} characters" for k in keys if k in fact.env}
        if control == "SEC-03":
            return {sp.bcrypt_key: fact.env[sp.bcrypt_key]} if sp.bcrypt_key in fact.env else {}
        if control == "SEC-06":
            return [f"{b.host_ip or '(all)'}:{b.host_port} -> {b.container_port}" for b in fact.ports]
        if control == "SEC-07":
            return {
                "healthcheck": mask(" ".join(fact.healthcheck), self.secrets),
                "processes_read_from": fact.process_source,
                "processes": [f"{p.pid} {mask(p.command_line, self.secrets)[:160]}" for p in fact.processes],
            }
        return {}


def raw_compose_model(target: Target) -> dict[str, Any]:
    """The merged compose model before interpolation: which variables pass which env-file key."""
    import json

    return dict(json.loads(target.compose("config", "--no-interpolate", "--format", "json").stdout))


def env_file_values(target: Target) -> dict[str, str]:
    """The target's env files as compose reads them (its own interpolation and quoting; a
    later file overrides an earlier one), falling back to the target's python-dotenv view."""
    values: dict[str, str] = {}
    try:
        for path in target.env_files:
            values.update(compose_env_values(path))
    except ConfigInputError:
        return dict(target.env)
    return values


def collect_in_effect(target: Target, policies: Policies) -> InEffect:
    """Inspect every container of the target and run the in-effect checks on what they have."""
    env_policy, secret_policy, compose = policies.env, policies.secrets, policies.compose
    facts = container_facts(target)
    passthroughs = passthrough_variables(raw_compose_model(target))
    file_values = env_file_values(target)
    secrets = collect_secret_values([target.env, file_values, *(f.env for f in facts)], secret_policy.is_secret_name)
    findings = check_env_in_effect(facts, passthroughs, file_values, secret_policy)
    findings += check_flags_in_effect(facts, env_policy)
    findings += check_secrets_in_effect(facts, secret_policy)
    findings += check_ports_in_effect(facts, compose.roles, compose.allowed_host_ips)
    findings += check_commands_in_effect(facts, secrets, secret_policy)
    return InEffect(facts, passthroughs, secrets, findings, env_policy, secret_policy)


@dataclass
class ImageReport:
    image: str
    image_id: str
    services: list[str]
    history: tuple[HistoryEntry, ...] = field(repr=False)
    scan: LayerScan | None
    findings: list[Finding]

    def evidence(self) -> dict[str, Any]:
        return {
            "image": self.image, "id": self.image_id[:19], "services": self.services,
            "history_entries": len(self.history),
            "layer_scan": self.scan.summary() if self.scan else "off ([config] image_scan = false)",
        }


def scan_images(
    target: Target,
    in_effect: InEffect,
    *,
    scan_layers: bool,
    timeout_s: float,
    max_file_bytes: int,
    text_file_bytes: int = 65536,
) -> list[ImageReport]:
    """SEC-07 on every service image: history, baked ENV and (bounded) every layer's files."""
    by_image: dict[str, list[ContainerFacts]] = {}
    for fact in in_effect.facts:
        if fact.image_id:
            by_image.setdefault(fact.image_id, []).append(fact)
    is_secret = in_effect.secret_policy.is_secret_name
    # Only distinctive values: a weak one matches files by accident (SEC-01/02 report it).
    long_secrets = {v: k for v, k in in_effect.secrets.items() if in_effect.secret_policy.is_distinctive(v)}
    deadline = time.monotonic() + timeout_s
    seen_layers: set[str] = set()
    reports = []
    for image_id, users in by_image.items():
        name = users[0].image or image_id[:19]
        services = sorted(f.service for f in users)
        image = target.docker.images.get(image_id)
        history = history_entries(image.history())
        config_env: Mapping[str, str] = env_from_inspect(image.attrs)
        scan = None
        if scan_layers:
            # The application's directory (WORKDIR; "/" would be the whole OS) for the pattern scan.
            workdir = str((image.attrs.get("Config") or {}).get("WorkingDir") or "").rstrip("/")
            text = TextScan((workdir,) if workdir else (), text_file_bytes)
            scan = _scan_layers(target, image_id, name, long_secrets, max_file_bytes, deadline, seen_layers, text)
        findings = check_image(name, services, history, config_env, long_secrets, is_secret, scan,
                               MIN_SECRET_LENGTH)
        reports.append(ImageReport(name, image_id, services, history, scan, findings))
    return reports


def _scan_layers(
    target: Target,
    image_id: str,
    name: str,
    secrets: Mapping[str, str],
    max_file_bytes: int,
    deadline: float,
    seen_layers: set[str],
    text: TextScan | None = None,
) -> LayerScan:
    """One image's `docker image save`, bounded by the scan's deadline rather than by the
    client's per-request timeout: the engine can be silent for long while it assembles the
    archive. An engine that does not answer before the deadline leaves the scan incomplete
    (SEC-07 fails as unproven and says which bound to raise) instead of erroring out."""
    api = target.docker.api
    saved_timeout = api.timeout
    api.timeout = max(1.0, deadline - time.monotonic())
    stream: Any = None
    try:
        stream = api.get_image(image_id, chunk_size=1 << 20)
        return scan_saved_image(stream, name, secrets, max_file_bytes=max_file_bytes,
                                deadline=deadline, seen_layers=seen_layers, text=text)
    except (requests.exceptions.Timeout, requests.exceptions.ConnectionError):
        # requests reports a read timeout inside a streamed body as a ConnectionError
        if time.monotonic() < deadline - 1.0:
            raise
        return LayerScan(name, complete=False, seconds=api.timeout)
    finally:
        api.timeout = saved_timeout
        close = getattr(stream, "close", None)
        if close is not None:
            close()

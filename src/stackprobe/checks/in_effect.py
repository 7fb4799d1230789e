"""Config "in effect": what the running containers actually received, not what the files say.

The facts come from `docker inspect` and from inside each container (collected by
`stackprobe.inspect`); everything here is pure, so the unit tests feed it fake inspect data.

- ENV-01: every env-file key a service passes through (`NAME: ${KEY...}` in compose) reached
  its container, with the file's value.
- ENV-03: DEBUG / ENVIRONMENT / LOG_LEVEL as the containers have them.
- SEC-01/02/03: the secrets and BCRYPT_ROUNDS in effect, with the file checks' own functions.
- SEC-06: the database and cache ports as Docker published them.
- SEC-07: no secret value (nor a password argument) in a healthcheck test as inspected or in
  the arguments of any process running in a container.

Findings name secrets by key only, never by value.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackprobe.checks.compose_policy import ServiceRoles, port_findings
from stackprobe.checks.envchecks import EnvPolicy, check_production_flags
from stackprobe.checks.envread import EnvFile
from stackprobe.checks.findings import Finding
from stackprobe.checks.pattern_scan import line_detectors
from stackprobe.checks.secret_exposure import argument_reasons
from stackprobe.checks.secrets import (
    SecretPolicy,
    check_bcrypt_rounds,
    check_passwords,
    check_secret_key,
)


@dataclass(frozen=True)
class PortBinding:
    container_port: str  # "3306/tcp"
    host_ip: str
    host_port: str


@dataclass(frozen=True)
class Process:
    pid: int
    argv: tuple[str, ...] = field(repr=False)

    @property
    def command_line(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class ContainerFacts:
    """One service's container as inspected. Fields holding values are kept out of repr."""

    service: str
    container: str = ""
    image: str = ""  # the reference the container was created from
    image_id: str = ""
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    healthcheck: tuple[str, ...] = field(default=(), repr=False)
    ports: tuple[PortBinding, ...] = ()
    network_mode: str = ""  # HostConfig.NetworkMode ("host": every port on every interface)
    processes: tuple[Process, ...] = field(default=(), repr=False)
    # how the process list was read ("/proc via exec", "docker top") or why it was not
    process_source: str = ""
    processes_read: bool = True


# ---- parsing docker inspect and container output ---------------------------------------

def env_from_inspect(attrs: Mapping[str, Any]) -> dict[str, str]:
    """Config.Env (`KEY=VALUE` lines) as a mapping; the last binding of a key wins."""
    env: dict[str, str] = {}
    for line in (attrs.get("Config") or {}).get("Env") or []:
        key, sep, value = str(line).partition("=")
        if sep:
            env[key] = value
    return env


def healthcheck_from_inspect(attrs: Mapping[str, Any]) -> tuple[str, ...]:
    test = ((attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test") or ()
    return tuple(str(part) for part in test)


def _bindings(ports: Mapping[str, Any]) -> list[PortBinding]:
    return [
        PortBinding(str(container_port), str(b.get("HostIp") or ""), str(b.get("HostPort") or ""))
        for container_port, bindings in ports.items() for b in bindings or []
    ]


def port_bindings(attrs: Mapping[str, Any]) -> tuple[PortBinding, ...]:
    """Published ports: what Docker bound (NetworkSettings.Ports) plus what was asked for and
    is not bound (HostConfig.PortBindings, e.g. of a stopped container; an empty HostIp there
    means every interface)."""
    actual = _bindings((attrs.get("NetworkSettings") or {}).get("Ports") or {})
    requested = _bindings((attrs.get("HostConfig") or {}).get("PortBindings") or {})

    def where(binding: PortBinding) -> tuple[str, str]:
        return binding.container_port, binding.host_ip or "0.0.0.0"

    found = list(dict.fromkeys(actual))
    covered = {where(b) for b in found}
    for binding in requested:
        if where(binding) not in covered:
            found.append(binding)
            covered.add(where(binding))
    return tuple(found)


# Framing of the process dump: ASCII record and unit separators never occur in argv in practice.
RECORD, UNIT = "\x1e", "\x1f"
# Read inside the container with nothing but a POSIX shell and cat (no ps needed).
PROC_DUMP_SCRIPT = (
    'for d in /proc/[0-9]*; do [ -r "$d/cmdline" ] || continue; '
    "printf '\\036%s\\037' \"${d#/proc/}\"; cat \"$d/cmdline\" 2>/dev/null; done; exit 0"
)


def parse_proc_dump(text: str) -> tuple[Process, ...]:
    """Processes from PROC_DUMP_SCRIPT's output: `RS pid US argv0 NUL argv1 NUL ...` each.

    Kernel threads and exited processes have an empty cmdline and are left out.
    """
    processes = []
    for record in text.split(RECORD)[1:]:
        pid, sep, raw = record.partition(UNIT)
        if not sep or not pid.strip().isdigit():
            continue
        argv = tuple(raw.rstrip("\0").split("\0")) if raw.strip("\0") else ()
        if argv:
            processes.append(Process(int(pid), argv))
    return tuple(processes)


def parse_top(top: Mapping[str, Any]) -> tuple[Process, ...]:
    """Processes from `docker top` (the API's Titles/Processes); argv is the joined ARGS column."""
    titles = [str(t).upper() for t in top.get("Titles") or []]
    pid_at = titles.index("PID") if "PID" in titles else 0
    args_at = next((titles.index(t) for t in ("ARGS", "COMMAND", "CMD") if t in titles), len(titles) - 1)
    processes = []
    for row in top.get("Processes") or []:
        if len(row) <= max(pid_at, args_at):
            continue
        pid, args = str(row[pid_at]), str(row[args_at])
        # ARGS is the last column and may have been split on spaces by the engine.
        args = " ".join(str(part) for part in row[args_at:]) if args_at == len(titles) - 1 else args
        if pid.isdigit() and args:
            processes.append(Process(int(pid), (args,)))
    return tuple(processes)


# ---- env-file keys passed through to containers ------------------------------------------

_PASSTHROUGH = re.compile(
    r"^\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<word>[^${}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))$"
)


@dataclass(frozen=True)
class Passthrough:
    """A container variable whose compose value is exactly one env-file key: `${KEY:-word}`."""

    key: str
    operator: str = ""  # "", ":-", "-", ":?", "?"
    word: str = field(default="", repr=False)

    def expected(self, env: Mapping[str, str | None]) -> str | None:
        """The value compose gives the variable from `env`; None when the key is not in it."""
        if self.key not in env:
            return self.word if self.operator in (":-", "-") else None
        value = env[self.key] or ""
        if not value and self.operator == ":-":
            return self.word
        return value


def passthrough(value: Any) -> Passthrough | None:
    match = _PASSTHROUGH.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    key = match.group("braced") or match.group("bare")
    return Passthrough(key, match.group("op") or "", match.group("word") or "")


def passthrough_variables(raw_model: Mapping[str, Any]) -> dict[str, dict[str, Passthrough]]:
    """service -> {container variable: Passthrough}, from `docker compose config --no-interpolate`."""
    found: dict[str, dict[str, Passthrough]] = {}
    for name, spec in (raw_model.get("services") or {}).items():
        environment = (spec or {}).get("environment") or {}
        if isinstance(environment, list):  # compose renders a mapping; accept the list form too
            environment = dict(str(item).partition("=")[::2] for item in environment)
        found[str(name)] = {
            str(var): p for var, value in environment.items() if (p := passthrough(value)) is not None
        }
    return found


def in_effect_label(labels: Iterable[str]) -> str:
    names = sorted(set(labels))
    noun = "container" if len(names) == 1 else "containers"
    return f"{', '.join(names)} {noun} (in effect)"


def check_env_in_effect(
    facts: Sequence[ContainerFacts],
    passthroughs: Mapping[str, Mapping[str, Passthrough]],
    env: Mapping[str, str | None],
    secret_policy: SecretPolicy,
) -> list[Finding]:
    """ENV-01 in effect: each env-file key a service passes through reached its container
    with the file's value (a container created before the file changed, or from other
    compose files or another shell environment, runs with configuration nobody reviewed)."""
    found = []
    for fact in facts:
        for var, p in sorted(passthroughs.get(fact.service, {}).items()):
            if p.key not in env:
                continue  # ENV-01 on the file reports the missing key
            expected = p.expected(env)
            actual = fact.env.get(var)
            source = f"the env file's {p.key}" + (f" (as {var})" if var != p.key else "")
            if actual is None:
                found.append(Finding("ENV-01", fact.service, (
                    f"{in_effect_label([fact.service])}: {var} is not set, although compose passes {source}; "
                    f"recreate the container (`docker compose up -d {fact.service}`)"
                )))
            elif actual != expected:
                secret = secret_policy.is_secret_name(var) or secret_policy.is_secret_name(p.key)
                seen = "" if secret else f": the container has {actual!r}, the file says {expected!r}"
                found.append(Finding("ENV-01", fact.service, (
                    f"{in_effect_label([fact.service])}: {var} differs from {source}{seen}; the container "
                    "runs with configuration that is not in the files: recreate it from the files "
                    f"(`docker compose up -d {fact.service}`) or put the value in the env file"
                )))
    return found


def labelled_in_effect(findings: Iterable[Finding]) -> list[Finding]:
    """File-side findings about containers, said as such, with the fix that applies to them."""
    return [Finding(f.control, f.subject, f"{in_effect_label([f.subject])}: {f.message}; fix the files "
                    f"and recreate the container (`docker compose up -d {f.subject}`)") for f in findings]


def _grouped(raw: Iterable[tuple[str, Finding]]) -> list[Finding]:
    """The same violation seen in several containers becomes one finding naming them all."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for label, finding in raw:
        groups.setdefault((finding.control, finding.subject, finding.message), []).append(label)
    return [Finding(control, subject, f"{in_effect_label(labels)}: {message}")
            for (control, subject, message), labels in groups.items()]


def check_flags_in_effect(facts: Sequence[ContainerFacts], policy: EnvPolicy) -> list[Finding]:
    """ENV-03 in effect, on every container that has one of the production flags."""
    keys = (policy.environment_key, policy.debug_key, policy.log_level_key)
    raw = []
    for fact in facts:
        if any(key in fact.env for key in keys):
            view = EnvFile(path=Path(f"{fact.service} container"), values=dict(fact.env))
            raw += [(fact.service, f) for f in check_production_flags(view, policy)]
    return _grouped(raw)


def _only(policy: SecretPolicy, present: Mapping[str, str]) -> SecretPolicy:
    """The policy's password and secret keys narrowed to those `present` (a container has some)."""
    return dataclasses.replace(
        policy,
        password_keys=tuple(k for k in policy.password_keys if k in present),
        other_secret_keys=tuple(k for k in policy.other_secret_keys if k in present),
    )


def check_secrets_in_effect(facts: Sequence[ContainerFacts], policy: SecretPolicy) -> list[Finding]:
    """SEC-01, SEC-02 (strength, defaults, reuse across every container) and SEC-03 on the
    values the containers have, with the same functions as the file checks."""
    raw: list[tuple[str, Finding]] = []
    merged: dict[str, str] = {}
    for fact in facts:
        policy = policy.with_names([fact.service], fact.env)
    for fact in facts:
        present = {k: v for k, v in fact.env.items() if k in policy.secret_keys or k == policy.bcrypt_key}
        for key, value in present.items():
            merged.setdefault(key, value)
        if policy.secret_key in present:
            raw += [(fact.service, f) for f in check_secret_key(present, policy)]
        raw += [(fact.service, f) for f in check_passwords(present, _only(policy, present))]
        if policy.bcrypt_key in present:
            raw += [(fact.service, f) for f in check_bcrypt_rounds(present, policy)]
    # Reuse between keys that live in different containers (MySQL root vs Redis).
    seen = {(f.control, f.subject) for _, f in raw}
    for finding in check_passwords(merged, _only(policy, merged)):
        if "+" in finding.subject and (finding.control, finding.subject) not in seen:
            raw.append((", ".join(sorted({x.service for x in facts})), finding))
    return _grouped(raw)


def ports_spec(bindings: Iterable[PortBinding]) -> list[dict[str, Any]]:
    """Port bindings as the rendered compose model writes `ports:` (target, protocol,
    published, host_ip), so the file-side rule reads them."""
    spec = []
    for binding in bindings:
        port, _, protocol = binding.container_port.partition("/")
        spec.append({"target": int(port) if port.isdigit() else port, "protocol": protocol or "tcp",
                     "published": binding.host_port if binding.host_port not in {"", "0"} else "",
                     "host_ip": binding.host_ip})
    return spec


def check_ports_in_effect(
    facts: Sequence[ContainerFacts], roles: ServiceRoles, allowed_host_ips: Sequence[str]
) -> list[Finding]:
    """SEC-06 in effect: the file-side rule on the database and cache containers' ports and
    network mode as Docker reports them."""
    found = []
    for fact in facts:
        if fact.service not in {roles.database, roles.cache} - {""}:
            continue
        spec = {"ports": ports_spec(fact.ports), "network_mode": fact.network_mode}
        found += labelled_in_effect(port_findings(fact.service, spec, allowed_host_ips))
    return found


# ---- SEC-07: secrets on command lines ---------------------------------------------------

def mask(text: str, secrets: Mapping[str, str]) -> str:
    """The text with every known secret value replaced by «KEY» (longest first)."""
    for value in sorted(secrets, key=len, reverse=True):
        text = text.replace(value, f"«{secrets[value]}»")
    return text


def _exposure(text: str, secrets: Mapping[str, str], policy: SecretPolicy) -> list[str]:
    reasons = [f"contains the value of {key}" for value, key in secrets.items() if value in text]
    reasons += argument_reasons(text, policy)
    # secrets the run does not know, by their form (detect-secrets); never the value
    reasons += [f"holds a {detector} (detect-secrets)" for detector in line_detectors(text)]
    return sorted(set(reasons))


_FIX = ("pass secrets through the environment or a file (MYSQL_PWD, REDISCLI_AUTH, a config "
        "file), never as arguments")


def check_commands_in_effect(
    facts: Sequence[ContainerFacts], secrets: Mapping[str, str], policy: SecretPolicy
) -> list[Finding]:
    """SEC-07 in effect: no secret in a healthcheck test as inspected, nor in the arguments of
    any process running in a container (`ps` and /proc show them to every local user).
    Only distinctive values are searched for; a weak one is SEC-01/02's finding."""
    shown_as = secrets
    secrets = {value: key for value, key in secrets.items() if policy.is_distinctive(value)}
    found = []
    for fact in facts:
        test = list(fact.healthcheck)
        text = " ".join(test[1:] if test[:1] in (["CMD"], ["CMD-SHELL"]) else test)
        if reasons := _exposure(text, secrets, policy):
            found.append(Finding("SEC-07", fact.service, (
                f"{in_effect_label([fact.service])}: the healthcheck test {'; '.join(reasons)}; "
                f"`docker inspect` shows it to anyone with Docker access: {_FIX}"
            )))
        for process in fact.processes:
            if reasons := _exposure(process.command_line, secrets, policy):
                shown = mask(process.command_line, shown_as)
                if line_detectors(shown):  # a secret the run does not know is left: mask cannot hide it
                    shown = f"{process.argv[0] if process.argv else '?'} …"
                shown = shown if len(shown) <= 120 else shown[:117] + "..."
                found.append(Finding("SEC-07", fact.service, (
                    f"{in_effect_label([fact.service])}: process {process.pid} ({shown}) {'; '.join(reasons)} "
                    f"in its arguments; every local user reads them in `ps`: {_FIX}"
                )))
        if not fact.processes_read:
            found.append(Finding("SEC-07", fact.service, (
                f"{in_effect_label([fact.service])}: the process arguments could not be read "
                f"({fact.process_source}); expected a shell and cat in the image, or `ps` on the "
                "Docker host for `docker top`"
            )))
    return found

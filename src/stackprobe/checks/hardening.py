"""Container hardening (HRD-01..07): each rule written once over a neutral description of how a
service's container is run (`ServiceSpec`), so the file check (the compose model as compose
renders it, `hardening_sources.specs_from_compose`) and the in-effect check (`docker inspect` of
the container plus its image's config, `hardening_sources.spec_from_inspect`) call the same rule.

Rules name the service, the setting and the fix in one line; service roles never appear here:
every exception (root allowed, capabilities, read-only services) comes from the policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from stackprobe.checks.findings import Finding

# CIS 5.5: host directories a container must not get; /, and the Docker socket in any mode.
DEFAULT_HOST_PATHS = ("/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr")
SOCKET_SUFFIXES = ("docker.sock", "containerd.sock", "podman.sock")
NAMESPACES = ("network", "pid", "ipc", "uts", "userns")
ROOT_USERS = frozenset({"", "root", "0"})


@dataclass(frozen=True)
class Mount:
    target: str
    kind: str  # "bind", "volume", "tmpfs"
    source: str = ""  # host path of a bind, name of a volume
    read_only: bool = False


@dataclass(frozen=True)
class ServiceSpec:
    """How one service's container runs, from either source. `where` says which, for messages."""

    service: str
    where: str  # "compose" or "in effect (container NAME)"
    user: str = ""  # "" when neither compose nor the image sets one (Docker runs it as root)
    user_from: str = ""  # "compose user:", "image USER", "Dockerfile USER"
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    namespaces: Mapping[str, str] = field(default_factory=dict)  # "network" -> "host", ...
    memory_bytes: int = 0  # 0: no limit
    pids_limit: int = 0  # 0: no limit
    read_only: bool = False
    tmpfs: tuple[str, ...] = ()


@dataclass(frozen=True)
class HardeningPolicy:
    """What a hardened container looks like; a profile's [hardening] section sets every field."""

    root_allowed: Mapping[str, str] = field(default_factory=dict)  # service -> reason
    capabilities: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # service -> allowed cap_add
    require_cap_drop_all: bool = True
    host_paths: tuple[str, ...] = DEFAULT_HOST_PATHS
    memory_max_mb: int = 4096
    pids_max: int = 4096
    read_only: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # service -> writable paths


def capability(name: str) -> str:
    """`cap_chown`, `CAP_CHOWN` and `CHOWN` are the same capability."""
    upper = name.strip().upper()
    return upper[4:] if upper.startswith("CAP_") else upper


def _at(spec: ServiceSpec) -> str:
    return f"{spec.service} ({spec.where})"


def check_user(spec: ServiceSpec, policy: HardeningPolicy) -> list[Finding]:
    """HRD-01: the container's processes do not start as root unless the policy says why."""
    if spec.service in policy.root_allowed:
        return []
    user = spec.user.split(":", 1)[0].strip()
    if user not in ROOT_USERS:
        return []
    seen = f"{spec.user_from} is {spec.user}" if spec.user else "no user is set (compose user: or image USER)"
    return [Finding("HRD-01", spec.service, (
        f"{_at(spec)} runs as root: {seen}; set a non-root USER in the Dockerfile or `user: UID:GID` in "
        "compose (owning what it writes), or list it in [hardening] root_allowed with the reason"
    ))]


def check_privileges(spec: ServiceSpec, policy: HardeningPolicy) -> list[Finding]:
    """HRD-02: not privileged, capabilities dropped (ALL, where the policy asks) and added back
    only from the service's allow-list."""
    if spec.privileged:
        # Every capability, whatever cap_drop/cap_add say: one finding says all there is to fix.
        return [Finding("HRD-02", spec.service, (
            f"{_at(spec)} is privileged (privileged: true: every capability and every host device); "
            "remove `privileged`, set `cap_drop: [ALL]` and add only the capabilities it needs with cap_add"
        ))]
    found = []
    dropped = {capability(c) for c in spec.cap_drop}
    if policy.require_cap_drop_all and "ALL" not in dropped:
        found.append(Finding("HRD-02", spec.service, (
            f"{_at(spec)} keeps Docker's default capabilities (cap_drop: {sorted(dropped) or 'none'}); "
            "set `cap_drop: [ALL]` and add back only what [hardening] capabilities allows it"
        )))
    allowed = {capability(c) for c in policy.capabilities.get(spec.service, ())}
    extra = sorted({capability(c) for c in spec.cap_add} - allowed)
    if extra:
        found.append(Finding("HRD-02", spec.service, (
            f"{_at(spec)} adds capabilities {', '.join(extra)} (cap_add) beyond its allow-list "
            f"({', '.join(sorted(allowed)) or 'none'}); remove them or allow them in [hardening] capabilities"
        )))
    return found


def no_new_privileges(security_opt: Sequence[str]) -> bool:
    for option in security_opt:
        name, _, value = option.replace("=", ":").partition(":")
        if name.strip() == "no-new-privileges" and value.strip().lower() in ("", "true"):
            return True
    return False


def check_no_new_privileges(spec: ServiceSpec, policy: HardeningPolicy) -> list[Finding]:
    """HRD-03: setuid binaries cannot raise privileges inside the container."""
    if no_new_privileges(spec.security_opt):
        return []
    return [Finding("HRD-03", spec.service, (
        f"{_at(spec)} can gain privileges through setuid binaries (security_opt: "
        f"{list(spec.security_opt) or 'none'}); add `security_opt: [\"no-new-privileges:true\"]`"
    ))]


def _under(path: str, root: str) -> bool:
    return path == root if root == "/" else path == root or path.startswith(root.rstrip("/") + "/")


def check_host_paths(spec: ServiceSpec, policy: HardeningPolicy) -> list[Finding]:
    """HRD-04: no container runtime socket (any mode), no host control directory, and nothing
    under one writable."""
    found = []
    for mount in spec.mounts:
        if mount.kind != "bind":
            continue
        source = mount.source.rstrip("/") or "/"
        if source.endswith(SOCKET_SUFFIXES):
            why = "the container runtime's socket: whoever is in the container controls the host"
        elif source in {root.rstrip("/") or "/" for root in policy.host_paths}:
            why = "a host control directory"
        elif not mount.read_only and any(_under(source, root) for root in policy.host_paths if root != "/"):
            why = "a writable path in a host control directory"
        else:
            continue
        found.append(Finding("HRD-04", spec.service, (
            f"{_at(spec)} mounts {source} at {mount.target} ({why}); remove the volume (a named volume "
            "or a copied file gives the container what it needs)"
        )))
    return found


def check_namespaces(spec: ServiceSpec, policy: HardeningPolicy) -> list[Finding]:
    """HRD-05: no host network, PID, IPC, UTS or user namespace."""
    found = []
    for namespace in NAMESPACES:
        if spec.namespaces.get(namespace) == "host":
            setting = {"network": "network_mode", "pid": "pid", "ipc": "ipc", "uts": "uts",
                       "userns": "userns_mode"}[namespace]
            found.append(Finding("HRD-05", spec.service, (
                f"{_at(spec)} shares the host's {namespace} namespace ({setting}: host); remove "
                f"`{setting}: host` (publish ports on 127.0.0.1 instead of host networking)"
            )))
    return found


def check_limits(spec: ServiceSpec, policy: HardeningPolicy) -> list[Finding]:
    """HRD-06: memory and PID limits set, within the policy's bounds."""
    found = []
    mib = spec.memory_bytes / 2**20
    if spec.memory_bytes <= 0:
        found.append(Finding("HRD-06", spec.service, (
            f"{_at(spec)} has no memory limit (mem_limit); set `mem_limit` (at most "
            f"{policy.memory_max_mb} MiB, [hardening] memory_max_mb)"
        )))
    elif policy.memory_max_mb and mib > policy.memory_max_mb:
        found.append(Finding("HRD-06", spec.service, (
            f"{_at(spec)} memory limit {mib:.0f} MiB is above [hardening] memory_max_mb "
            f"{policy.memory_max_mb}; lower mem_limit"
        )))
    if spec.pids_limit <= 0:
        found.append(Finding("HRD-06", spec.service, (
            f"{_at(spec)} has no PID limit (pids_limit), so a fork bomb takes the host; set `pids_limit` "
            f"(at most {policy.pids_max}, [hardening] pids_max)"
        )))
    elif policy.pids_max and spec.pids_limit > policy.pids_max:
        found.append(Finding("HRD-06", spec.service, (
            f"{_at(spec)} PID limit {spec.pids_limit} is above [hardening] pids_max {policy.pids_max}; "
            "lower pids_limit"
        )))
    return found


def check_read_only(spec: ServiceSpec, policy: HardeningPolicy) -> list[Finding]:
    """HRD-07: where the policy asks, a read-only root filesystem with the writable paths on
    tmpfs or volumes."""
    if spec.service not in policy.read_only:
        return []
    found = []
    if not spec.read_only:
        found.append(Finding("HRD-07", spec.service, (
            f"{_at(spec)} has a writable root filesystem; set `read_only: true` ([hardening] read_only "
            "asks for it) and give its writable paths tmpfs or volumes"
        )))
    mounted = {m.target.rstrip("/") for m in spec.mounts} | {t.split(":", 1)[0].rstrip("/") for t in spec.tmpfs}
    for path in policy.read_only[spec.service]:
        if path.rstrip("/") not in mounted:
            found.append(Finding("HRD-07", spec.service, (
                f"{_at(spec)} writable path {path} is neither a tmpfs nor a volume; add `tmpfs: [{path}]` "
                "or a named volume there"
            )))
    return found


RULES: tuple[Callable[[ServiceSpec, HardeningPolicy], list[Finding]], ...] = (
    check_user, check_privileges, check_no_new_privileges, check_host_paths, check_namespaces,
    check_limits, check_read_only,
)
RUNTIME_CONTROLS = ("HRD-01", "HRD-02", "HRD-03", "HRD-04", "HRD-05", "HRD-06", "HRD-07")


def check_services(specs: Sequence[ServiceSpec], policy: HardeningPolicy) -> list[Finding]:
    """HRD-01..07 on every service description, file-side or in effect alike."""
    return [finding for spec in specs for rule in RULES for finding in rule(spec, policy)]

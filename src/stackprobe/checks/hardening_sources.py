"""The two inputs of the hardening rules, turned into the same neutral `ServiceSpec`: a service of
the compose model as compose renders it, and a container as `docker inspect` shows it with its
image's config. Also the Dockerfiles the model builds (HRD-08 bases, HRD-09, HRD-10)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackprobe.checks.dockerfile import Instruction, parse_instructions
from stackprobe.checks.findings import ConfigInputError
from stackprobe.checks.hardening import Mount, ServiceSpec
from stackprobe.checks.healthchecks import services


def _int(value: Any) -> int:
    try:
        return int(str(value or 0))
    except ValueError:
        return 0


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value or ())


def last_user(instructions: Sequence[Instruction]) -> str:
    """The USER the final stage of a Dockerfile leaves in effect ("" for none)."""
    user = ""
    for instruction in instructions:
        if instruction.keyword == "FROM":
            user = ""
        elif instruction.keyword == "USER":
            user = instruction.value.strip()
    return user


@dataclass(frozen=True)
class BuiltDockerfile:
    """A Dockerfile a service is built from, as compose renders its build section."""

    service: str
    path: Path
    args: Mapping[str, str] = field(default_factory=dict)

    def text(self, read: Callable[[Path], bytes] | None = None) -> str:
        """The Dockerfile's text, read locally or with `read` (a remote host's file)."""
        try:
            raw = read(self.path) if read else self.path.read_bytes()
        except OSError as error:
            raise ConfigInputError(
                f"{self.service} is built from {self.path}, which cannot be read ({error.strerror}): "
                "fix build.context/build.dockerfile in compose") from None
        return raw.decode("utf-8", errors="replace")


def built_dockerfiles(model: Mapping[str, Any]) -> list[BuiltDockerfile]:
    """Every service's Dockerfile that compose would build (inline dockerfile_inline is skipped:
    there is no file to lint)."""
    found = []
    for name, spec in sorted(services(model).items()):
        build = spec.get("build")
        if not isinstance(build, Mapping) or build.get("dockerfile_inline"):
            continue
        context = Path(str(build.get("context") or "."))
        dockerfile = Path(str(build.get("dockerfile") or "Dockerfile"))
        path = dockerfile if dockerfile.is_absolute() else context / dockerfile
        args = {str(k): str(v) for k, v in (build.get("args") or {}).items() if v is not None}
        found.append(BuiltDockerfile(name, path, args))
    return found


def _compose_mounts(spec: Mapping[str, Any]) -> tuple[Mount, ...]:
    mounts = []
    for volume in spec.get("volumes") or []:
        if isinstance(volume, Mapping):
            mounts.append(Mount(str(volume.get("target") or ""), str(volume.get("type") or "volume"),
                                str(volume.get("source") or ""), bool(volume.get("read_only"))))
    return tuple(mounts)


def spec_from_compose(name: str, spec: Mapping[str, Any], dockerfile_user: str = "") -> ServiceSpec:
    """One rendered compose service; `dockerfile_user` is the USER of the Dockerfile it is built
    from (the image's user, when compose sets none)."""
    limits = ((spec.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    user, user_from = str(spec.get("user") or ""), "the service's user (compose user:)"
    if not user and dockerfile_user:
        user, user_from = dockerfile_user, "Dockerfile USER"
    return ServiceSpec(
        service=name, where="compose", user=user, user_from=user_from,
        privileged=bool(spec.get("privileged")),
        cap_add=_strings(spec.get("cap_add")), cap_drop=_strings(spec.get("cap_drop")),
        security_opt=_strings(spec.get("security_opt")),
        mounts=_compose_mounts(spec),
        namespaces={"network": str(spec.get("network_mode") or ""), "pid": str(spec.get("pid") or ""),
                    "ipc": str(spec.get("ipc") or ""), "uts": str(spec.get("uts") or ""),
                    "userns": str(spec.get("userns_mode") or "")},
        memory_bytes=_int(spec.get("mem_limit")) or _int(limits.get("memory")),
        pids_limit=_int(spec.get("pids_limit")) or _int(limits.get("pids")),
        read_only=bool(spec.get("read_only")),
        tmpfs=_strings(spec.get("tmpfs")),
    )


def specs_from_compose(model: Mapping[str, Any], dockerfiles: Mapping[str, str]) -> list[ServiceSpec]:
    """Every rendered service; `dockerfiles` maps a built service to its Dockerfile's text."""
    users = {service: last_user(parse_instructions(text)) for service, text in dockerfiles.items()}
    return [spec_from_compose(name, spec, users.get(name, "")) for name, spec in sorted(services(model).items())]


def spec_from_inspect(service: str, container: Mapping[str, Any], image: Mapping[str, Any]) -> ServiceSpec:
    """One container as `docker inspect` shows it, with its image's config (`docker image inspect`)."""
    config = container.get("Config") or {}
    host = container.get("HostConfig") or {}
    user, user_from = str(config.get("User") or ""), "the container's user (compose user: or run --user)"
    image_user = str((image.get("Config") or {}).get("User") or "")
    if not user and image_user:
        user, user_from = image_user, "image USER"
    mounts = tuple(
        Mount(str(m.get("Destination") or ""), str(m.get("Type") or ""),
              str(m.get("Source") if m.get("Type") == "bind" else m.get("Name") or ""), not m.get("RW", True))
        for m in container.get("Mounts") or [])
    name = str(container.get("Name") or "").lstrip("/")
    return ServiceSpec(
        service=service, where=f"in effect, container {name}", user=user, user_from=user_from,
        privileged=bool(host.get("Privileged")),
        cap_add=_strings(host.get("CapAdd")), cap_drop=_strings(host.get("CapDrop")),
        security_opt=_strings(host.get("SecurityOpt")),
        mounts=mounts,
        namespaces={"network": str(host.get("NetworkMode") or ""), "pid": str(host.get("PidMode") or ""),
                    "ipc": str(host.get("IpcMode") or ""), "uts": str(host.get("UTSMode") or ""),
                    "userns": str(host.get("UsernsMode") or "")},
        memory_bytes=_int(host.get("Memory")),
        pids_limit=max(_int(host.get("PidsLimit")), 0),
        read_only=bool(host.get("ReadonlyRootfs")),
        tmpfs=tuple(str(path) for path in (host.get("Tmpfs") or {})),
    )


def compose_images(model: Mapping[str, Any]) -> dict[str, str]:
    """service -> image, for services compose pulls (a built service's image is its output)."""
    return {name: str(spec.get("image") or "") for name, spec in services(model).items()
            if not spec.get("build") and spec.get("image")}


def check_ready(model: Mapping[str, Any]) -> None:
    """A model without services is an input error, not a hardened stack."""
    if not services(model):
        raise ConfigInputError("the compose model has no services: pass the stack's compose files")

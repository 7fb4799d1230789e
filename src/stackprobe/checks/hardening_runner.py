"""HRD-01..10 in one call per input: the compose files (no Docker engine), or what is in effect
(containers and images as inspected). Both build the same neutral descriptions and call the
same rules (stackprobe.checks.hardening, .dockerfile, .pinning)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackprobe.checks.dockerfile import (
    Declaration,
    base_images,
    check_build_secrets,
    check_hadolint,
    check_pinned,
    declarations,
    history_declarations,
    parse_instructions,
)
from stackprobe.checks.findings import ConfigInputError, Finding
from stackprobe.checks.hardening import HardeningPolicy, ServiceSpec, check_services
from stackprobe.checks.hardening_sources import (
    BuiltDockerfile,
    built_dockerfiles,
    check_ready,
    compose_images,
    spec_from_inspect,
    specs_from_compose,
)
from stackprobe.checks.pinning import PinLevel
from stackprobe.checks.secrets import SecretPolicy


@dataclass(frozen=True)
class HardeningSettings:
    policy: HardeningPolicy = field(default_factory=HardeningPolicy)
    pinning: PinLevel = "version"
    min_version_parts: int = 2
    hadolint_threshold: str = "warning"
    hadolint_ignore: tuple[str, ...] = ()
    secrets: SecretPolicy = field(default_factory=SecretPolicy)


@dataclass(frozen=True)
class ContainerView:
    """One service's container as inspected, with its image's config and history lines."""

    service: str
    container: Mapping[str, Any] = field(repr=False)
    image: Mapping[str, Any] = field(repr=False)
    history: tuple[str, ...] = field(default=(), repr=False)


@dataclass
class HardeningCheck:
    """What was looked at (safe to record: no values) and what was found."""

    specs: list[ServiceSpec]
    dockerfiles: dict[str, str]  # service -> Dockerfile as shown
    findings: list[Finding]
    root_allowed: Mapping[str, str] = field(default_factory=dict)  # service -> the profile's reason
    # control -> why it could not be checked (hadolint missing): an error for that control alone
    unproven: dict[str, str] = field(default_factory=dict)
    # control -> why there is nothing for it to judge (compose builds no image): not applicable
    not_applicable: dict[str, str] = field(default_factory=dict)

    def evidence(self) -> dict[str, Any]:
        return {
            spec.service: {
                "where": spec.where, "user": spec.user or "(root: none set)", "privileged": spec.privileged,
                **({"root_allowed": self.root_allowed[spec.service]} if spec.service in self.root_allowed else {}),
                "cap_add": list(spec.cap_add), "cap_drop": list(spec.cap_drop),
                "security_opt": list(spec.security_opt),
                "host_mounts": [m.source for m in spec.mounts if m.kind == "bind"],
                "host_namespaces": sorted(k for k, v in spec.namespaces.items() if v == "host"),
                "memory_mb": round(spec.memory_bytes / 2**20), "pids_limit": spec.pids_limit,
                "read_only": spec.read_only, "dockerfile": self.dockerfiles.get(spec.service, ""),
            } for spec in self.specs
        }


def _shown(path: Path, project_dir: Path | None) -> str:
    if project_dir is not None:
        try:
            return str(path.relative_to(project_dir))
        except ValueError:
            pass
    return str(path)


def _dockerfile_findings(built: BuiltDockerfile, text: str, where: str, shown: str, settings: HardeningSettings,
                         hadolint: str | None, unproven: dict[str, str],
                         declared: Sequence[Declaration] | None = None) -> list[Finding]:
    """HRD-08 (every FROM), HRD-09 (ARG/ENV: the text's, or `declared`, e.g. from an image's
    history) and HRD-10 (hadolint) on one Dockerfile."""
    instructions = parse_instructions(text)
    bases = [(b.reference, f"{shown}:{b.line} FROM") for b in base_images(instructions, built.args)]
    found = check_pinned(built.service, where, bases, settings.pinning, settings.min_version_parts)
    if declared is None:
        declared = declarations(instructions, shown)
    found += check_build_secrets(built.service, where, declared, settings.secrets)
    try:
        found += check_hadolint(built.service, where, text, shown, settings.hadolint_threshold,
                                settings.hadolint_ignore, hadolint)
    except ConfigInputError as error:  # the linter cannot run: HRD-10 alone is unproven
        unproven["HRD-10"] = str(error)
    return found


def check_hardening_files(model: Mapping[str, Any], settings: HardeningSettings,
                          project_dir: Path | None = None, hadolint: str | None = None,
                          read: Callable[[Path], bytes] | None = None) -> HardeningCheck:
    """HRD-01..10 on the compose model as compose renders it and the Dockerfiles it builds."""
    check_ready(model)
    built = built_dockerfiles(model)
    texts = {b.service: b.text(read) for b in built}
    specs = specs_from_compose(model, texts)
    found = check_services(specs, settings.policy)
    for name, image in sorted(compose_images(model).items()):
        found += check_pinned(name, "compose", [(image, "compose")], settings.pinning, settings.min_version_parts)
    shown = {b.service: _shown(b.path, project_dir) for b in built}
    unproven: dict[str, str] = {}
    for b in built:
        found += _dockerfile_findings(b, texts[b.service], "compose build", shown[b.service], settings, hadolint,
                                      unproven)
    return HardeningCheck(specs, shown, found, settings.policy.root_allowed, unproven, _nothing_built(bool(built)))


def _nothing_built(any_built: bool) -> dict[str, str]:
    """HRD-09/10 judge the Dockerfiles compose builds: with none, they have nothing to observe."""
    if any_built:
        return {}
    why = "compose builds no image (no service has build:), so there is no Dockerfile"
    return {"HRD-09": f"{why} whose ARG or ENV could hold a secret", "HRD-10": f"{why} for hadolint to lint"}


def check_hardening_in_effect(views: Sequence[ContainerView], model: Mapping[str, Any],
                              settings: HardeningSettings, project_dir: Path | None = None,
                              hadolint: str | None = None,
                              read: Callable[[Path], bytes] | None = None) -> HardeningCheck:
    """HRD-01..10 on the running containers: their inspect data and image config (HRD-01..07),
    the image references they run (HRD-08), ARG/ENV their images' history records (HRD-09), and
    the Dockerfiles the running project's compose files build them from (HRD-08 bases, HRD-10):
    an image does not record its FROM, nor the text hadolint reads."""
    specs = [spec_from_inspect(v.service, v.container, v.image) for v in views]
    found = check_services(specs, settings.policy)
    built = {b.service: b for b in built_dockerfiles(model)}
    shown: dict[str, str] = {}
    unproven: dict[str, str] = {}
    for view, spec in zip(views, specs, strict=True):
        if view.service not in built:
            image = str((view.container.get("Config") or {}).get("Image") or "")
            found += check_pinned(view.service, spec.where, [(image, "running")], settings.pinning,
                                  settings.min_version_parts)
            continue
        b = built[view.service]
        shown[view.service] = _shown(b.path, project_dir)
        found += _dockerfile_findings(b, b.text(read), spec.where, shown[view.service], settings, hadolint,
                                      unproven, history_declarations(view.history))
    return HardeningCheck(specs, shown, found, settings.policy.root_allowed, unproven, _nothing_built(bool(built)))

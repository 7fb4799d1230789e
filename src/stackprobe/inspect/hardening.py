"""The hardening suite's "in effect" facts: every container of the target as `docker inspect`
shows it, its image's config and history, and the compose model the project runs from."""

from __future__ import annotations

import docker.errors

from stackprobe.checks.hardening_runner import (
    ContainerView,
    HardeningCheck,
    HardeningSettings,
    check_hardening_in_effect,
)
from stackprobe.targets.base import Target


def container_views(target: Target) -> list[ContainerView]:
    views = []
    for name, service in sorted(target.services().items()):
        attrs = service.inspect()
        image_id = str(attrs.get("Image") or "")
        try:
            image = target.docker.images.get(image_id)
            image_attrs, history = dict(image.attrs), tuple(str(h.get("CreatedBy") or "") for h in image.history())
        except docker.errors.ImageNotFound:
            image_attrs, history = {}, ()
        views.append(ContainerView(name, attrs, image_attrs, history))
    return views


def collect_hardening(target: Target, settings: HardeningSettings) -> HardeningCheck:
    """HRD-01..10 on what the target runs (Dockerfiles read where the project's files are)."""
    return check_hardening_in_effect(container_views(target), target.compose_config(), settings,
                                     project_dir=target.project_dir, read=target.read_host_file)

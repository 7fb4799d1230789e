"""The hardening suite's "in effect" facts: every container of the target as `docker inspect`
shows it, its image's config and history, and the compose model the project runs from."""

from __future__ import annotations

from collections.abc import Iterable

import docker
import docker.errors
from docker.models.containers import Container

from stackprobe.checks.hardening_runner import (
    ContainerView,
    HardeningCheck,
    HardeningSettings,
    check_hardening_in_effect,
)
from stackprobe.targets.base import SERVICE_LABEL, Target


def container_views(client: docker.DockerClient, containers: Iterable[Container]) -> list[ContainerView]:
    """Each compose container (labelled with its service) with its image's config and history."""
    views = []
    for container in sorted(containers, key=lambda c: str(c.labels.get(SERVICE_LABEL, c.name))):
        attrs = dict(container.attrs)
        name = str(container.labels.get(SERVICE_LABEL, container.name))
        image_id = str(attrs.get("Image") or "")
        try:
            image = client.images.get(image_id)
            image_attrs, history = dict(image.attrs), tuple(str(h.get("CreatedBy") or "") for h in image.history())
        except docker.errors.ImageNotFound:
            image_attrs, history = {}, ()
        views.append(ContainerView(name, attrs, image_attrs, history))
    return views


def collect_hardening(target: Target, settings: HardeningSettings) -> HardeningCheck:
    """HRD-01..10 on what the target runs (Dockerfiles read where the project's files are)."""
    views = container_views(target.docker, target.containers())
    return check_hardening_in_effect(views, target.compose_config(), settings,
                                     project_dir=target.project_dir, read=lambda path: target.host.read_file(str(path)))

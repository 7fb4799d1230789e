"""Collecting facts from a running target (docker inspect, inside containers, images) for the
pure checks in `stackprobe.checks`: only this package talks to Docker for them."""

from stackprobe.inspect.facts import (
    ImageReport,
    InEffect,
    collect_in_effect,
    container_facts,
    read_processes,
    scan_images,
)

__all__ = ["ImageReport", "InEffect", "collect_in_effect", "container_facts", "read_processes", "scan_images"]

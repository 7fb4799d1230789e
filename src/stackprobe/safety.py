"""The rules of what a run may change, written once, and the marker helpers suites import.

A destructive check (a fault, a restore, a flood of requests) runs on a live target only with
--allow-destructive; the dry run, the plugin's skip, the chaos suite's refusal and every
fixture that breaks something ask `destructive_refusal()`.
"""

from __future__ import annotations

import pytest

from stackprobe.profile import role_names
from stackprobe.settings import RunSettings


def destructive_refusal(settings: RunSettings, what: str = "destructive") -> str | None:
    """Why `what` may not run on this target (None: it may)."""
    if settings.target == "live" and not settings.allow_destructive:
        return f"{what}: live targets need --allow-destructive"
    return None


def skip_unless_destructive_allowed(settings: RunSettings, what: str) -> None:
    """Skip the calling check or fixture, saying why, when `destructive_refusal` refuses it."""
    reason = destructive_refusal(settings, what)
    if reason:
        pytest.skip(reason)


def placeholders(settings: RunSettings) -> dict[str, str]:
    """What `{database}`, `{dependency_services}`, ... in `writes`/`faults` markers stand for."""
    p = settings.profile
    return {
        **role_names(p),
        "dependency_services": ", ".join(sorted(set(p.health.dependency_services.values()))) or "(none)",
        "destructive_services": ", ".join(p.safety.destructive_services) or "(none)",
    }


def marker_specs(item: pytest.Item, name: str, settings: RunSettings) -> list[str]:
    """The `name` marker's specs with placeholders filled; `on="ephemeral"` limits a marker to
    one kind of target."""
    values = placeholders(settings)
    found: list[str] = []
    for marker in item.iter_markers(name):
        if marker.kwargs.get("on", settings.target) != settings.target:
            continue
        for spec in marker.args:
            try:
                found.append(str(spec).format(**values))
            except (KeyError, IndexError, ValueError):
                found.append(str(spec))
    return found

"""Who may break what: the refusals every fault goes through before it touches anything.

- an unknown service (not a service of the project) is bad input;
- a live target needs --allow-destructive ([safety] allow_destructive), and then only the
  services in [safety] destructive_services, one fault at a time;
- an ephemeral target (a throwaway copy this run started) may be broken anywhere.
Each refusal is one line naming the input and the fix.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from stackprobe.faults.kinds import fault_kind


@dataclass(frozen=True)
class FaultGuard:
    kind: str  # "ephemeral" | "live"
    project: str
    allow_destructive: bool
    allowed_services: tuple[str, ...]
    where: str = "this host"
    profile: str = "(defaults)"

    def refusal(self, fault: str, service: str, known: Collection[str] | None = None) -> str | None:
        """Why `fault` on `service` is refused (None: allowed). `known`: the project's services,
        when they are known (None skips that check)."""
        if known is not None and service not in known:
            return (f"refusing {fault} of {service!r}: it is not a service of project {self.project!r} on "
                    f"{self.where} (it runs: {', '.join(sorted(known)) or 'nothing'}); check [services] and "
                    f"[chaos] in profile {self.profile}")
        if self.kind != "live":
            return None
        if not self.allow_destructive:
            return (f"refusing {fault} of {service!r} on live project {self.project!r} ({self.where}): faults on a "
                    "live target need --allow-destructive (and the service in [safety] destructive_services)")
        if service not in self.allowed_services:
            allowed = ", ".join(self.allowed_services) or "none"
            return (f"refusing {fault} of {service!r} on live project {self.project!r} ({self.where}): it is not in "
                    f"[safety] destructive_services of profile {self.profile} (allowed: {allowed})")
        return None


def parse_fault_spec(spec: str) -> tuple[str, list[str]]:
    """`"crash:mysql, redis"` -> ("crash", ["mysql", "redis"]) (the faults marker's format); a kind
    the registry does not know is an error naming the known ones."""
    kind, _, services = spec.partition(":")
    fault_kind(kind.strip(), f"in faults spec {spec!r}")
    return kind.strip(), [s.strip() for s in services.split(",") if s.strip() and s.strip() != "(none)"]

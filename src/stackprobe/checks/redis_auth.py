"""RDS-02's policy: must Redis refuse commands without AUTH?

`[redis] auth` says so: "required" or "any". Left empty, it is decided from the compose model:
required when Redis is reachable from more than the backend, that is when another service
shares a network with it, it publishes a port (every process on the host, or beyond), or it
runs on the host's network. A Redis only the backend can reach may be left open by choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

AUTH_POLICIES = ("required", "any")


@dataclass(frozen=True)
class RedisAuthPolicy:
    required: bool
    reason: str  # why, for the evidence and the message


def _networks(spec: Mapping[str, Any]) -> set[str]:
    mode = str(spec.get("network_mode") or "")
    if mode:
        return {f"mode:{mode}"}
    networks = spec.get("networks")
    if not networks:
        return {"default"}
    return set(networks)


def redis_auth_policy(model: Mapping[str, Any], cache: str, backend: str, configured: str) -> RedisAuthPolicy:
    """The policy for the `cache` service of a rendered compose `model` (configured wins)."""
    if configured:
        if configured not in AUTH_POLICIES:
            raise ValueError(f"[redis] auth = {configured!r}: expected one of {', '.join(AUTH_POLICIES)} or empty")
        return RedisAuthPolicy(configured == "required", f"[redis] auth = {configured!r}")
    services: Mapping[str, Any] = model.get("services") or {}
    spec = services.get(cache)
    if spec is None:
        return RedisAuthPolicy(True, f"service {cache!r} is not in the compose model, so who reaches it is unknown")
    mine = _networks(spec)
    if "mode:host" in mine:
        return RedisAuthPolicy(True, f"{cache} runs on the host's network")
    if spec.get("ports"):
        return RedisAuthPolicy(True, f"{cache} publishes a port on the host")
    others = sorted(name for name, other in services.items()
                    if name not in (cache, backend) and (_networks(other) & mine
                                                         or other.get("network_mode") == f"service:{cache}"))
    if others:
        return RedisAuthPolicy(True, f"{', '.join(others)} share a network with {cache}")
    return RedisAuthPolicy(False, f"only {backend} shares a network with {cache} and no port is published")

"""Is an image reference pinned? One rule for CMP-01 (compose images name a release, not
`latest`) and HRD-08 (every image and Dockerfile base pinned to a digest or a full version).

The levels differ only in strictness:
- "tag": any explicit tag but `latest` (CMP-01: a deployment that names what it runs);
- "version": a tag that starts with a version of at least `min_version_parts` numbers
  (`7.0`, `3.11-slim`, `8.0.36`); words (`latest`, `stable`, `alpine`) and a bare major
  (`redis:4`) move with every release;
- "digest": `@sha256:...` (a tag can be pushed again; a digest cannot).
A digest satisfies every level.
"""

from __future__ import annotations

import re
from typing import Literal

PinLevel = Literal["tag", "version", "digest"]
PIN_LEVELS: tuple[str, ...] = ("tag", "version", "digest")

_VERSION = re.compile(r"v?(\d+(?:\.\d+)*)")


def image_pin(image: str) -> tuple[str, str]:
    """(tag, digest) of an image reference; "" for a part that is absent."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else ""
    return tag, digest


def version_parts(tag: str) -> int:
    """How many numbers the version at the start of `tag` has (0: no version)."""
    match = _VERSION.match(tag)
    return len(match.group(1).split(".")) if match else 0


def pin_problem(image: str, level: PinLevel, min_version_parts: int = 2) -> str | None:
    """Why `image` is not pinned at `level` (a phrase to follow the image name), or None."""
    tag, digest = image_pin(image)
    if digest:
        return None
    if level == "digest":
        return "has no digest (@sha256:...); the policy pins images by digest"
    if tag in ("", "latest"):
        return "is not pinned (it means :latest, whatever was pushed last)"
    if level == "tag":
        return None
    parts = version_parts(tag)
    if parts == 0:
        return f"uses the floating tag `{tag}` (a name, not a version: it moves with every release)"
    if parts < min_version_parts:
        return (f"uses the floating tag `{tag}` ({parts} version number{'s' if parts > 1 else ''}: it moves "
                f"with every release); the policy needs at least {min_version_parts}")
    return None

"""The foreign stacks' common step: `stackprobe init` run on a project as its user runs it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from cli.test_cli import stackprobe

from stackprobe.targets.base import load_image_overrides
from support.stacks import REPO


def init_profile(project: Path, compose_file: str, env: dict[str, str] | None = None) -> tuple[Path, dict[str, Any]]:
    """The profile `stackprobe init` writes beside `project` (stand-in images chosen first, as
    compose will start them), and what it wrote."""
    load_image_overrides(REPO)
    profile = project.parent / f"{project.name}.toml"
    done = stackprobe("init", "--compose-file", str(project / compose_file), "--output", str(profile),
                      cwd=project.parent, env=env)
    assert done.returncode == 0, done.stderr
    return profile, tomllib.loads(profile.read_text())

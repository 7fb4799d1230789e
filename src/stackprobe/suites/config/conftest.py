"""The config suite's "in effect" half: facts read from the running target once per session."""

from __future__ import annotations

import pytest

from stackprobe.checks import policies, read_env_file
from stackprobe.inspect import ImageReport, InEffect, collect_in_effect, scan_images
from stackprobe.targets import Target


@pytest.fixture(scope="session")
def in_effect(target: Target) -> InEffect:
    profile = target.profile
    path = target.project_dir / profile.stack.env_template if profile.stack.env_template else None
    # Whatever the template ships is a placeholder by definition (as on the file side); a stack
    # may ship none (its values inline in compose).
    shipped = read_env_file(path).values.values() if path is not None and path.is_file() else ()
    return collect_in_effect(target, policies(profile, shipped))


@pytest.fixture(scope="session")
def image_reports(target: Target, in_effect: InEffect) -> list[ImageReport]:
    config = target.profile.config
    return scan_images(target, in_effect, scan_layers=config.image_scan, timeout_s=config.image_scan_timeout_s,
                       max_file_bytes=config.image_scan_max_file_bytes,
                       text_file_bytes=target.profile.secrets.pattern_scan_file_max_bytes)

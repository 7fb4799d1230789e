"""The config suite's "in effect" half: facts read from the running target once per session."""

from __future__ import annotations

import pytest

from stackprobe.checks import policies, read_env_file
from stackprobe.inspect import ImageReport, InEffect, collect_in_effect, scan_images
from stackprobe.targets import Target


@pytest.fixture(scope="session")
def in_effect(target: Target) -> InEffect:
    profile = target.profile
    template = read_env_file(target.project_dir / profile.stack.env_template)
    # Whatever the template ships is a placeholder by definition (as on the file side).
    return collect_in_effect(target, policies(profile, template.values.values()))


@pytest.fixture(scope="session")
def image_reports(target: Target, in_effect: InEffect) -> list[ImageReport]:
    config = target.profile.config
    return scan_images(target, in_effect, scan_layers=config.image_scan, timeout_s=config.image_scan_timeout_s,
                       max_file_bytes=config.image_scan_max_file_bytes,
                       text_file_bytes=target.profile.secrets.pattern_scan_file_max_bytes)

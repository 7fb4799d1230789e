"""The hardening suite: HRD-01..10 on the compose files as compose renders them (no Docker engine)
and on what is in effect (containers and images as inspected), each from the profile's [hardening]."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from stackprobe.checks import ConfigInputError, ConfigInputs
from stackprobe.checks.hardening_runner import HardeningCheck, HardeningSettings, check_hardening_files
from stackprobe.checks.policies import hardening_settings
from stackprobe.inspect.hardening import collect_hardening
from stackprobe.settings import RunSettings
from stackprobe.targets import Target


@pytest.fixture(scope="session")
def hardening(stackprobe_settings: RunSettings) -> HardeningSettings:
    return hardening_settings(stackprobe_settings.profile)


@pytest.fixture(scope="session")
def hardening_files(config_inputs: ConfigInputs, hardening: HardeningSettings, stackprobe_settings: RunSettings,
                    request: pytest.FixtureRequest) -> HardeningCheck:
    try:
        model = config_inputs.render()
    except ConfigInputError as error:  # one line, the error of every file check
        pytest.fail(str(error), pytrace=False)
    read: Callable[[Path], bytes] | None = None
    if stackprobe_settings.host:
        # The compose files are private copies of the host's; the Dockerfiles they build are read
        # where the copies' paths point on the host.
        target: Target = request.getfixturevalue("target")
        mirror = Path(config_inputs.project_dir or ".")

        def read(path: Path) -> bytes:
            return target.host.read_file(str(target.project_dir / Path(path).relative_to(mirror)))
    return check_hardening_files(model, hardening, project_dir=config_inputs.project_dir, read=read)


@pytest.fixture(scope="session")
def hardening_in_effect(target: Target, hardening: HardeningSettings) -> HardeningCheck:
    return collect_hardening(target, hardening)

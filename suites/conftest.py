"""File-side configuration checks: run once, without a Docker engine, shared by every control."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackprobe.checks import ConfigInputs, Finding, run_config_checks
from stackprobe.settings import RunSettings
from stackprobe.targets.envfiles import generated_from_template, write_env


@pytest.fixture(scope="session")
def config_env_file(stackprobe_settings: RunSettings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The env file under test; on an ephemeral run without one, the env file the run generates."""
    if stackprobe_settings.env_file is not None:
        return stackprobe_settings.env_file
    template = stackprobe_settings.project_dir / stackprobe_settings.profile.stack.env_template
    generated = tmp_path_factory.mktemp("config") / ".env"
    write_env(generated, generated_from_template(template))
    return generated


@pytest.fixture(scope="session")
def config_findings(stackprobe_settings: RunSettings, config_env_file: Path) -> list[Finding]:
    s = stackprobe_settings
    inputs = ConfigInputs(env_file=config_env_file, template=s.project_dir / s.profile.stack.env_template,
                          compose_files=s.compose_files, project_dir=s.project_dir)
    return run_config_checks(inputs)


def assert_control_clean(control: str, findings: list[Finding], evidence: object) -> None:
    mine = [f for f in findings if f.control == control]
    evidence.record("findings", [str(f) for f in mine])  # type: ignore[attr-defined]
    assert not mine, "; ".join(f"{f.subject}: {f.message}" for f in mine)

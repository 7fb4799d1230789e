"""File-side configuration checks: run once, without a Docker engine, shared by every control."""

from __future__ import annotations

import os

import pytest

from stackprobe.checks import ConfigCheck, ConfigInputError, ConfigInputs, Finding, check_config, policies
from stackprobe.evidence import Evidence
from stackprobe.settings import RunSettings
from stackprobe.targets.envfiles import generated_from_template, write_env


@pytest.fixture(scope="session")
def config_inputs(stackprobe_settings: RunSettings, tmp_path_factory: pytest.TempPathFactory,
                  request: pytest.FixtureRequest) -> ConfigInputs:
    """The files under test. On an ephemeral run without an env file, the one the run generates
    from the template (none without a template: the values are inline in compose); on a live host
    reached over SSH, private local copies of the host's files (same modes). Compose renders with
    the shell's values of the variables the files use, as when the stack is started."""
    s = stackprobe_settings
    template = s.project_dir / s.profile.stack.env_template if s.profile.stack.env_template else None
    if s.host:
        from stackprobe.targets.ssh import mirror_config_inputs

        mirrored: ConfigInputs = mirror_config_inputs(request.getfixturevalue("target"), template,
                                                      tmp_path_factory.mktemp("config-mirror"))
        return mirrored
    env_file = s.env_file
    if env_file is None and template is not None and template.is_file():
        env_file = tmp_path_factory.mktemp("config") / ".env"
        write_env(env_file, generated_from_template(template))
    return ConfigInputs(env_file=env_file, template=template, compose_files=s.compose_files,
                        project_dir=s.project_dir, shell=dict(os.environ))


@pytest.fixture(scope="session")
def config_check(config_inputs: ConfigInputs, stackprobe_settings: RunSettings) -> ConfigCheck:
    """Every file check under the profile's policies; files compose rejects are one line."""
    try:
        return check_config(config_inputs, policies(stackprobe_settings.profile))
    except ConfigInputError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def config_findings(config_check: ConfigCheck) -> list[Finding]:
    return config_check.findings


def assert_control_clean(control: str, findings: list[Finding], evidence: Evidence) -> None:
    mine = [f for f in findings if f.control == control]
    evidence.record("findings", [str(f) for f in mine])
    located = [where for f in mine if (where := f.located()) is not None]
    if located:  # file and line, for the SARIF export (stackprobe.report.sarif)
        evidence.record("locations", located)
    assert not mine, "; ".join(f"{f.subject}: {f.message}" for f in mine)

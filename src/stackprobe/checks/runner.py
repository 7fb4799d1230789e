"""Every file-side config check in one call: what the config suite and the defect matrix run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stackprobe.checks.compose_fallbacks import check_fallback_defaults, check_literal_secrets, compose_variables
from stackprobe.checks.compose_policy import (
    check_compose_healthchecks,
    check_compose_structure,
    check_log_limits,
    check_published_ports,
    check_restart_policies,
)
from stackprobe.checks.compose_render import render_compose
from stackprobe.checks.envchecks import (
    check_env_file_permissions,
    check_production_flags,
    check_template_keys,
    check_unknown_keys,
)
from stackprobe.checks.envparity import ParserDifference, check_parser_parity, env_parser_differences
from stackprobe.checks.envread import read_env_file
from stackprobe.checks.findings import Finding, at_env_keys
from stackprobe.checks.policies import Policies
from stackprobe.checks.secret_exposure import check_secrets_in_commands
from stackprobe.checks.secrets import (
    check_bcrypt_rounds,
    check_passwords,
    check_secret_key,
)


@dataclass(frozen=True)
class ConfigInputs:
    env_file: Path
    template: Path
    compose_files: Sequence[Path]
    project_dir: Path | None = None
    # Extra environment for compose (None: only what the docker CLI needs).
    environ: Mapping[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ConfigCheck:
    """What the file checks found, and where python-dotenv and compose read the env file
    differently (key names and the kind of difference only: never a value)."""

    findings: list[Finding]
    parser_differences: list[ParserDifference] = field(default_factory=list)

    def parser_notes(self) -> list[str]:
        return [difference.describe() for difference in self.parser_differences]


def check_config(inputs: ConfigInputs, policies: Policies) -> ConfigCheck:
    """ENV-01..03, SEC-01..07, CMP-01, LOG-06, CTR-02/03 on the files; no Docker engine.

    Raises ConfigInputError when an input cannot be read or compose rejects the files.
    """
    env_policy, compose_policy = policies.env, policies.compose
    env = read_env_file(inputs.env_file)
    template = read_env_file(inputs.template)
    # Whatever the template ships is a placeholder by definition.
    secret_policy = policies.secrets.with_defaults(template.values.values())
    files = list(inputs.compose_files)
    found = check_template_keys(env, template, env_policy)
    found += check_unknown_keys(env, template, env_policy, compose_variables(files))
    found += check_production_flags(env, env_policy)
    found += check_env_file_permissions(inputs.env_file, env_policy)
    model = render_compose(files, inputs.env_file, inputs.project_dir, environ=inputs.environ)
    names = [*(model.get("services") or {}), str(model.get("name") or "")]
    found += check_secret_key(env.values, secret_policy.with_names(names, env.values))
    found += check_passwords(env.values, secret_policy.with_names(names, env.values))
    found += check_bcrypt_rounds(env.values, secret_policy)
    differences = env_parser_differences(env)
    found += check_parser_parity(differences, secret_policy)
    # every finding so far is about the env file: those about a key point at the line binding it
    found = at_env_keys(found, str(inputs.env_file), env.lines)
    found += check_fallback_defaults(files, secret_policy)
    found += check_literal_secrets(files, secret_policy)
    model = render_compose(files, inputs.env_file, inputs.project_dir, environ=inputs.environ)
    found += check_compose_structure(model, compose_policy, files)
    found += check_published_ports(model, compose_policy)
    found += check_log_limits(model, compose_policy)
    found += check_restart_policies(model, compose_policy)
    found += check_compose_healthchecks(model, compose_policy)
    found += check_secrets_in_commands(model, env.values, secret_policy)
    return ConfigCheck(found, differences)


def run_config_checks(inputs: ConfigInputs, policies: Policies) -> list[Finding]:
    """The findings of check_config."""
    return check_config(inputs, policies).findings

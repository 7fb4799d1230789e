"""Every file-side config check in one call: what the config suite and the defect matrix run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stackprobe.absence import NOT_APPLICABLE
from stackprobe.checks.compose_fallbacks import check_fallback_defaults, check_literal_secrets, compose_variables
from stackprobe.checks.compose_policy import (
    check_compose_healthchecks,
    check_compose_structure,
    check_log_limits,
    check_published_ports,
    check_restart_policies,
)
from stackprobe.checks.compose_render import ComposeModel, render_compose
from stackprobe.checks.docker_secrets import secret_file_values
from stackprobe.checks.envchecks import (
    check_env_file_permissions,
    check_production_flags,
    check_template_keys,
    check_unknown_keys,
)
from stackprobe.checks.envparity import ParserDifference, check_parser_parity, env_parser_differences
from stackprobe.checks.envread import EnvFile, read_env_file
from stackprobe.checks.findings import Finding, at_env_keys
from stackprobe.checks.healthchecks import services
from stackprobe.checks.policies import Policies
from stackprobe.checks.secret_exposure import check_secrets_in_commands
from stackprobe.checks.secrets import (
    SecretPolicy,
    check_bcrypt_rounds,
    check_passwords,
    check_secret_key,
)

# ENV-01/02 and SEC-05 judge the env file itself: without one they are not applicable (the same
# one line on each), and SEC-01..03, ENV-03 judge the values written inline in compose instead.
ENV_FILE_CONTROLS = ("ENV-01", "ENV-02", "SEC-05")


@dataclass(frozen=True)
class ConfigInputs:
    env_file: Path | None  # None: the stack has no env file (values inline in compose)
    template: Path | None  # None (or a missing file): the stack ships no env template
    compose_files: Sequence[Path]
    project_dir: Path | None = None
    # Extra environment for compose (None: only what the docker CLI needs).
    environ: Mapping[str, str] | None = field(default=None, repr=False)
    # The environment the stack is started from (the shell): compose interpolates the variables
    # the files use from it before the env file, so the file checks render with them too.
    shell: Mapping[str, str] | None = field(default=None, repr=False)

    def from_shell(self) -> dict[str, str]:
        """The shell's values of the variables the compose files use."""
        return {name: self.shell[name] for name in sorted(compose_variables(list(self.compose_files)))
                if self.shell is not None and name in self.shell}

    def render(self) -> ComposeModel:
        """The compose model as compose renders it when the stack is started: the env file, and
        the shell's values of the variables the files use (raises ConfigInputError)."""
        return render_compose(list(self.compose_files), self.env_file, self.project_dir,
                              environ={**(self.environ or {}), **self.from_shell()})


@dataclass(frozen=True)
class ConfigCheck:
    """What the file checks found, and where python-dotenv and compose read the env file
    differently (key names and the kind of difference only: never a value)."""

    findings: list[Finding]
    parser_differences: list[ParserDifference] = field(default_factory=list)
    # one line when there is no env file: ENV_FILE_CONTROLS report it as not applicable
    no_env_file: str = ""
    # variables compose took from the shell rather than the env file (names only), as evidence
    from_shell: list[str] = field(default_factory=list)

    def parser_notes(self) -> list[str]:
        return [difference.describe() for difference in self.parser_differences]


def check_config(inputs: ConfigInputs, policies: Policies) -> ConfigCheck:
    """ENV-01..03, SEC-01..07, CMP-01, LOG-06, CTR-02/03 on the files; no Docker engine.

    Raises ConfigInputError when an input cannot be read or compose rejects the files.
    """
    env_policy = policies.env
    files = list(inputs.compose_files)
    has_template = inputs.template is not None and inputs.template.is_file()
    template = read_env_file(inputs.template) if has_template and inputs.template else EnvFile(Path(), {})
    # Whatever the template ships is a placeholder by definition.
    secret_policy = policies.secrets.with_defaults(template.values.values())
    shell = inputs.from_shell()
    model = inputs.render()
    names = [*(model.get("services") or {}), str(model.get("name") or "")]
    if inputs.env_file is None:
        return _check_inline(inputs, policies, secret_policy, model, names, sorted(shell))
    env = read_env_file(inputs.env_file)
    found = check_template_keys(env, template, env_policy) if has_template else []
    found += check_unknown_keys(env, template, env_policy, compose_variables(files))
    found += check_production_flags(env, env_policy)
    found += check_env_file_permissions(inputs.env_file, env_policy)
    # a Docker secret's value counts as its variable's, where the env file does not set it
    values = {**secret_file_values(model, secret_policy.secret_keys), **env.values}
    found += check_secret_key(values, secret_policy.with_names(names, values))
    found += check_passwords(values, secret_policy.with_names(names, values))
    found += check_bcrypt_rounds(env.values, secret_policy)
    differences = env_parser_differences(env)
    found += check_parser_parity(differences, secret_policy)
    # every finding so far is about the env file: those about a key point at the line binding it
    found = at_env_keys(found, str(inputs.env_file), env.lines)
    found += _compose_checks(files, model, env.values, policies, secret_policy)
    return ConfigCheck(found, differences, from_shell=sorted(shell))


def _compose_checks(files: Sequence[Path], model: ComposeModel, values: Mapping[str, str | None],
                    policies: Policies, secret_policy: SecretPolicy) -> list[Finding]:
    """SEC-04, SEC-06, SEC-07, CMP-01, LOG-06, CTR-02/03: the compose files and their model."""
    compose_policy = policies.compose
    found = check_fallback_defaults(files, secret_policy)
    found += check_literal_secrets(files, secret_policy)
    found += check_compose_structure(model, compose_policy, files)
    found += check_published_ports(model, compose_policy)
    found += check_log_limits(model, compose_policy)
    found += check_restart_policies(model, compose_policy)
    found += check_compose_healthchecks(model, compose_policy)
    found += check_secrets_in_commands(model, values, secret_policy)
    return found


def inline_environment(model: ComposeModel) -> dict[str, str | None]:
    """The values the services get in the rendered model (a literal `$` written `$$` there);
    the first service's value of a key shared by several."""
    values: dict[str, str | None] = {}
    for spec in services(model).values():
        for key, value in (spec.get("environment") or {}).items():
            values.setdefault(str(key), None if value is None else str(value).replace("$$", "$"))
    return values


def _check_inline(inputs: ConfigInputs, policies: Policies, secret_policy: SecretPolicy, model: ComposeModel,
                  names: list[str], from_shell: list[str]) -> ConfigCheck:
    """No env file: SEC-01..03 and ENV-03 judge the values compose gives the services."""
    files = list(inputs.compose_files)
    values = {**secret_file_values(model, secret_policy.secret_keys), **inline_environment(model)}
    inline = EnvFile(files[0], values)
    policy = secret_policy.with_names(names, values)
    found = check_production_flags(inline, policies.env)
    found += check_secret_key(values, policy)
    found += check_passwords(values, policy)
    found += check_bcrypt_rounds(values, secret_policy)
    found += _compose_checks(files, model, values, policies, secret_policy)
    note = (f"{NOT_APPLICABLE}: the stack has no env file (nor a template to make one); the values the compose "
            "file gives its services are judged instead (SEC-01..04, SEC-07, ENV-03)")
    return ConfigCheck(found, no_env_file=note, from_shell=from_shell)


def run_config_checks(inputs: ConfigInputs, policies: Policies) -> list[Finding]:
    """The findings of check_config."""
    return check_config(inputs, policies).findings

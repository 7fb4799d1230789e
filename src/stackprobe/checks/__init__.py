"""Config checks as plain library code: env files, secrets, compose policy.

Each check takes parsed inputs and a policy and returns Findings (empty when the control
holds); inputs that cannot be read raise ConfigInputError, one line naming input and fix.
No pytest here: the config suite wraps these in tests, the defect matrix runs them bare.
"""

from __future__ import annotations

from stackprobe.checks.compose_fallbacks import (
    Substitution,
    check_fallback_defaults,
    check_literal_secrets,
    compose_variables,
    substitutions,
)
from stackprobe.checks.compose_policy import (
    ComposePolicy,
    ServiceRoles,
    check_compose_healthchecks,
    check_compose_structure,
    check_log_limits,
    check_published_ports,
    check_restart_policies,
    image_pin,
    restart_policy,
)
from stackprobe.checks.compose_render import ComposeModel, render_compose
from stackprobe.checks.entropy import class_counts, estimate_entropy_bits
from stackprobe.checks.envfile import (
    EnvFile,
    EnvPolicy,
    ParserDifference,
    ParserDifferenceWarning,
    check_env_file_permissions,
    check_file_mode,
    check_parser_parity,
    check_production_flags,
    check_template_keys,
    check_unknown_keys,
    compare_parsers,
    compose_env_values,
    env_parser_differences,
    environment_overrides,
    format_env_file,
    format_env_value,
    is_portable,
    parse_env_text,
    parser_differences,
    read_env_file,
)
from stackprobe.checks.findings import ConfigInputError, Finding
from stackprobe.checks.healthchecks import (
    Healthcheck,
    HealthcheckBounds,
    check_healthchecks,
    healthchecks,
    is_noop,
    parse_duration,
)
from stackprobe.checks.policies import Policies, compose_policy, env_policy, policies, secret_policy, service_roles
from stackprobe.checks.runner import ConfigCheck, ConfigInputs, check_config, run_config_checks
from stackprobe.checks.secret_exposure import check_secrets_in_commands
from stackprobe.checks.secrets import (
    SecretPolicy,
    check_bcrypt_rounds,
    check_passwords,
    check_secret_key,
    generate_secret,
)

__all__ = [
    "ComposeModel",
    "ComposePolicy",
    "ConfigCheck",
    "ConfigInputError",
    "ConfigInputs",
    "EnvFile",
    "EnvPolicy",
    "Finding",
    "Healthcheck",
    "HealthcheckBounds",
    "ParserDifference",
    "ParserDifferenceWarning",
    "Policies",
    "SecretPolicy",
    "ServiceRoles",
    "Substitution",
    "check_bcrypt_rounds",
    "check_compose_healthchecks",
    "check_compose_structure",
    "check_config",
    "check_env_file_permissions",
    "check_fallback_defaults",
    "check_file_mode",
    "check_healthchecks",
    "check_literal_secrets",
    "check_log_limits",
    "check_parser_parity",
    "check_passwords",
    "check_production_flags",
    "check_published_ports",
    "check_restart_policies",
    "check_secret_key",
    "check_secrets_in_commands",
    "check_template_keys",
    "check_unknown_keys",
    "class_counts",
    "compare_parsers",
    "compose_env_values",
    "compose_policy",
    "compose_variables",
    "env_parser_differences",
    "env_policy",
    "environment_overrides",
    "estimate_entropy_bits",
    "format_env_file",
    "format_env_value",
    "generate_secret",
    "healthchecks",
    "image_pin",
    "is_noop",
    "is_portable",
    "parse_duration",
    "parse_env_text",
    "parser_differences",
    "policies",
    "read_env_file",
    "render_compose",
    "restart_policy",
    "run_config_checks",
    "secret_policy",
    "service_roles",
    "substitutions",
]

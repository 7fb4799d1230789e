"""Env files: reading (python-dotenv), compose's reading, and the env-file controls.

One import path for everything about env files; each part lives in its own module.
"""

from __future__ import annotations

from stackprobe.checks.envchecks import (
    COMPOSE_OWN_VARIABLES,
    EnvPolicy,
    check_env_file_permissions,
    check_file_mode,
    check_production_flags,
    check_template_keys,
    check_unknown_keys,
)
from stackprobe.checks.envformat import format_env_file, format_env_value, is_portable
from stackprobe.checks.envparity import (
    ParserDifference,
    ParserDifferenceWarning,
    check_parser_parity,
    compare_parsers,
    compose_env_values,
    env_parser_differences,
    environment_overrides,
    parser_differences,
)
from stackprobe.checks.envread import EnvFile, parse_env_text, read_env_file

__all__ = [
    "COMPOSE_OWN_VARIABLES",
    "EnvFile",
    "EnvPolicy",
    "ParserDifference",
    "ParserDifferenceWarning",
    "check_env_file_permissions",
    "check_file_mode",
    "check_parser_parity",
    "check_production_flags",
    "check_template_keys",
    "check_unknown_keys",
    "compare_parsers",
    "compose_env_values",
    "env_parser_differences",
    "environment_overrides",
    "format_env_file",
    "format_env_value",
    "is_portable",
    "parse_env_text",
    "parser_differences",
    "read_env_file",
]

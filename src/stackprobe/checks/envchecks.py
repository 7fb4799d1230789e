"""Env-file controls: ENV-01 completeness, ENV-02 unknown keys, ENV-03 production flags,
SEC-05 file mode and owner."""

from __future__ import annotations

import difflib
import os
import pwd
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from stackprobe.checks.envread import EnvFile
from stackprobe.checks.findings import ConfigInputError, Finding

# Variables compose itself reads from the env file: legitimate without being in the template.
COMPOSE_OWN_VARIABLES = frozenset(
    {
        "COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PATH_SEPARATOR",
        "COMPOSE_ENV_FILES", "COMPOSE_IGNORE_ORPHANS", "COMPOSE_REMOVE_ORPHANS",
        "COMPOSE_PARALLEL_LIMIT", "COMPOSE_ANSI", "COMPOSE_STATUS_STDOUT", "COMPOSE_MENU",
        "COMPOSE_PROGRESS", "COMPOSE_EXPERIMENTAL", "COMPOSE_BAKE",
        "COMPOSE_CONVERT_WINDOWS_PATHS",
    }
)


@dataclass(frozen=True)
class EnvPolicy:
    """What a good env file looks like. Defaults fit the reference stack."""

    # Template keys that may be empty or absent (none in the reference template).
    optional_keys: frozenset[str] = frozenset()
    # Keys allowed beyond the template (besides the variables the compose files use).
    extra_keys: frozenset[str] = COMPOSE_OWN_VARIABLES
    environment_key: str = "ENVIRONMENT"
    production_values: frozenset[str] = frozenset({"production", "prod"})
    # docker-compose.yml defaults ENVIRONMENT to production, so unset means production.
    unset_environment_is_production: bool = True
    # When set, ENVIRONMENT must be exactly this (a production profile sets "production").
    expected_environment: str | None = None
    debug_key: str = "DEBUG"
    # Explicitly off; the backend treats only 1/true/yes/on as on, but anything else
    # ("Flase", "disabled") is a typo waiting to be "fixed" into True.
    debug_off_values: frozenset[str] = frozenset({"false", "0", "no", "off"})
    log_level_key: str = "LOG_LEVEL"
    # DEBUG logs request bodies and SQL; NOTSET in Python logging means everything.
    production_forbidden_log_levels: frozenset[str] = frozenset({"DEBUG", "TRACE", "NOTSET"})
    # Permission bits the env file may have at most: 0o600 (owner read/write). A deploy
    # group that must read it sets 0o640.
    env_file_max_mode: int = 0o600
    # Owner names allowed; None means root or the user running the check (the deploying
    # user, who created the file).
    env_file_owners: tuple[str, ...] | None = None
    # Misspelling suggestions: difflib ratio needed to say "did you mean".
    suggestion_cutoff: float = 0.75
    template_name: str = field(default=".env.example")


def _where(env: EnvFile, key: str) -> str:
    line = env.lines.get(key)
    return f" (line {line})" if line else ""


def check_template_keys(env: EnvFile, template: EnvFile, policy: EnvPolicy) -> list[Finding]:
    """ENV-01: every key of the template present and non-empty."""
    found = []
    for key in template.values:
        if key in policy.optional_keys:
            continue
        if key not in env.values:
            found.append(Finding("ENV-01", key, (
                f"{key} is missing from {env.path.name}; the template {template.path.name} "
                "defines it and the stack needs a value"
            )))
        elif not env.get(key):
            found.append(Finding("ENV-01", key, (
                f"{key} is present but empty{_where(env, key)}; expected a value "
                f"(the template {template.path.name} defines it)"
            )))
    return found


def _suggestion(key: str, known: Iterable[str], cutoff: float) -> str:
    by_upper = {name.upper(): name for name in known}
    close = difflib.get_close_matches(key.upper(), list(by_upper), n=1, cutoff=cutoff)
    return f"; did you mean {by_upper[close[0]]}?" if close else ""


def check_unknown_keys(
    env: EnvFile,
    template: EnvFile,
    policy: EnvPolicy,
    compose_variables: Iterable[str] = (),
) -> list[Finding]:
    """ENV-02: no key the template lacks (misspellings get a suggestion); no duplicates.

    `compose_variables` (the variables the compose files interpolate) are allowed too:
    a key the stack reads is not unknown even when the template leaves it to its default.
    """
    known = set(template.values) | set(policy.extra_keys) | set(compose_variables)
    found = []
    for key in env.values:
        if key not in known:
            hint = _suggestion(key, known, policy.suggestion_cutoff)
            found.append(Finding("ENV-02", key, (
                f"{key}{_where(env, key)} is not in the template {template.path.name} "
                f"nor used by the compose files; nothing reads it{hint}"
            )))
    for key, lines in env.duplicates.items():
        found.append(Finding("ENV-02", key, (
            f"{key} is defined {len(lines)} times (lines {', '.join(map(str, lines))}); "
            "only the last one counts: keep one"
        )))
    return found


def check_production_flags(env: EnvFile, policy: EnvPolicy) -> list[Finding]:
    """ENV-03: in production, DEBUG off and LOG_LEVEL not DEBUG (nor ENVIRONMENT wrong)."""
    found = []
    environment = env.get(policy.environment_key)
    if policy.expected_environment is not None and environment != policy.expected_environment:
        shown = repr(environment) if environment else "unset"
        found.append(Finding("ENV-03", policy.environment_key, (
            f"{policy.environment_key} is {shown}; this target must run "
            f"{policy.expected_environment!r}"
        )))
    production = environment.lower() in policy.production_values or (
        not environment and policy.unset_environment_is_production
    )
    if not production:
        return found
    # Empty or missing values fall back to the compose defaults (DEBUG False, LOG_LEVEL
    # INFO); ENV-01 reports the missing value itself.
    debug = env.get(policy.debug_key)
    if debug and debug.strip().lower() not in policy.debug_off_values:
        found.append(Finding("ENV-03", policy.debug_key, (
            f"{policy.debug_key} is {debug!r}{_where(env, policy.debug_key)} in production; "
            f"expected one of {', '.join(sorted(policy.debug_off_values))}"
        )))
    level = env.get(policy.log_level_key)
    if level and level.strip().upper() in policy.production_forbidden_log_levels:
        found.append(Finding("ENV-03", policy.log_level_key, (
            f"{policy.log_level_key} is {level!r}{_where(env, policy.log_level_key)} in "
            "production; expected INFO or quieter (DEBUG logs request data)"
        )))
    return found


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def check_file_mode(subject: str, mode: int, owner: str, policy: EnvPolicy) -> list[Finding]:
    """SEC-05 on already-collected facts (a remote target stats the file its own way)."""
    found = []
    mode = stat.S_IMODE(mode)
    extra = mode & ~policy.env_file_max_mode
    if extra:
        who = [name for bit, name in ((0o070, "group"), (0o007, "others"), (0o100, "execute"))
               if extra & bit]
        found.append(Finding("SEC-05", subject, (
            f"{subject} has mode {mode:04o}, which gives {' and '.join(who) or 'extra'} "
            f"access; expected at most {policy.env_file_max_mode:04o} "
            f"(chmod {policy.env_file_max_mode:o} {subject})"
        )))
    allowed = policy.env_file_owners
    if allowed is None:
        allowed = ("root", _owner_name(os.geteuid()))
    if owner not in allowed:
        found.append(Finding("SEC-05", subject, (
            f"{subject} is owned by {owner!r}; expected one of {', '.join(sorted(set(allowed)))}"
        )))
    return found


def check_env_file_permissions(path: Path, policy: EnvPolicy) -> list[Finding]:
    """SEC-05: the env file is not readable by group or others, and owned as policy says."""
    try:
        facts = path.stat()  # follows a symlink: compose reads the target
    except FileNotFoundError:
        raise ConfigInputError(f"env file {path} does not exist: pass the right path") from None
    except OSError as error:
        raise ConfigInputError(
            f"env file {path} cannot be examined ({error.strerror}): check its directory"
        ) from None
    return check_file_mode(str(path), facts.st_mode, _owner_name(facts.st_uid), policy)

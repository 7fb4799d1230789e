"""Every check policy from a profile, in one place: the only adapter between the profile's
sections and the checks' policies.

The file checks, the in-effect checks and the logs suite all take their policies from
`policies()`, so one profile setting changes every verdict that depends on it. An empty
profile gives exactly the built-in policies. Nothing outside tests constructs a policy itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stackprobe.checks.compose_policy import ComposePolicy, ServiceRoles
from stackprobe.checks.envchecks import COMPOSE_OWN_VARIABLES, EnvPolicy
from stackprobe.checks.hardening import HardeningPolicy
from stackprobe.checks.hardening_runner import HardeningSettings
from stackprobe.checks.healthchecks import HealthcheckBounds
from stackprobe.checks.secrets import PLACEHOLDER_PATTERNS, SEED_DEFAULTS, SecretPolicy
from stackprobe.profile import ConfigSection, Profile, SecretsSection


@dataclass(frozen=True)
class Policies:
    """What the profile expects of the env file, the secrets and the compose model."""

    env: EnvPolicy
    secrets: SecretPolicy
    compose: ComposePolicy


def secret_policy(section: SecretsSection) -> SecretPolicy:
    """SEC-01..04, SEC-07 thresholds; known defaults and placeholders extend the built-in ones."""
    return SecretPolicy(
        secret_key=section.secret_key,
        password_keys=tuple(section.password_keys),
        other_secret_keys=tuple(section.other_secret_keys),
        secret_key_min_length=section.secret_key_min_length,
        secret_key_min_entropy_bits=section.secret_key_min_entropy_bits,
        password_min_length=section.password_min_length,
        password_min_entropy_bits=section.password_min_entropy_bits,
        min_char_classes=section.min_char_classes,
        required_char_classes=tuple(section.required_char_classes),
        known_defaults=SEED_DEFAULTS | frozenset(section.known_defaults),
        placeholder_patterns=(*PLACEHOLDER_PATTERNS, *section.placeholder_patterns),
        secret_name_pattern=section.secret_name_pattern,
        not_secret_pattern=section.not_secret_pattern,
        bcrypt_key=section.bcrypt_key,
        min_bcrypt_rounds=section.min_bcrypt_rounds,
        search_min_length=section.search_min_length,
        search_min_entropy_bits=section.search_min_entropy_bits,
    )


def env_policy(section: ConfigSection) -> EnvPolicy:
    """ENV-01..03 and SEC-05 expectations; extra keys extend compose's own variables."""
    return EnvPolicy(
        optional_keys=frozenset(section.optional_keys),
        extra_keys=COMPOSE_OWN_VARIABLES | frozenset(section.extra_keys),
        environment_key=section.environment_key,
        production_values=frozenset(v.lower() for v in section.production_values),
        unset_environment_is_production=section.unset_environment_is_production,
        expected_environment=section.expected_environment or None,
        debug_key=section.debug_key,
        debug_off_values=frozenset(v.strip().lower() for v in section.debug_off_values),
        log_level_key=section.log_level_key,
        production_forbidden_log_levels=frozenset(v.strip().upper() for v in section.forbidden_log_levels),
        env_file_max_mode=section.env_file_max_mode,
        env_file_owners=tuple(section.env_file_owners) or None,
    )


def service_roles(profile: Profile) -> ServiceRoles:
    """The compose services playing the database, cache and backend parts ([services])."""
    return profile.services


def compose_policy(profile: Profile) -> ComposePolicy:
    """CMP-01, SEC-06, LOG-06, CTR-02/03 expectations: [services], [compose], [containers]."""
    compose, containers = profile.compose, profile.containers
    return ComposePolicy(
        roles=service_roles(profile),
        allowed_host_ips=tuple(compose.allowed_host_ips),
        require_digest=compose.require_digest,
        database_data_dirs=tuple(compose.database_data_dirs),
        cache_data_dirs=tuple(compose.cache_data_dirs),
        backend_data_dirs=tuple(compose.backend_data_dirs),
        restart_policies=tuple(containers.restart_policies),
        one_shot_services=tuple(containers.one_shot_services),
        log_remote_drivers=tuple(compose.log_remote_drivers),
        log_require_max_file=compose.log_require_max_file,
        healthcheck=HealthcheckBounds(
            max_interval_s=containers.healthcheck_max_interval_s,
            max_timeout_s=containers.healthcheck_max_timeout_s,
            min_retries=containers.healthcheck_min_retries,
            max_retries=containers.healthcheck_max_retries,
        ),
    )


def policies(profile: Profile, placeholders: Iterable[str | None] = ()) -> Policies:
    """Every policy the profile sets. `placeholders` are the env template's values: whatever
    a template ships is a placeholder by definition, on the file side and in effect alike."""
    return Policies(
        env=env_policy(profile.config),
        secrets=secret_policy(profile.secrets).with_defaults(placeholders),
        compose=compose_policy(profile),
    )


def hardening_settings(profile: Profile) -> HardeningSettings:
    """HRD-01..10 from [hardening]; HRD-09 names secrets with the [secrets] policy."""
    section = profile.hardening
    policy = HardeningPolicy(
        root_allowed=dict(section.root_allowed),
        capabilities={service: tuple(caps) for service, caps in section.capabilities.items()},
        require_cap_drop_all=section.require_cap_drop_all,
        host_paths=tuple(section.host_paths),
        memory_max_mb=section.memory_max_mb,
        pids_max=section.pids_max,
        read_only={service: tuple(paths) for service, paths in section.read_only.items()},
    )
    return HardeningSettings(
        policy=policy,
        pinning="digest" if section.pinning == "digest" else "version",
        min_version_parts=section.min_version_parts,
        hadolint_threshold=section.hadolint_threshold,
        hadolint_ignore=tuple(section.hadolint_ignore),
        secrets=secret_policy(profile.secrets),
    )

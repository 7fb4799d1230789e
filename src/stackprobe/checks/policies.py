"""The config checks' policies from a profile: [secrets] for SecretPolicy, [config] for EnvPolicy.

Both the file checks and the in-effect checks take their policies from here, so one profile
threshold changes both verdicts. An empty profile gives exactly the built-in policies.
"""

from __future__ import annotations

from stackprobe.checks.envchecks import COMPOSE_OWN_VARIABLES, EnvPolicy
from stackprobe.checks.secrets import PLACEHOLDER_PATTERNS, SEED_DEFAULTS, SecretPolicy
from stackprobe.profile import ConfigSection, Profile, SecretsSection


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


def config_policies(profile: Profile) -> tuple[EnvPolicy, SecretPolicy]:
    """The env-file and secret policies a profile sets."""
    return env_policy(profile.config), secret_policy(profile.secrets)

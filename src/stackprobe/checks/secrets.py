"""Secret strength: SEC-01 SECRET_KEY, SEC-02 passwords (and reuse), SEC-03 BCRYPT_ROUNDS.

Findings name secrets by key, length and character-class counts, never by value.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stackprobe.checks.entropy import class_counts
from stackprobe.checks.findings import Finding
from stackprobe.checks.guessability import estimate_strength
from stackprobe.redact import NAME_KEY, too_weak_to_redact
from stackprobe.secret_names import NOT_SECRET_NAME_PATTERN, SECRET_NAME_PATTERN, SecretNames, plain_value
from stackprobe.wordlists import common_password_list

# The seed runbook's own example values: copied into real .env files all the time.
SEED_DEFAULTS = frozenset({
    "your-secret-key-change-in-production-min-32-chars",
    "change-this-secret-key-in-production",
    "rootpassword",
    "your-secure-root-password",
    "your-secure-password",
    "your-dashscope-api-key",
})
# Text that marks a value as "fill me in", wherever it appears (case-insensitive).
PLACEHOLDER_PATTERNS = (
    r"change[-_ .]?(?:me|this|it)", r"your[-_ .]", r"example", r"x{3,}", r"placeholder",
    r"replace[-_ .]?me", r"dummy", r"insecure", r"^<.*>$", r"^\$\{.*\}$",
    r"^(?:test|demo|sample|todo|tbd|fixme)",
)


@dataclass(frozen=True)
class SecretPolicy:
    """What a strong secret is. Defaults fit the reference stack.

    - SECRET_KEY signs sessions and tokens offline, where an attacker can guess at GPU
      speed: at least 32 characters and 128 estimated bits (a random 24-byte base64 or
      32-byte hex key clears it easily; 16 bytes of hex sits right at it).
    - Passwords are guessed online against MySQL/Redis, but also offline from leaked
      hashes: at least 16 characters and 80 estimated bits (16 random URL-safe characters
      give about 95).
    - Two character classes at least: hex keys from `openssl rand -hex` are excellent and
      have only two; the entropy estimate does the real work, classes only catch
      all-digit or all-lowercase values. `required_char_classes` (none by default) names
      classes every secret must have, for policies that demand them.
    - bcrypt cost 12 (OWASP's floor for bcrypt; 10, the library default, is too cheap).

    A profile's [secrets] section sets every field (stackprobe.checks.policies); messages
    name the profile key of the threshold a value missed.
    """

    secret_key: str = "SECRET_KEY"
    password_keys: tuple[str, ...] = ("MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "REDIS_PASSWORD")
    # Other secrets (API keys): checked for placeholders and reuse, not for strength,
    # since their format is the issuer's.
    other_secret_keys: tuple[str, ...] = ("DASHSCOPE_API_KEY",)
    secret_key_min_length: int = 32
    secret_key_min_entropy_bits: float = 128.0
    password_min_length: int = 16
    password_min_entropy_bits: float = 80.0
    min_char_classes: int = 2
    required_char_classes: tuple[str, ...] = ()
    # Besides these, every whole value in zxcvbn's dictionaries (leaked passwords, words, names).
    known_defaults: frozenset[str] = SEED_DEFAULTS
    placeholder_patterns: tuple[str, ...] = PLACEHOLDER_PATTERNS
    # Names treated as secrets wherever they appear (compose fallbacks, exposure checks, the
    # redactor), unless the name or the value has a non-secret shape (stackprobe.secret_names).
    secret_name_pattern: str = SECRET_NAME_PATTERN
    not_secret_pattern: str = NOT_SECRET_NAME_PATTERN
    bcrypt_key: str = "BCRYPT_ROUNDS"
    min_bcrypt_rounds: int = 12
    # Searched for (logs, image files, process arguments) only when this long and strong.
    search_min_length: int = 12
    search_min_entropy_bits: float = 40.0
    # Names the stack uses (services, users, databases, the project): guessable words, and a
    # secret equal to one cannot be redacted inside other text.
    stack_names: frozenset[str] = frozenset()

    @property
    def secret_keys(self) -> tuple[str, ...]:
        return (self.secret_key, *self.password_keys, *self.other_secret_keys)

    @property
    def names(self) -> SecretNames:
        """The one judgement of a secret key, with this policy's patterns and named keys."""
        return SecretNames(self.secret_name_pattern, self.not_secret_pattern, frozenset(self.secret_keys))

    def is_secret_name(self, name: str, value: str | None = None) -> bool:
        """Whether `name` (holding `value`, when known) is a secret; see stackprobe.secret_names."""
        return self.names.is_secret(name, value)

    def with_names(self, services: Iterable[str], values: Mapping[str, str | None]) -> SecretPolicy:
        """This policy, knowing the stack's names: `services`, and the values of keys that name
        things (MYSQL_USER, MYSQL_DATABASE, COMPOSE_PROJECT_NAME, ...) in `values`."""
        # a key that names a secret is never a name, whatever else it says (DB_PASSWORD)
        named = {value for key, value in values.items()
                 if value and NAME_KEY.search(key) and not self.is_secret_name(key)}
        return dataclasses.replace(self, stack_names=self.stack_names | frozenset(services) | named)

    def with_defaults(self, values: Iterable[str | None]) -> SecretPolicy:
        """This policy, also rejecting `values` (e.g. every value of .env.example)."""
        extra = {value for value in values if value}
        return dataclasses.replace(self, known_defaults=self.known_defaults | extra)

    def is_known_default(self, value: str) -> bool:
        folded = value.strip().casefold()
        return any(folded == known.casefold() for known in self.known_defaults) or bool(
            common_password_list(value)
        )

    def looks_like_placeholder(self, value: str) -> bool:
        return any(re.search(p, value, re.I) for p in self.placeholder_patterns)

    def is_distinctive(self, value: str) -> bool:
        """Whether finding `value` in a log line, an image file or a process's arguments means
        the secret is there: 48 x `a` is in every other binary, by accident."""
        value = value.strip()
        return (len(value) >= self.search_min_length and not plain_value(value)
                and estimate_strength(value).bits >= self.search_min_entropy_bits)


def describe_classes(value: str) -> str:
    counts = class_counts(value)
    plural = "class" if len(counts) == 1 else "classes"
    return f"{len(counts)} character {plural} ({', '.join(f'{n} {c}' for c, n in counts.items())})"


def weaknesses(
    value: str, min_length: int, min_bits: float, policy: SecretPolicy, kind: str = "password"
) -> list[str]:
    """Why `value` is not a strong secret; each reason is safe to print and names the
    profile key of the threshold it missed (`kind`: "secret_key" or "password")."""
    if not value:
        return [f"is empty or missing; policy needs at least {min_length} random characters"]
    if policy.is_known_default(value):
        return ["is a known default, template placeholder or common password"]
    reasons = []
    if policy.looks_like_placeholder(value):
        reasons.append("looks like a placeholder")
    if len(value) < min_length:
        reasons.append(
            f"{len(value)} characters, policy needs at least {min_length} ([secrets] {kind}_min_length)"
        )
    strength = estimate_strength(value, policy.stack_names)
    if strength.bits < min_bits:
        patterns = strength.describe()
        reasons.append(
            f"about {strength.bits:.0f} bits of estimated entropy, policy needs {min_bits:.0f} "
            f"([secrets] {kind}_min_entropy_bits)" + (f"; {patterns}" if patterns else "")
        )
    counts = class_counts(value)
    if len(counts) < policy.min_char_classes:
        reasons.append(
            f"{describe_classes(value)}, policy needs {policy.min_char_classes} ([secrets] min_char_classes)"
        )
    if why := too_weak_to_redact(value, policy.stack_names):
        reasons.append(
            f"too weak to be kept secret in outputs ({why}): it is redacted only where it stands "
            "whole (KEY=value, a URL's password, an Authorization header), not inside other text"
        )
    if not policy.is_distinctive(value):
        reasons.append(
            f"too weak to search for in images and logs (needs {policy.search_min_length} characters "
            f"and {policy.search_min_entropy_bits:.0f} bits: [secrets] search_min_length, search_min_entropy_bits)"
        )
    missing = [name for name in policy.required_char_classes if name not in counts]
    if missing:
        reasons.append(
            f"no {', '.join(missing)} characters; policy requires {', '.join(policy.required_char_classes)} "
            "([secrets] required_char_classes)"
        )
    return reasons


def _value(values: Mapping[str, str | None], key: str) -> str:
    return values.get(key) or ""


def check_secret_key(values: Mapping[str, str | None], policy: SecretPolicy) -> list[Finding]:
    """SEC-01: SECRET_KEY long, high-entropy, not a placeholder or known default."""
    key = policy.secret_key
    reasons = weaknesses(
        _value(values, key), policy.secret_key_min_length, policy.secret_key_min_entropy_bits,
        policy, "secret_key",
    )
    return [Finding("SEC-01", key, f"{key}: {'; '.join(reasons)}")] if reasons else []


def check_passwords(values: Mapping[str, str | None], policy: SecretPolicy) -> list[Finding]:
    """SEC-02: passwords strong and not defaults; no secret reused between services."""
    found = []
    for key in policy.password_keys:
        reasons = weaknesses(
            _value(values, key), policy.password_min_length, policy.password_min_entropy_bits,
            policy,
        )
        if reasons:
            found.append(Finding("SEC-02", key, f"{key}: {'; '.join(reasons)}"))
    for key in policy.other_secret_keys:
        value = _value(values, key)
        if value and (policy.is_known_default(value) or policy.looks_like_placeholder(value)):
            found.append(Finding("SEC-02", key, f"{key}: is a placeholder or known default"))
    holders: dict[str, list[str]] = {}
    for key in policy.secret_keys:
        if value := _value(values, key):
            holders.setdefault(value, []).append(key)
    for keys in holders.values():
        if len(keys) > 1:
            found.append(Finding("SEC-02", "+".join(keys), (
                f"{' and '.join(keys)} have the same value; each service needs its own "
                "secret, so one leak does not open the others"
            )))
    return found


def check_bcrypt_rounds(values: Mapping[str, str | None], policy: SecretPolicy) -> list[Finding]:
    """SEC-03: BCRYPT_ROUNDS an integer, at least the policy's minimum, at most bcrypt's 31.

    Empty or missing means the compose default (12) applies; ENV-01 reports the gap.
    """
    key = policy.bcrypt_key
    raw = _value(values, key).strip()
    if not raw:
        return []
    try:
        rounds = int(raw)
    except ValueError:
        return [Finding("SEC-03", key, (
            f"{key} is {raw!r}; expected an integer of at least {policy.min_bcrypt_rounds}"
        ))]
    if rounds < policy.min_bcrypt_rounds:
        return [Finding("SEC-03", key, (
            f"{key} is {rounds}; policy needs at least {policy.min_bcrypt_rounds} "
            f"([secrets] min_bcrypt_rounds; each step doubles an attacker's cost)"
        ))]
    if rounds > 31:
        return [Finding("SEC-03", key, f"{key} is {rounds}; bcrypt accepts at most 31")]
    return []


# URL-safe: survives env files, shells, URLs and YAML without quoting.
_ALPHABET = string.ascii_letters + string.digits + "-_"
_BITS_PER_CHAR = 5.0


def generate_secret(length: int = 48, policy: SecretPolicy | None = None) -> str:
    """A random URL-safe secret that passes SEC-01/SEC-02 under `policy` (default: the
    built-in one).

    Drawn with `secrets` and redrawn until it has lower case, upper case and digits (and a
    symbol, `-` or `_`, when the policy requires that class), no placeholder-looking text and
    at least 5 estimated bits per character (so 16 characters clear the password bar and 32
    the SECRET_KEY bar). Given a policy, it is at least as long as the policy's longest minimum.
    """
    if length < 16:
        raise ValueError(f"a secret needs at least 16 characters, got {length}")
    # (the estimate reads at most 256 characters)
    bits = _BITS_PER_CHAR * min(length, 256)
    if policy is None:
        policy = SecretPolicy()
    else:  # a profile's policy: one secret fit for any role, as long and as strong as its strictest
        length = max(length, policy.secret_key_min_length, policy.password_min_length)
        bits = max(_BITS_PER_CHAR * min(length, 256), policy.secret_key_min_entropy_bits,
                   policy.password_min_entropy_bits)
    wanted = {"lower", "upper", "digit"} | ({"symbol"} & set(policy.required_char_classes))
    for _ in range(10_000):
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if (
            wanted <= set(class_counts(candidate))
            and not policy.looks_like_placeholder(candidate)
            and not policy.is_known_default(candidate)
            # both estimates agree: the per-character one and zxcvbn's patterns (the lower)
            and estimate_strength(candidate).bits >= bits
        ):
            return candidate
    raise ValueError(f"no {length}-character URL-safe secret meets the policy (classes {sorted(wanted)}, "
                     f"{bits:g} bits): relax [secrets] in the profile")

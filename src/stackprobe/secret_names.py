"""Whether a key holds a secret: the one judgement SEC-01..04, SEC-07, LOG-05 and the redactor share.

A key is a secret when its name says so (`name_pattern`) and it is not a known non-secret shape:
- by name (`not_secret_pattern`): durations, counts, limits, sizes, flags, hosts, ports, paths,
  names: `ACCESS_TOKEN_EXPIRE_DAYS`, `TONGYI_MAX_TOKENS`, `AUTH_ENABLED`, `SECRET_KEY_FILE`;
- by value, when the value is known: purely numeric (`2000`; but under a password's name it is a
  weak password), a duration (`30s`, `7d`), a boolean (`true`, `off`), a URL without userinfo
  (`https://auth.example.com/`).
Flags named after a password (`MYSQL_RANDOM_ROOT_PASSWORD=yes`) are flags by their RANDOM/EMPTY word.
A URL with a password (`redis://:pw@cache`) or a secret-named query parameter (`?token=...`) is a
secret whatever its key's shape. Keys listed in `always` count whatever their shape or value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

SECRET_NAME_PATTERN = (r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|CREDENTIAL|AUTH"
                       r"|(?:^|_)(?:PW|PWD|PASS)(?=_|$|\d)")
# One underscore-separated word of the name (MAX in TONGYI_MAX_TOKENS, DAYS in ..._EXPIRE_DAYS).
NOT_SECRET_NAME_PATTERN = (
    r"(?:^|_)(?:EXPIRE[SD]?|EXPIRY|EXPIRATION|LIFETIME|TTL|AGE|TIMEOUT|INTERVAL|DELAY|PERIOD"
    r"|MS|MILLISECONDS?|SECS?|SECONDS?|MINS?|MINUTES?|HOURS?|DAYS?|WEEKS?"
    r"|MAX|MIN|COUNT|LIMIT|SIZE|LENGTH|LEN|ROUNDS|RETRIES|ATTEMPTS|NUM|NUMBER"
    r"|ENABLED?|DISABLED?|REQUIRED|ALLOW|ALLOWED|RANDOM|EMPTY|SKIP"
    r"|URL|URI|ENDPOINT|HOST|HOSTNAME|PORT|PATH|FILE|DIR|DIRECTORY"
    r"|NAME|USER|USERNAME|HEADER|ALGORITHM|ALG|TYPE|SCHEME|PREFIX|ISSUER|AUDIENCE)(?=_|$)"
)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[._]\d+)*|\d*\.\d+)")
_DURATION = re.compile(
    r"(?:\d+(?:\.\d+)?\s*(?:ns|us|µs|ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?"
    r"|d|days?|w|wk|weeks?|y|years?))+", re.I)
_BOOLEAN = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled"})
# A numeric value under a password's name is a (weak) password, not a count: SEC-02 judges it.
_PASSWORD_WORD = re.compile(r"PASSWORD|PASSWD|PASSPHRASE|(?:^|_)(?:PASS|PWD?|PIN)(?=_|$|\d)", re.I)
_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.I)


def plain_value(value: str) -> bool:
    """Whether `value` has a shape no secret has: a number, a duration, a boolean."""
    value = value.strip().strip("'\"")
    return bool(_NUMBER.fullmatch(value) or _DURATION.fullmatch(value) or value.casefold() in _BOOLEAN)


@dataclass(frozen=True)
class SecretNames:
    """What counts as a secret key ([secrets] secret_name_pattern, not_secret_pattern, and the
    keys the profile names, `always`)."""

    name_pattern: str = SECRET_NAME_PATTERN
    not_secret_pattern: str = NOT_SECRET_NAME_PATTERN
    always: frozenset[str] = frozenset()

    def with_keys(self, keys: Iterable[str]) -> SecretNames:
        return SecretNames(self.name_pattern, self.not_secret_pattern, self.always | frozenset(keys))

    def is_secret(self, key: str, value: str | None = None) -> bool:
        """Whether `key` (holding `value`, when known) is a secret."""
        if key in self.always:
            return True
        if not re.search(self.name_pattern, key, re.I):
            return False
        if value is not None and value.strip():
            if _URL.match(value.strip()):
                return _url_holds_secret(value.strip(), self.name_pattern)
            if plain_value(value) and not _numeric_password(key, value.strip()):
                return False
        return not (self.not_secret_pattern and re.search(self.not_secret_pattern, key, re.I))


def is_password_name(key: str) -> bool:
    """A password's name (MYSQL_PASSWORD, DB_PASS, NOTES_ROOT_PW), not a token's or a key's."""
    return bool(_PASSWORD_WORD.search(key))


def _numeric_password(key: str, value: str) -> bool:
    # 0/1 under MYSQL_RANDOM_ROOT_PASSWORD is a flag; 4 digits and more a PIN-like password
    return len(value) >= 4 and bool(_NUMBER.fullmatch(value)) and is_password_name(key)


def _url_holds_secret(url: str, name_pattern: str) -> bool:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # a malformed port or netloc: judged as opaque text
        return True
    if password or (parts.username and "@" in parts.netloc):
        return True
    return any(re.search(name_pattern, name, re.I) for name, _ in parse_qsl(parts.query))


# The built-in judgement (a profile's [secrets] section replaces it for the run).
DEFAULT_NAMES = SecretNames()

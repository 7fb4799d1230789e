"""SEC-07 (file side): no secret on a command line or baked into an image.

Healthcheck tests, commands and entrypoints end up in `docker inspect` and, while they
run, in every local user's `ps`; build args end up in the image history. A secret there
is exposed whether it was written literally, interpolated from the env file, or expanded
by the container's shell (`-p$$MYSQL_ROOT_PASSWORD`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from stackprobe.checks.findings import Finding
from stackprobe.checks.healthchecks import services
from stackprobe.checks.secrets import SecretPolicy

# Shorter values would match by accident; SEC-02 fails them anyway.
MIN_SECRET_LENGTH = 6

_CLIENT_CUT = r"[^;&|\n]*?"
# Each pattern captures the password argument as `arg`.
PASSWORD_ARGUMENTS = (
    (re.compile(
        rf"(?:^|[\s;&|(/])(?:mysql|mysqladmin|mysqldump|mysqlcheck|mysqlshow|mariadb"
        rf"(?:-admin|-dump|-check)?){_CLIENT_CUT}\s-p(?P<arg>\S+)"
    ), "a MySQL client -p<password> argument"),
    (re.compile(r"--password(?:=|\s+)(?P<arg>[^-\s]\S*)"), "a --password argument"),
    (re.compile(rf"\bredis-cli\b{_CLIENT_CUT}\s(?:-a|--pass)\s+(?P<arg>\S+)"),
     "a redis-cli -a <password> argument"),
    (re.compile(r"--requirepass\s+(?P<arg>\S+)"), "a --requirepass argument"),
    (re.compile(rf"\bcurl\b{_CLIENT_CUT}\s(?:-u|--user)\s*[^\s:]+:(?P<arg>\S+)"),
     "curl -u user:password"),
    (re.compile(r"://[^/\s:@]*:(?P<arg>[^@\s/]+)@"), "credentials in a URL"),
)
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def argument_reasons(text: str, policy: SecretPolicy) -> list[str]:
    """Password arguments on a command line, naming the secret variable they expand if any."""
    reasons = []
    for pattern, what in PASSWORD_ARGUMENTS:
        for match in pattern.finditer(text):
            names = [n for n in _VARIABLE.findall(match.group("arg")) if policy.is_secret_name(n)]
            source = f" expanding ${names[0]}" if names else ""
            reasons.append(f"passes {what}{source}")
    return reasons


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(part) for part in value)
    return "" if value is None else str(value)


def _places(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(where, text, is a command line) for every place a secret must not be."""
    yield "healthcheck test", _text((spec.get("healthcheck") or {}).get("test")), True
    yield "command", _text(spec.get("command")), True
    yield "entrypoint", _text(spec.get("entrypoint")), True
    build = spec.get("build")
    args = build.get("args") if isinstance(build, Mapping) else None
    for arg, value in (args or {}).items():
        yield f"build arg {arg} (kept in the image history)", _text(value), False
    for label, value in (spec.get("labels") or {}).items():
        yield f"label {label}", _text(value), False


def collect_secret_values(
    sources: Iterable[Mapping[str, Any]], is_secret: Callable[[str, str], bool], min_length: int = MIN_SECRET_LENGTH
) -> dict[str, str]:
    """value -> key name (the first key that holds it), for every secret-named value."""
    found: dict[str, str] = {}
    for source in sources:
        for key, value in source.items():
            text = str(value or "")
            if len(text) >= min_length and not text.isdigit() and is_secret(str(key), text):
                found.setdefault(text, str(key))
    return found


def secret_values(
    env: Mapping[str, str | None], model: Mapping[str, Any], policy: SecretPolicy
) -> dict[str, str]:
    """value -> key name, for every secret of the env file and the services' environments."""
    # The rendered model writes a literal `$` as `$$`; the env file's values are literal.
    rendered = [{key: str(value or "").replace("$$", "$") for key, value in (spec.get("environment") or {}).items()}
                for spec in services(model).values()]
    return collect_secret_values([env, *rendered], policy.is_secret_name)


def check_secrets_in_commands(
    model: Mapping[str, Any], env: Mapping[str, str | None], policy: SecretPolicy
) -> list[Finding]:
    """SEC-07: no secret value or password argument in commands, healthchecks, build args."""
    values = secret_values(env, model, policy)
    found = []
    for name, spec in services(model).items():
        for where, raw, is_command in _places(spec):
            text = raw.replace("$$", "$")
            reasons = [f"contains the value of {key}" for value, key in values.items()
                       if value in text]
            if is_command:
                reasons += argument_reasons(text, policy)
            if reasons:
                found.append(Finding("SEC-07", name, (
                    f"{name} {where}: {'; '.join(sorted(set(reasons)))}; anyone who can run "
                    "`docker inspect`, `docker history` or `ps` reads it: pass secrets through "
                    "the environment or a file (MYSQL_PWD, REDISCLI_AUTH, a config file)"
                )))
    return found

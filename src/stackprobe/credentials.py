"""The backend's own database account, from where the stack keeps it: a URL variable
(DATABASE_URL-style, parsed with the standard library) or a user and a password variable, each
looked up in the backend container's environment first, then in the env file, then as a Docker
secret (`NAME_FILE` in the container's environment naming a file in it, the convention of the
official database images). Every answer says which source it read, so a message can name it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from stackprobe.profile import DatabaseSection


@dataclass(frozen=True)
class AppAccount:
    user: str
    password: str = field(repr=False)
    database: str  # "" when the source does not say
    source: str  # e.g. "backend environment DATABASE_URL", "env file MYSQL_USER"
    password_source: str = ""  # where the password was read, when not with the user (a URL has both)


def variable_names(name: str) -> tuple[str, ...]:
    """`name` and the other name of the same database variable: the official mariadb image reads
    MARIADB_X and MYSQL_X alike (MARIADB_X winning), so a profile's MYSQL_PASSWORD finds a stack's
    MARIADB_PASSWORD and the other way round."""
    if name in _TWINS:
        return name, _TWINS[name]
    for mine, other in (("MYSQL_", "MARIADB_"), ("MARIADB_", "MYSQL_")):
        if name.startswith(mine):
            return name, other + name[len(mine):]
    return (name,)


# the one pair whose two names differ past the prefix
_TWINS = {"MYSQL_ALLOW_EMPTY_PASSWORD": "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD",
          "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": "MYSQL_ALLOW_EMPTY_PASSWORD"}


def lookup_variable(name: str, env: Mapping[str, str]) -> tuple[str, str]:
    """(value, the name it was found under) of variable `name` or its MARIADB_/MYSQL_ twin in
    `env`; ("", "") when neither is set."""
    for key in variable_names(name):
        if env.get(key):
            return env[key], key
    return "", ""


# a path in the container -> the file's content ("" when it cannot be read)
SecretFileReader = Callable[[str], str]


def secret_file_of(name: str, env: Mapping[str, str]) -> tuple[str, str]:
    """(path, the name it was found under) of `name`'s Docker secret: `NAME_FILE` (or its
    MARIADB_/MYSQL_ twin) in `env`; ("", "") when there is none."""
    return lookup_variable(f"{name}_FILE", env)


def _lookup(name: str, backend_env: Mapping[str, str], file_env: Mapping[str, str],
            read_file: SecretFileReader | None) -> tuple[str, str]:
    """(value, where) of variable `name`; ("", "") when no place has it."""
    for env, place in ((backend_env, "backend environment"), (file_env, "env file")):
        value, key = lookup_variable(name, env)
        if value:
            return value, f"{place} {key}"
    path, key = secret_file_of(name, backend_env)
    if path and read_file is not None:
        value = read_file(path)
        if value:
            return value, f"backend secret file {key}={path}"
    return "", ""


def parse_database_url(url: str) -> tuple[str, str, str]:
    """(user, password, database) of `dialect+driver://user:password@host:port/database?...`."""
    parts = urlsplit(url)
    return unquote(parts.username or ""), unquote(parts.password or ""), unquote(parts.path.lstrip("/"))


def app_account(cfg: DatabaseSection, backend_env: Mapping[str, str], file_env: Mapping[str, str],
                read_file: SecretFileReader | None = None) -> AppAccount:
    """The account the backend connects with; user "" when no source names one. `read_file`
    reads a Docker secret in the backend's container (None: secrets are not looked at)."""
    def lookup(name: str) -> tuple[str, str]:
        return _lookup(name, backend_env, file_env, read_file) if name else ("", "")

    if cfg.url_env:
        url, where = lookup(cfg.url_env)
        if url:
            user, password, database = parse_database_url(url)
            return AppAccount(user, password, database, where)
    user, user_where = lookup(cfg.user_env)
    password, password_where = lookup(cfg.password_env)
    database, _ = lookup(cfg.database_env)
    return AppAccount(user, password, database, user_where, password_where)


def missing_account(cfg: DatabaseSection) -> str:
    """One line for a backend whose account no source names, with the fix."""
    names = " or ".join(n for n in (cfg.url_env, cfg.user_env) if n) or "no variable"
    hint = "" if cfg.url_env else ('; if the backend gets a URL, set [database] url_env (e.g. "DATABASE_URL")')
    return (f"found no database account for the backend: neither its environment nor the env file has {names}"
            f"{hint}")

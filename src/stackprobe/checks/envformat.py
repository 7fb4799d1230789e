"""Writing env files that python-dotenv and docker compose read back identically.

The two parsers agree on unquoted words, on double quotes with `\\`, `\\"` and `\\n`-style
escapes, and on single quotes without backslashes. They cannot agree on a value with a
`$` that also needs escaping: compose interpolates `$` in double quotes (and turns `\\$`
and `$$` into `$`), python-dotenv keeps `\\$` and `$$` as written and expands `${...}`
even in single quotes. Such values are written the way python-dotenv reads them back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Characters both parsers take literally in an unquoted value.
_PLAIN = re.compile(r"[A-Za-z0-9_.,:/@%+=~-]+")
_DOUBLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_portable(value: str) -> bool:
    """Whether some quoting makes both parsers read exactly `value`."""
    if "$" not in value:
        return True
    return "'" not in value and "\\" not in value and "${" not in value


def _double_quoted(value: str) -> str:
    return '"' + "".join(_DOUBLE_ESCAPES.get(char, char) for char in value) + '"'


def _single_quoted(value: str) -> str:
    # python-dotenv decodes \\ and \' inside single quotes.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def format_env_value(value: str) -> str:
    """The right-hand side of `KEY=...` for `value`."""
    if value == "" or _PLAIN.fullmatch(value):
        return value
    if "$" not in value:
        return _double_quoted(value)
    return _single_quoted(value)


def format_env_file(values: Mapping[str, str], export: frozenset[str] = frozenset()) -> str:
    """A whole env file; keys in `export` get the shell-style `export ` prefix."""
    lines = []
    for key, value in values.items():
        if not KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a portable env key ([A-Za-z_][A-Za-z0-9_]*)")
        prefix = "export " if key in export else ""
        lines.append(f"{prefix}{key}={format_env_value(value)}\n")
    return "".join(lines)

"""Writing env files that docker compose reads back exactly, and python-dotenv too where it can.

Both parsers agree on unquoted words and on double quotes with `\\\\`, `\\"`, `\\n`, `\\r`,
`\\t` escapes, as long as the value has no `$`. A `$` needs care: compose interpolates it
in double quotes (`\\$` keeps it literal there, but python-dotenv keeps the backslash);
only single quotes stop compose, and there both read `\\'` as a quote but differ on `\\\\`,
python-dotenv reads a bare carriage return as a newline and expands `${NAME}` even in
single quotes. A value with `$` that single quotes cannot carry goes in double quotes with
`\\$`: compose reads it exactly (and never rejects the file), python-dotenv does not, and
compare_parsers reports that key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Characters both parsers take literally in an unquoted value.
_PLAIN = re.compile(r"[A-Za-z0-9_.,:/@%+=~-]+")
_DOUBLE_ESCAPES = {
    "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "$": "\\$",
}
# What python-dotenv expands (its own pattern), whatever the quotes.
_DOTENV_VARIABLE = re.compile(r"\$\{[^}:]*(?::-[^}]*)?\}")
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_portable(value: str) -> bool:
    """Whether both parsers read exactly `value` back from format_env_value(value)."""
    if "$" not in value:
        return True
    return not (
        "\\\\" in value
        or "\\'" in value
        or value.endswith("\\")
        or "\r" in value
        or _DOTENV_VARIABLE.search(value)
    )


def format_env_value(value: str) -> str:
    """The right-hand side of `KEY=...` for `value`."""
    if value == "" or _PLAIN.fullmatch(value):
        return value
    if "$" in value and is_portable(value):
        return "'" + value.replace("'", "\\'") + "'"
    return '"' + "".join(_DOUBLE_ESCAPES.get(char, char) for char in value) + '"'


def format_env_file(values: Mapping[str, str], export: frozenset[str] = frozenset()) -> str:
    """A whole env file; keys in `export` get the shell-style `export ` prefix."""
    lines = []
    for key, value in values.items():
        if not KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a portable env key ([A-Za-z_][A-Za-z0-9_]*)")
        prefix = "export " if key in export else ""
        lines.append(f"{prefix}{key}={format_env_value(value)}\n")
    return "".join(lines)

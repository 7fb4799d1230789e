"""SEC-04 on the raw compose files: no built-in value for a secret.

The rendered model cannot show this: by the time compose prints it, `${VAR:-default}` has
been replaced by a value. So the files are read as YAML nodes (PyYAML's `compose`: the
document's structure with each node's position, before any value is constructed), and every
scalar value is scanned the way compose's own interpolation reads it: `$$` is a literal
dollar, `${VAR:-x}` and `${VAR-x}` fall back to `x`, `${VAR:?err}` refuses to start without
VAR, `${VAR:+x}` is an alternate value. Only scalar values are read, so comments are never
scanned and text that looks like a comment inside a block scalar (`command: |` with a line
`#${X:-y}`) is scanned, as compose interpolates it.

Lines: a literal block scalar (`|`) maps each of its lines to the file exactly; any other
scalar that spans lines (folded, quoted) is reported at the line it starts on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stackprobe.checks.findings import ConfigInputError, Finding, Location
from stackprobe.checks.secrets import SecretPolicy

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATOR = re.compile(r":?[-?+]")


@dataclass(frozen=True)
class Substitution:
    """One `${NAME<op><word>}` or `$NAME` in a file; `word` is kept out of repr."""

    line: int
    name: str
    operator: str  # "", ":-", "-", ":?", "?", ":+", "+"
    word: str = field(repr=False)

    @property
    def is_fallback(self) -> bool:
        return self.operator in (":-", "-") and self.word != ""


def _closing_brace(text: str, start: int) -> int:
    """Index just past the `}` closing the `${` whose body starts at `start`, or -1."""
    depth, index = 1, start
    while index < len(text):
        if text.startswith("$$", index):
            index += 2
        elif text.startswith("${", index):
            depth, index = depth + 1, index + 2
        elif text[index] == "}":
            depth, index = depth - 1, index + 1
            if depth == 0:
                return index
        else:
            index += 1
    return -1


def substitutions(text: str, first_line: int = 1) -> Iterator[Substitution]:
    """Every interpolation in `text` (one scalar value), nested ones too."""
    index = 0
    while index < len(text):
        if text[index] != "$":
            index += 1
            continue
        line = first_line + text.count("\n", 0, index)
        following = text[index + 1 : index + 2]
        if following == "$":
            index += 2
        elif following == "{":
            end = _closing_brace(text, index + 2)
            if end < 0:
                return  # compose rejects an unclosed ${ itself
            body = text[index + 2 : end - 1]
            name = _NAME.match(body)
            if name:
                rest = body[name.end() :]
                operator = _OPERATOR.match(rest)
                op = operator.group() if operator else ""
                word = rest[len(op) :]
                yield Substitution(line, name.group(), op, word)
                yield from substitutions(word, line + body.count("\n", 0, name.end() + len(op)))
            index = end
        elif name := _NAME.match(text, index + 1):
            yield Substitution(line, name.group(), "", "")
            index = name.end()
        else:
            index += 1


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigInputError(f"compose file {path} does not exist: check --compose-file / "
                               "[stack] compose_files") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8"
        raise ConfigInputError(
            f"compose file {path} cannot be read ({reason}): check the file"
        ) from None


@dataclass(frozen=True)
class Scalar:
    """One scalar value of a compose file, with the line its content starts on (1-based)."""

    line: int
    value: str = field(repr=False)
    # The key it is the value of, when it is one (None in sequences and for keys).
    key: str | None = None
    parent_key: str | None = None


def _walk(node: yaml.Node, key: str | None, parent_key: str | None, seen: set[int]) -> Iterator[Scalar]:
    if id(node) in seen:  # an alias (`*name`) repeats a node already read
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        # A literal block's content starts on the line after its `|` indicator.
        first = node.start_mark.line + (2 if node.style == "|" else 1)
        yield Scalar(first, str(node.value), key, parent_key)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
            yield from _walk(value_node, name, key, seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, None, key, seen)


def scalar_values(path: Path) -> list[Scalar]:
    """Every scalar value in a compose file (mapping keys are not values: compose does not
    interpolate them)."""
    try:
        documents = list(yaml.compose_all(_read(path), Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigInputError(
            f"compose file {path}{where} is not valid YAML ({error.problem}): fix the file"
        ) from None
    except yaml.YAMLError as error:  # the reader's: a control character, an invalid encoding
        raise ConfigInputError(f"compose file {path} is not valid YAML ({error}): fix the file") from None
    seen: set[int] = set()
    return [scalar for document in documents if document for scalar in _walk(document, None, None, seen)]


def file_substitutions(path: Path) -> list[Substitution]:
    return [sub for scalar in scalar_values(path) for sub in substitutions(scalar.value, scalar.line)]


def compose_variables(files: Sequence[Path]) -> frozenset[str]:
    """Every variable the compose files interpolate (for ENV-02: such keys are known)."""
    return frozenset(s.name for path in files for s in file_substitutions(path))


def check_fallback_defaults(files: Sequence[Path], policy: SecretPolicy) -> list[Finding]:
    """SEC-04: no `${SECRET:-default}` / `${SECRET-default}` with a non-empty default."""
    found = []
    for path in files:
        for sub in file_substitutions(path):
            if not (sub.is_fallback and policy.is_secret_name(sub.name, sub.word)):
                continue
            when = "unset or empty" if sub.operator == ":-" else "unset"
            found.append(Finding("SEC-04", f"{path.name}:{sub.line}", (
                f"{path.name} line {sub.line}: ${{{sub.name}{sub.operator}…}} falls back to a "
                f"built-in {len(sub.word)}-character value when {sub.name} is {when}; expected "
                f"${{{sub.name}:?set {sub.name} in .env}} so compose refuses to start without it"
            ), Location(str(path), sub.line)))
    return found


def _environment_entries(scalar: Scalar) -> tuple[str, str] | None:
    """(name, value) of one `environment:` entry: `KEY: value` or `- KEY=value`."""
    if scalar.key is not None and scalar.parent_key == "environment":
        return scalar.key, scalar.value
    if scalar.key is None and scalar.parent_key == "environment" and "=" in scalar.value:
        name, _, value = scalar.value.partition("=")
        return name.strip(), value
    return None


def check_literal_secrets(files: Sequence[Path], policy: SecretPolicy) -> list[Finding]:
    """SEC-04: no secret written into a compose file's `environment:` as a literal value
    (`MARIADB_PASSWORD=ctfd`, `PASSWORD: ctfd`): it belongs in the env file, interpolated.

    Keys and values of a non-secret shape (`*_FILE` naming a Docker secret, yes/no flags,
    counts, durations) hold no secret (stackprobe.secret_names).
    """
    found = []
    for path in files:
        for scalar in scalar_values(path):
            entry = _environment_entries(scalar)
            if entry is None:
                continue
            name, value = entry
            if not value.strip() or "$" in value or not policy.is_secret_name(name, value):
                continue
            found.append(Finding("SEC-04", f"{path.name}:{scalar.line}", (
                f"{path.name} line {scalar.line}: {name} is set to a literal {len(value)}-character "
                f"value in the compose file; expected ${{{name}:?set {name} in .env}} (or {name}_FILE naming "
                "a Docker secret) so the secret lives outside a file that is committed and shared"
            ), Location(str(path), scalar.line)))
    return found

"""SEC-04 on the raw compose files: no built-in fallback value for a secret.

The rendered model cannot show this: by the time compose prints it, `${VAR:-default}` has
been replaced by a value. So the files are scanned as written, the way compose's own
interpolation reads them: `$$` is a literal dollar, `${VAR:-x}` and `${VAR-x}` fall back
to `x`, `${VAR:?err}` refuses to start without VAR, `${VAR:+x}` is an alternate value.
YAML comments are dropped first (a `#` at the start or after a blank, outside quotes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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


def strip_yaml_comments(text: str) -> str:
    """The text with YAML comments blanked out; line numbers stay where they were."""
    lines = []
    for line in text.split("\n"):
        quote, escaped = "", False
        cut = len(line)
        for index, char in enumerate(line):
            if escaped:
                escaped = False
            elif quote:
                if char == "\\" and quote == '"':
                    escaped = True
                elif char == quote:
                    quote = ""
            elif char in "'\"" and (index == 0 or line[index - 1] in " \t[{:,-"):
                quote = char
            elif char == "#" and (index == 0 or line[index - 1] in " \t"):
                cut = index
                break
        lines.append(line[:cut])
    return "\n".join(lines)


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
    """Every interpolation in `text` (comments included: strip them first), nested ones too."""
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
        raise ConfigInputError(f"compose file {path} does not exist: pass the right path") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8"
        raise ConfigInputError(
            f"compose file {path} cannot be read ({reason}): check the file"
        ) from None


def file_substitutions(path: Path) -> list[Substitution]:
    return list(substitutions(strip_yaml_comments(_read(path))))


def compose_variables(files: Sequence[Path]) -> frozenset[str]:
    """Every variable the compose files interpolate (for ENV-02: such keys are known)."""
    return frozenset(s.name for path in files for s in file_substitutions(path))


def check_fallback_defaults(files: Sequence[Path], policy: SecretPolicy) -> list[Finding]:
    """SEC-04: no `${SECRET:-default}` / `${SECRET-default}` with a non-empty default."""
    found = []
    for path in files:
        for sub in file_substitutions(path):
            if not (sub.is_fallback and policy.is_secret_name(sub.name)):
                continue
            when = "unset or empty" if sub.operator == ":-" else "unset"
            found.append(Finding("SEC-04", f"{path.name}:{sub.line}", (
                f"{path.name} line {sub.line}: ${{{sub.name}{sub.operator}…}} falls back to a "
                f"built-in {len(sub.word)}-character value when {sub.name} is {when}; expected "
                f"${{{sub.name}:?set {sub.name} in .env}} so compose refuses to start without it"
            ), Location(str(path), sub.line)))
    return found

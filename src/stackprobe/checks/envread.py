"""Reading an env file the way the stack's tooling does: python-dotenv, strictly.

python-dotenv silently skips lines it cannot parse (it only logs a warning) and silently
returns nothing for a missing file. Either would let a check pass on a file that compose
reads differently or not at all, so both become a ConfigInputError here.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import Binding, parse_stream

from stackprobe.checks.findings import ConfigInputError

_DOTENV_LOGGER = "dotenv.main"


@dataclass(frozen=True)
class EnvFile:
    """An env file as python-dotenv reads it (with `${VAR}` interpolation, like compose).

    `values` maps each key to its value; a bare `KEY` line without `=` gives None.
    `lines` gives the 1-based line where each key is (last) bound, for messages;
    `duplicates` the lines of keys bound more than once (the last binding wins).
    """

    path: Path
    # repr=False: an EnvFile in a failing assertion must not print secrets.
    values: Mapping[str, str | None] = field(repr=False)
    lines: Mapping[str, int] = field(default_factory=dict)
    duplicates: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def get(self, key: str) -> str:
        """The value, or "" when the key is missing or has no value."""
        return self.values.get(key) or ""

    def keys(self) -> list[str]:
        return list(self.values)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _dotenv_warnings() -> Iterator[list[logging.LogRecord]]:
    """Collect python-dotenv's warnings instead of letting them reach the log."""
    logger = logging.getLogger(_DOTENV_LOGGER)
    handler = _Collect()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def binding_line(binding: Binding) -> int:
    """The line a binding's statement really starts on.

    python-dotenv counts from the end of the previous statement, so blank lines before a
    statement shift its reported line (its own warnings are off by that much).
    """
    text = binding.original.string
    leading = text[: len(text) - len(text.lstrip())]
    return binding.original.line + leading.count("\n")


def read_text(path: Path, *, keep_newlines: bool = False) -> str:
    """The file's text; ConfigInputError naming the file and the fix when it cannot be read.

    By default with universal newlines, as python-dotenv's own dotenv_values(path) reads.
    """
    try:
        with path.open(encoding="utf-8", newline="" if keep_newlines else None) as handle:
            return handle.read()
    except FileNotFoundError:
        raise ConfigInputError(
            f"env file {path} does not exist: create it from the template (.env.example) "
            "or pass the right path"
        ) from None
    except IsADirectoryError:
        raise ConfigInputError(
            f"env file {path} is a directory: pass the env file itself"
        ) from None
    except PermissionError:
        raise ConfigInputError(
            f"env file {path} is not readable (permission denied): check its owner and mode"
        ) from None
    except UnicodeDecodeError as error:
        raise ConfigInputError(
            f"env file {path} is not valid UTF-8 (byte {error.start}): save it as UTF-8"
        ) from None
    except OSError as error:
        raise ConfigInputError(
            f"env file {path} cannot be read ({error.strerror}): check the path"
        ) from None


def parse_env_text(text: str, path: Path) -> EnvFile:
    """Parse env-file text; `path` only names the input in errors."""
    bindings = list(parse_stream(io.StringIO(text)))
    with _dotenv_warnings() as warnings:
        values = dotenv_values(stream=io.StringIO(text), interpolate=True)
    bad = [binding_line(b) for b in bindings if b.error]
    if warnings or bad:
        where = f"line {bad[0]}" if bad else "a line"
        raise ConfigInputError(
            f"env file {path} is not valid: {where} cannot be parsed (python-dotenv), "
            "e.g. an unterminated quote or a key with spaces: fix or quote that line"
        )
    lines: dict[str, list[int]] = {}
    for binding in bindings:
        if binding.key is not None:
            lines.setdefault(binding.key, []).append(binding_line(binding))
    return EnvFile(
        path=path,
        values=dict(values),
        lines={key: found[-1] for key, found in lines.items()},
        duplicates={key: tuple(found) for key, found in lines.items() if len(found) > 1},
    )


def read_env_file(path: Path) -> EnvFile:
    """Read an env file with python-dotenv; ConfigInputError when it cannot be read whole."""
    return parse_env_text(read_text(path), path)

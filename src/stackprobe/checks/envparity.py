"""How docker compose reads an env file, and where python-dotenv reads it differently.

stackprobe hands the env file to compose as `--env-file`, which compose uses for `${VAR}`
interpolation of the compose files. So compose's view of a key is observed exactly that
way: a throwaway compose project whose only service sets `KEY: "${KEY-<unset marker>}"`
for every key, rendered with `docker compose --env-file FILE config --format json`.
(A service `env_file:` goes through the same parser, but with a different lookup for
nested `${VAR}`s; `--env-file` is what the stack really gets.)
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import tempfile
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv.parser import parse_stream

from stackprobe.checks._compose_cli import minimal_environment, run_compose
from stackprobe.checks.envformat import KEY
from stackprobe.checks.envread import EnvFile, read_env_file, read_text
from stackprobe.checks.findings import ConfigInputError, Finding
from stackprobe.checks.secrets import SecretPolicy

_ASSIGNMENT = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=", re.M)


def _candidate_keys(text: str) -> set[str]:
    """Every key either parser might see: python-dotenv's keys and every `KEY=` line start."""
    keys = {b.key for b in parse_stream(io.StringIO(text)) if b.key is not None}
    keys |= set(_ASSIGNMENT.findall(text))
    return {key for key in keys if KEY.fullmatch(key)}


def _decode(value: object) -> str:
    # `config` output escapes every literal `$` as `$$` so that it re-interpolates safely.
    return str(value).replace("$$", "$")


def compose_env_values(path: Path) -> dict[str, str]:
    """The value compose interpolates for each key of the env file at `path`.

    Keys that are not valid variable names (compose cannot write `${a.b}`) are absent.
    Compose runs without the caller's environment, which would otherwise override the file.
    """
    path = path.resolve()
    keys = sorted(_candidate_keys(read_text(path)))
    unset = f"__stackprobe_unset_{secrets.token_hex(8)}__"
    probe = {
        "services": {
            "probe": {
                "image": "stackprobe-env-probe",
                "environment": {key: f"${{{key}-{unset}}}" for key in keys},
            }
        }
    }
    with tempfile.TemporaryDirectory(prefix="stackprobe-envprobe-") as tmp:
        compose_file = Path(tmp) / "compose.json"  # JSON is YAML, and needs no quoting rules
        compose_file.write_text(json.dumps(probe), encoding="utf-8")
        out = run_compose(
            [
                "-f", str(compose_file), "--project-directory", tmp,
                "--project-name", "stackprobe-envprobe", "--env-file", str(path),
                "config", "--format", "json",
            ],
            what=f"env file {path}",
            environ=minimal_environment(),
        )
    try:
        rendered = json.loads(out)["services"]["probe"].get("environment") or {}
    except (ValueError, KeyError, TypeError):
        raise ConfigInputError(
            f"docker compose printed no JSON model for env file {path}: "
            "check `docker compose version`"
        ) from None
    values = {str(key): _decode(value) for key, value in rendered.items() if value is not None}
    return {key: value for key, value in values.items() if value != unset}


@dataclass(frozen=True)
class ParserDifference:
    """One key that python-dotenv and compose read differently; never carries a value."""

    key: str
    kind: str  # "value", "only-dotenv", "only-compose", "not-interpolatable"
    hint: str = ""

    def describe(self) -> str:
        text = {
            "value": "python-dotenv and docker compose read different values",
            "only-dotenv": "python-dotenv reads a value, docker compose leaves it unset",
            "only-compose": "docker compose reads a value, python-dotenv does not",
            "not-interpolatable": "not a variable name docker compose can interpolate",
        }[self.kind]
        return f"{self.key}: {text}" + (f" ({self.hint})" if self.hint else "")


class ParserDifferenceWarning(UserWarning):
    """The config suite's note that python-dotenv and compose read some env-file keys
    differently (names only); filter it with `-W ignore::stackprobe.checks.ParserDifferenceWarning`."""


def _hint(raw: str) -> str:
    """Why the parsers disagree on a statement, judged from its text (never quoted)."""
    if "\r" in raw:
        return (
            "carriage return: python-dotenv reads universal newlines, compose keeps \\r in quotes"
        )
    if "$" in raw:
        return (
            "`$`: compose expands $VAR and ${VAR-default} and reads $$ and \\$ as $; "
            "python-dotenv expands only ${VAR} and ${VAR:-default}, also inside single quotes"
        )
    if "\\" in raw:
        return "backslash escapes: compose keeps \\' in double quotes and \\\\ in single quotes"
    if re.search(r"=[ \t]+#", raw):
        return "`KEY= #...`: python-dotenv reads an empty value and a comment, compose a value"
    if "\t#" in raw:
        return "a tab before `#`: python-dotenv starts a comment there, compose only after a space"
    return ""


def parser_differences(
    dotenv: Mapping[str, str | None],
    compose: Mapping[str, str],
    raw: Mapping[str, str],
    shadowed: Collection[str] = (),
) -> list[ParserDifference]:
    """Compare two views of one file; `raw` maps keys to their statement text, for hints;
    `shadowed` names the keys compose's own process environment sets."""
    found: list[ParserDifference] = []
    for key in sorted(set(dotenv) | set(compose)):
        hint = _hint(raw.get(key, ""))
        if key in shadowed:
            hint = "compose's own environment sets it, and that wins over the env file"
        mine, theirs = dotenv.get(key), compose.get(key)
        if not KEY.fullmatch(key):
            if mine is not None:
                found.append(ParserDifference(key, "not-interpolatable"))
        elif mine is None and theirs is None:
            continue
        elif theirs is None:
            found.append(ParserDifference(key, "only-dotenv", hint))
        elif mine is None:
            found.append(ParserDifference(key, "only-compose", hint))
        elif mine != theirs:
            found.append(ParserDifference(key, "value", hint))
    return found


def _raw_statements(env: EnvFile) -> dict[str, str]:
    text = read_text(env.path, keep_newlines=True)
    return {
        b.key: b.original.string for b in parse_stream(io.StringIO(text)) if b.key is not None
    }


def env_parser_differences(env: EnvFile) -> list[ParserDifference]:
    """The keys of an env file (already read with python-dotenv) that compose reads differently."""
    return parser_differences(
        env.values, compose_env_values(env.path), _raw_statements(env), set(minimal_environment())
    )


def compare_parsers(path: Path) -> list[str]:
    """One line per key whose value python-dotenv and compose disagree on (names only)."""
    return [difference.describe() for difference in env_parser_differences(read_env_file(path))]


def check_parser_parity(differences: Iterable[ParserDifference], policy: SecretPolicy) -> list[Finding]:
    """SEC-01/SEC-02: a secret python-dotenv and compose read differently.

    The strength checks judge python-dotenv's reading, the stack gets compose's, and whoever
    copies the secret out of the file (into a client, a vault) has a third: the verdict on that
    secret proves nothing, and the real value may be a truncated, weaker one (`$` expansion).
    Differences on other keys are notes for the report (ENV-02), not failures.
    """
    found = []
    for difference in differences:
        if difference.kind == "not-interpolatable" or not policy.is_secret_name(difference.key):
            continue
        control = "SEC-01" if difference.key == policy.secret_key else "SEC-02"
        found.append(Finding(control, difference.key, (
            f"{difference.describe()}; the stack gets compose's value, so this secret's strength "
            "is unproven and anyone copying it from the file gets another one: use a random "
            "URL-safe value (letters, digits, - and _), which both read alike"
        )))
    return found


def environment_overrides(env: EnvFile, environ: Mapping[str, str] | None = None) -> list[str]:
    """Keys of the env file that the calling environment would override in compose.

    Compose gives the shell's exported variables precedence over --env-file, so an
    exported SECRET_KEY silently replaces the file's one.
    """
    environ = os.environ if environ is None else environ
    return [
        f"{key}: set in the environment running compose, which overrides the env file"
        for key in env.values
        if key in environ
    ]

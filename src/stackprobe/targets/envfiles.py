"""Env files: reading (python-dotenv) and generating an ephemeral copy from the template."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import dotenv_values

from stackprobe.errors import StackprobeUsageError

if TYPE_CHECKING:
    from stackprobe.checks.secrets import SecretPolicy
    from stackprobe.targets.host import Host


def read_env(path: Path, host: Host | None = None) -> dict[str, str]:
    """The env file's values as python-dotenv reads them (no interpolation), from `host`'s disk
    (default: this host)."""
    try:
        content = host.read_file(str(path)) if host is not None else path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise StackprobeUsageError(
            f"env file {path} does not exist: pass --env-file, or copy .env.example to {path.name}"
        ) from None
    except OSError as error:
        raise StackprobeUsageError(f"env file {path} cannot be read: {error}") from None
    try:
        values = dotenv_values(stream=io.StringIO(content.decode("utf-8")), interpolate=False)
    except UnicodeDecodeError as error:
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
    `policy`, the profile's [secrets], so a strict profile does not fail its own copy); nothing
    when the stack ships no template (its values are inline in compose)."""
    from stackprobe.checks.secrets import SecretPolicy, generate_secret

    if not template.is_file():
        return {}
    values = read_env(template)
    judge = policy or SecretPolicy()
    return {k: (generate_secret(policy=policy) if judge.is_secret_name(k, v) else v) for k, v in values.items()}

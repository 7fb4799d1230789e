"""Running `docker compose` for file checks: no engine needed, one-line errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from stackprobe.checks.findings import ConfigInputError

TIMEOUT_S = 60.0

# Compose lets the calling process's environment override every value of --env-file.
# File checks must see the files, not whatever the shell running pytest exports, so
# compose runs with only what the docker CLI needs to find its compose plugin.
_PASSTHROUGH = ("PATH", "HOME", "DOCKER_CONFIG")


def minimal_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: os.environ[key] for key in _PASSTHROUGH if key in os.environ}
    env.update(extra or {})
    return env


# Compose quotes the offending env-file line in its parse errors: that text may be a secret.
# (`failed to read FILE: line N: REASON "LINE"`); the caller names the file already.
_ENV_LINE_ERROR = re.compile(r"^failed to read .*?: (line \d+: [^\"']*?)\s*([\"'].*)?$")


def first_error_line(stderr: str, secrets: Iterable[str] = ()) -> str:
    """Compose's own error line, with known secret values and quoted env lines withheld."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    # Compose prints warnings first; the error that stopped it is the last line.
    line = lines[-1] if lines else "no error message"
    line = _ENV_LINE_ERROR.sub(r"\1", line)
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            line = line.replace(secret, "***")
    return line


def run_compose(
    args: Sequence[str],
    *,
    what: str,
    environ: Mapping[str, str],
    secrets: Iterable[str] = (),
    cwd: Path | None = None,
) -> str:
    """Run `docker compose ARGS` and return stdout; `what` names the input for errors."""
    docker = shutil.which("docker", path=environ.get("PATH"))
    if docker is None:
        raise ConfigInputError(
            "docker CLI not found on PATH: install it with the compose v2 plugin "
            "(`docker compose version` must answer)"
        )
    try:
        done = subprocess.run(
            [docker, "compose", *args],
            capture_output=True,
            text=True,
            env=dict(environ),
            cwd=cwd,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigInputError(
            f"docker compose did not answer within {TIMEOUT_S:.0f} s for {what}: "
            "check that `docker compose version` works"
        ) from None
    if done.returncode != 0:
        reason = first_error_line(done.stderr, secrets)
        if "is not a docker command" in done.stderr:
            reason = "the compose v2 plugin is missing (`docker compose version` fails)"
        raise ConfigInputError(f"docker compose rejects {what}: {reason}")
    return done.stdout

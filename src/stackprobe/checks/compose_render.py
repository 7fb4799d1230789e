"""The compose model as compose itself renders it (`docker compose config`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stackprobe.checks._compose_cli import minimal_environment, run_compose
from stackprobe.checks.envread import read_env_file
from stackprobe.checks.findings import ConfigInputError

ComposeModel = dict[str, Any]


def _known_values(env_file: Path | None) -> list[str]:
    """Every value of the env file, to mask in compose's error line (best effort)."""
    if env_file is None:
        return []
    try:
        return [value for value in read_env_file(env_file).values.values() if value]
    except ConfigInputError:
        return []


def render_compose(
    files: Sequence[Path],
    env_file: Path | None,
    project_dir: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> ComposeModel:
    """`docker compose -f A -f B --env-file E config --format json`, parsed.

    `project_dir` defaults to the first file's directory (compose's own default).
    Compose runs with a minimal environment plus `environ`: the caller's shell would
    otherwise override the env file (pass os.environ to see exactly what `up` sees).
    Without `env_file`, compose reads `.env` in the project directory, as it always does.
    """
    if not files:
        raise ConfigInputError("no compose file given: pass at least one compose file")
    paths = [Path(file).resolve() for file in files]
    for path in paths:
        if not path.is_file():
            raise ConfigInputError(f"compose file {path} does not exist: check --compose-file / [stack] compose_files")
    args: list[str] = []
    for path in paths:
        args += ["-f", str(path)]
    args += ["--project-directory", str((project_dir or paths[0].parent).resolve())]
    if env_file is not None:
        if not env_file.is_file():
            raise ConfigInputError(f"env file {env_file} does not exist: pass the right path")
        args += ["--env-file", str(env_file.resolve())]
    names = " + ".join(path.name for path in paths)
    out = run_compose(
        [*args, "config", "--format", "json"],
        what=f"compose file {names}" + (f" with env file {env_file}" if env_file else ""),
        environ=minimal_environment(environ),
        secrets=_known_values(env_file),
    )
    try:
        model = json.loads(out)
    except ValueError:
        raise ConfigInputError(
            f"docker compose printed no JSON model for {names}: check `docker compose version`"
        ) from None
    if not isinstance(model, dict):
        raise ConfigInputError(f"docker compose printed an unexpected model for {names}")
    return model

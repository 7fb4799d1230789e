"""Throwaway copies of the reference stack for the project's own tests, and suite runs on them.

A copy is an `EphemeralTarget` (unique `spx<pid>x<hex>` project, random secrets, random
loopback ports, migrated) plus `fast-health.yml`, so services report healthy within seconds.
Suites run against it in a subprocess as a *live* target, exactly as a user would point
stackprobe at a running deployment; `TestStack.apply()` recreates chosen services with a
defect override and `TestStack.reset()` puts the reference configuration back.

Share one copy between tests that only read it (the session fixture `shared_stack` in
tests/conftest.py); start your own with `started_stack()` for tests that break it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackprobe.profile import load_profile
from stackprobe.targets.base import load_image_overrides
from stackprobe.targets.envfiles import write_env
from stackprobe.targets.ephemeral import EphemeralTarget

REPO = Path(__file__).resolve().parents[2]
SUITES = "src/stackprobe/suites"  # the suites, as paths from REPO (where suite runs start)
FAST_HEALTH = Path(__file__).with_name("fast-health.yml")
REFERENCE_PROFILE = REPO / "profiles" / "reference.toml"
BASE_COMPOSE = REPO / "docker-compose.yml"
SUITES_DIR = REPO / SUITES  # the checks; the one place tests look for them


@dataclass
class SuiteRun:
    """One pytest subprocess over some suites: exit code, output, per-control statuses."""

    returncode: int
    stdout: str
    stderr: str
    report_dir: Path
    statuses: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)

    def failed(self) -> set[str]:
        return {c for c, s in self.statuses.items() if s in {"failed", "error"}}

    def tail(self, chars: int = 4000) -> str:
        return (self.stdout + self.stderr)[-chars:]


class TestStack:
    """A running copy of the reference stack; `env_file` holds every value compose needs."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, target: EphemeralTarget) -> None:
        self.target = target
        self.project = target.project
        self.compose_files = list(target.compose_files)
        self.env_file = target.state_dir / "live.env"
        write_env(self.env_file, target.env)  # one file: the live target takes one env file
        self.values = dict(target.env)
        # services left running under a defect's override for the next defect to replace
        # (`defect(..., defer_reset=True)`): recreating them from the stack's own files in between
        # would be undone at once. `flush()` resets whatever is left.
        self.deferred: set[str] = set()

    # --- compose ------------------------------------------------------------------------
    def compose_command(self, *args: str, overrides: Sequence[Path] = ()) -> list[str]:
        cmd = ["docker", "compose", "-p", self.project, "--project-directory", str(REPO)]
        for file in [*self.compose_files, *overrides]:
            cmd += ["-f", str(file)]
        return [*cmd, "--env-file", str(self.env_file), *args]

    def compose(self, *args: str, overrides: Sequence[Path] = (), timeout: float = 300,
                check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`env` adds variables for compose's interpolation (e.g. paths an override uses)."""
        result = subprocess.run(self.compose_command(*args, overrides=overrides), cwd=REPO,
                                capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **env} if env else None)
        if check and result.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} exited {result.returncode}: "
                                 f"{result.stderr[-3000:]}")
        return result

    def apply(self, override: Path | Sequence[Path], *services: str, wait: bool = True,
              env: dict[str, str] | None = None, unwaited: Sequence[str] = ()) -> None:
        """Recreate `services` with `override` (one file or several) on top of the stack's compose
        files (services an earlier defect left deferred and this one does not replace are reset
        first); `unwaited` ones too, without waiting for them (e.g. one that crash-loops)."""
        overrides = [override] if isinstance(override, Path) else list(override)
        self.flush(keep=[*services, *unwaited])
        self.deferred -= {*services, *unwaited}
        args = ["up", "-d", "--no-deps", "--force-recreate"]
        for names, waits in ((services, wait), (unwaited, False)):
            if names:
                self.compose(*args, *(["--wait"] if waits else []), *names, overrides=overrides,
                             timeout=300, check=True, env=env)

    def flush(self, keep: Sequence[str] = ()) -> None:
        """Reset the deferred services (except `keep`, which the caller is about to replace)."""
        if stale := sorted(self.deferred - set(keep)):
            self.reset(*stale)
            self.deferred -= set(stale)

    def reset(self, *services: str) -> None:
        """Recreate `services` (default: all) from the stack's own compose files, healthy."""
        self.compose("up", "-d", "--no-deps", "--force-recreate", "--wait", *services, timeout=300)

    @contextmanager
    def defect(self, override: Path | Sequence[Path], *services: str, wait: bool = True,
               env: dict[str, str] | None = None, defer_reset: bool = False,
               unwaited: Sequence[str] = ()) -> Iterator[None]:
        """The stack with `override` (one file or several) applied to `services` (and `unwaited`,
        see `apply`); reset afterwards, also on failure. Services that only the overrides define
        are removed, the others recreated; with `defer_reset`, a clean exit leaves them for the
        next `apply` or `flush` to replace."""
        overrides = [override] if isinstance(override, Path) else list(override)
        changed = [*services, *unwaited]
        clean = False
        try:
            self.apply(overrides, *services, wait=wait, env=env, unwaited=unwaited)
            yield
            clean = True
        finally:
            own = set(self.compose("config", "--services").stdout.split())
            extra = [s for s in changed if s not in own]
            if extra:
                self.compose("rm", "--stop", "--force", *extra, overrides=overrides, env=env)
            if kept := [s for s in changed if s in own]:
                if defer_reset and clean:
                    self.deferred |= set(kept)
                else:
                    self.reset(*kept)

    def script(self, name: str, *args: str, env: dict[str, str] | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """One of the stack's own scripts (stack/scripts/NAME) pointed at this copy."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "BACKUP_", "STACKPROBE_"))}
        base.update({"STACK_ENV_FILE": str(self.env_file), "COMPOSE_PROJECT_NAME": self.project,
                     "COMPOSE_FILE": ":".join(str(f) for f in self.compose_files), **(env or {})})
        return subprocess.run([str(REPO / "stack" / "scripts" / name), *args], env=base, capture_output=True,
                              text=True, timeout=timeout, cwd=REPO)

    def backups(self, directory: Path) -> Path:
        """`directory` filled by the stack's backup.sh as its scheduled job would (the deployment's
        backup directory for suites that read one)."""
        done = self.script("backup.sh", env={"BACKUP_DIR": str(directory)})
        if done.returncode != 0:
            raise AssertionError(f"backup.sh exited {done.returncode}: {done.stderr[-2000:]}")
        return directory

    # --- suites -------------------------------------------------------------------------
    def suite_args(self, overrides: Sequence[Path] = ()) -> list[str]:
        """Options that point stackprobe at this copy as a live target."""
        args = ["--target", "live", "--project-name", self.project, "--env-file", str(self.env_file)]
        for file in [*self.compose_files, *overrides]:
            args += ["--compose-file", str(file)]
        return args

    def run_suite(self, *paths: str, report_dir: Path, extra: Sequence[str] = (),
                  overrides: Sequence[Path] = (), profile: Path = REFERENCE_PROFILE,
                  env: dict[str, str] | None = None, timeout: float = 900) -> SuiteRun:
        return run_pytest(*paths, "--profile", str(profile), *self.suite_args(overrides), *extra,
                          report_dir=report_dir, env=env, timeout=timeout)


def run_pytest(*args: str, report_dir: Path, env: dict[str, str] | None = None,
               timeout: float = 900) -> SuiteRun:
    """pytest in a subprocess from the repository root; statuses read from results.json."""
    report_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args,
         f"--report-dir={report_dir}"],
        cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "STACKPROBE_"))},
             **(env or {})},
    )
    run = SuiteRun(done.returncode, done.stdout, done.stderr, report_dir)
    found = sorted(report_dir.glob("*/results.json"), key=lambda p: p.stat().st_mtime)
    if found:
        run.results = json.loads(found[-1].read_text())
        run.statuses = {cid: c["status"] for cid, c in run.results.get("controls", {}).items()}
    return run


@contextmanager
def started_stack(*overrides: Path, env: dict[str, str] | None = None) -> Iterator[TestStack]:
    """A fresh copy of the reference stack (plus `overrides`), removed afterwards whatever happens.

    `env` overrides values of the generated env file (e.g. a small LOG_MAX_BYTES)."""
    load_image_overrides(REPO)
    profile = load_profile(REFERENCE_PROFILE)
    target = EphemeralTarget(profile, REPO, [BASE_COMPOSE, FAST_HEALTH, *overrides], None)
    if env:
        target.env.update(env)
        write_env(target.env_files[0], {k: v for k, v in target.env.items()
                                        if k not in _overlay_keys(target)})
    started = time.monotonic()
    try:
        target.start()
        stack = TestStack(target)
        stack.started_in_s = time.monotonic() - started  # type: ignore[attr-defined]
        yield stack
    finally:
        target.stop()


def _overlay_keys(target: EphemeralTarget) -> set[str]:
    from stackprobe.targets.envfiles import read_env

    return set(read_env(target.env_files[-1]))

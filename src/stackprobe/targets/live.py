"""A running deployment on this host: attach by project name; never start, stop or recreate."""

from __future__ import annotations

from pathlib import Path

from stackprobe.errors import StackprobeUsageError
from stackprobe.profile import Profile
from stackprobe.targets.base import Target
from stackprobe.targets.envfiles import read_env
from stackprobe.targets.host import Host, LocalHost

# compose verbs that change state: a live target refuses them
_MUTATING = {"up", "down", "start", "stop", "restart", "rm", "kill", "pause", "unpause", "create",
             "run", "build", "pull", "push", "scale", "exec"}


class LiveTarget(Target):
    kind = "live"

    def __init__(
        self, profile: Profile, project_dir: Path, compose_files: list[Path], env_file: Path | None,
        project: str, host: Host | None = None,
    ) -> None:
        """`env_file` None: the stack has none ([stack] env_file = ""), its values are inline in compose."""
        host = host or LocalHost()
        env = read_env(env_file, host) if env_file is not None else {}
        super().__init__(profile, project, project_dir, compose_files, [env_file] if env_file else [], env, host)

    def attach(self) -> None:
        running = [c for c in self.containers() if c.status == "running"]
        if not running:
            raise StackprobeUsageError(
                f"live project {self.project!r} is not running on this host: start it "
                "(with its own deploy command, or `docker compose up -d`) or pass --project-name of a running project"
            )
        self.learn_secrets()

    @staticmethod
    def _refuse_mutating(args: tuple[str, ...]) -> None:
        # Any word, not only the first: global options may come before the verb
        # (`--ansi never up`). A service named like a verb is refused too: an error, never a write.
        verbs = [word for word in args if word in _MUTATING]
        if verbs:
            raise PermissionError(f"live target: refusing `docker compose {' '.join(args)}` "
                                  f"({verbs[0]} changes the deployment; a live target is read-only)")

    def compose(self, *args: str, check: bool = True, timeout: float = 600):  # type: ignore[no-untyped-def]
        self._refuse_mutating(args)
        return super().compose(*args, check=check, timeout=timeout)

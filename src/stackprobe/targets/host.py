"""The host the stack runs on, one seam for every suite: this host, or a remote one over the
OpenSSH master connection of an SSH live target. A target *holds* a host; what the target is
(ephemeral, live) and how it is reached (locally, over SSH) are separate.

Nothing secret goes on a command line: variables given to `run` over SSH are passed as
`env NAME=VALUE` arguments on the remote side, so only paths and names belong there.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stackprobe.commands import CommandRun, run_command
from stackprobe.errors import StackprobeUsageError

# find's -printf: name, size, mtime (seconds since the epoch), octal mode, type letter
FIND_FORMAT = r"%f\t%s\t%T@\t%m\t%y\n"
_KINDS = {"f": "file", "d": "dir", "l": "link"}


@dataclass(frozen=True)
class FileEntry:
    """One entry directly in a directory."""

    name: str
    size: int
    mtime: float
    mode: int  # permission bits only
    kind: str  # file | dir | link | other

    @property
    def is_file(self) -> bool:
        return self.kind == "file"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "mode": f"{self.mode:04o}", "kind": self.kind,
                "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.mtime))}


def parse_find_listing(output: str) -> list[FileEntry]:
    """Entries from `find DIR -mindepth 1 -maxdepth 1 -printf FIND_FORMAT` (names with tabs or
    newlines are not backup names; such lines are skipped)."""
    entries = []
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) != 5:
            continue
        name, size, mtime, mode, kind = parts
        try:
            entries.append(FileEntry(name, int(size), float(mtime), int(mode, 8), _KINDS.get(kind, "other")))
        except ValueError:
            continue
    return sorted(entries, key=lambda e: e.name)


class Host(Protocol):
    """The machine the stack runs on, as every check reaches it: this host or one over SSH.
    Suites never ask which; they run commands, read and write files and signal processes here."""

    label: str
    remote: bool

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None,
            timeout: float = 600.0) -> CommandRun: ...

    def now(self) -> float: ...

    def listdir(self, path: str) -> list[FileEntry] | None: ...

    def mkdtemp(self, prefix: str) -> str: ...

    def remove_tree(self, path: str) -> None: ...

    def write_file(self, path: str, data: bytes, mode: int = 0o600, mtime: float | None = None) -> None: ...

    def read_file(self, path: str) -> bytes: ...

    def kill(self, pid: int, prefix: Sequence[str] = ()) -> None:
        """SIGKILL a process of the host by its host pid (`docker inspect -f {{.State.Pid}}`);
        `prefix` (e.g. sudo -n) when the user may not signal Docker's processes."""
        ...

    def forward_unix(self, path: str) -> Path:
        """A local path that reaches the host's Unix socket `path` (the Docker engine's)."""
        ...


def _clean_environ(extra: Mapping[str, str] | None) -> dict[str, str]:
    """The caller's environment minus anything that would point compose or stackprobe elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "STACKPROBE_", "BACKUP_"))}
    env.update(extra or {})
    return env


class LocalHost:
    """This host."""

    label = "this host"
    remote = False

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None,
            timeout: float = 600.0) -> CommandRun:
        return run_command(list(argv), cwd=Path(cwd or "/"), env=_clean_environ(env), timeout=timeout)

    def now(self) -> float:
        return time.time()

    def listdir(self, path: str) -> list[FileEntry] | None:
        if not os.path.isdir(path):
            return None
        entries = []
        with os.scandir(path) as found:
            for item in found:
                try:
                    info = item.stat(follow_symlinks=False)
                except FileNotFoundError:  # gone since it was listed (a busy /tmp): not there
                    continue
                kind = ("link" if item.is_symlink() else "dir" if item.is_dir()
                        else "file" if item.is_file() else "other")
                entries.append(FileEntry(item.name, info.st_size, info.st_mtime, info.st_mode & 0o7777, kind))
        return sorted(entries, key=lambda e: e.name)

    def mkdtemp(self, prefix: str) -> str:
        return tempfile.mkdtemp(prefix=prefix)  # 0700

    def remove_tree(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def write_file(self, path: str, data: bytes, mode: int = 0o600, mtime: float | None = None) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(path, mode)
        if mtime is not None:
            os.utime(path, (mtime, mtime))

    def read_file(self, path: str) -> bytes:
        return Path(path).read_bytes()

    def kill(self, pid: int, prefix: Sequence[str] = ()) -> None:
        if prefix:
            _kill_with(self, pid, prefix)
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            raise RuntimeError(f"no process {pid} on {self.label} (the container exited already?)") from None
        except PermissionError:
            raise StackprobeUsageError(
                f"not allowed to kill process {pid} on {self.label} (it belongs to Docker's root): run as root "
                "or set [chaos] host_command_prefix = [\"sudo\", \"-n\"]") from None

    def forward_unix(self, path: str) -> Path:
        return Path(path)


class SshHost:
    """A remote host, through the OpenSSH master connection of an SSH live target."""

    remote = True

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.label = str(channel.spec.url)

    def _shell(self, script: str, *args: str, data: bytes | None = None,
               timeout: float = 120.0) -> subprocess.CompletedProcess[bytes]:
        remote = shlex.join(["sh", "-c", script, "sh", *args])
        return subprocess.run([*self.channel.ssh("-T"), remote], input=data if data is not None else b"",
                              capture_output=True, timeout=timeout)

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None,
            timeout: float = 600.0) -> CommandRun:
        assignments = [f"{k}={v}" for k, v in (env or {}).items()]
        command = ["env", *assignments, *argv]
        if cwd:
            command = ["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", cwd, *command]
        started = time.monotonic()
        try:
            done = subprocess.run([*self.channel.ssh("-T"), shlex.join(command)], capture_output=True,
                                  text=True, errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as expired:
            return CommandRun(list(argv), -9, time.monotonic() - started, str(expired.stdout or ""),
                              str(expired.stderr or ""), timed_out=True)
        return CommandRun(list(argv), done.returncode, time.monotonic() - started, done.stdout, done.stderr)

    def now(self) -> float:
        done = self._shell("date +%s.%N")
        try:
            return float(done.stdout.decode().strip())
        except ValueError:
            return time.time()

    def listdir(self, path: str) -> list[FileEntry] | None:
        done = self._shell('[ -d "$1" ] || exit 3; find "$1" -mindepth 1 -maxdepth 1 -printf "$2"', path, FIND_FORMAT)
        if done.returncode == 3:
            return None
        return parse_find_listing(done.stdout.decode("utf-8", "replace"))

    def mkdtemp(self, prefix: str) -> str:
        done = self._shell('mktemp -d "${TMPDIR:-/tmp}/$1XXXXXXXX"', prefix)
        path = done.stdout.decode().strip()
        if done.returncode != 0 or not path:
            raise OSError(f"{self.label}: cannot create a scratch directory: {done.stderr.decode()[-300:]}")
        return path

    def remove_tree(self, path: str) -> None:
        if path and path != "/":
            self._shell('rm -rf -- "$1"', path)

    def write_file(self, path: str, data: bytes, mode: int = 0o600, mtime: float | None = None) -> None:
        script = 'umask 077 && cat > "$1" && chmod "$2" "$1"' + (' && touch -d "@$3" "$1"' if mtime is not None else "")
        done = self._shell(script, path, f"{mode:o}", *([f"{mtime:.6f}"] if mtime is not None else []), data=data)
        if done.returncode != 0:
            raise OSError(f"{self.label}: cannot write {path}: {done.stderr.decode()[-300:]}")

    def read_file(self, path: str) -> bytes:
        done = self._shell('cat -- "$1"', path, timeout=600.0)
        if done.returncode != 0:
            raise FileNotFoundError(f"{self.label}: cannot read {path}: {done.stderr.decode()[-300:]}")
        return done.stdout

    def kill(self, pid: int, prefix: Sequence[str] = ()) -> None:
        _kill_with(self, pid, prefix, hint=": is the SSH user allowed to signal Docker's processes? "
                                          "([chaos] host_command_prefix = [\"sudo\", \"-n\"])")

    def forward_unix(self, path: str) -> Path:
        return Path(self.channel.forward_unix(path))


def _kill_with(host: Host, pid: int, prefix: Sequence[str], hint: str = "") -> None:
    """`kill -s KILL` run on the host, for a user that needs a prefix or a remote host."""
    done = host.run([*prefix, "kill", "-s", "KILL", str(pid)], timeout=30)
    if done.exit_code != 0:
        raise RuntimeError(f"kill -s KILL {pid} on {host.label} failed ({done.exit_code}): "
                           f"{done.output.strip()[:300]}{hint}")


# Why a command cannot be run, read on its host before it runs (a shell would say it only as
# exit 126/127 with a word or two, and Python's exec as a traceback): prints one word, and the
# path or interpreter it is about. $1 the command's first word (relative: to the working dir).
RUNNABLE_SCRIPT = r"""set -f
cmd=$1
case "$cmd" in
    /*) path=$cmd ;;
    */*) path=$PWD/${cmd#./} ;;
    *) path=$(command -v -- "$cmd" 2>/dev/null) || { printf 'not-on-path\t%s' "$cmd"; exit 0; } ;;
esac
[ -e "$path" ] || { printf 'missing\t%s' "$path"; exit 0; }
[ -d "$path" ] && { printf 'directory\t%s' "$path"; exit 0; }
[ -x "$path" ] || { printf 'not-executable\t%s' "$path"; exit 0; }
[ -r "$path" ] || { printf 'ok\t%s' "$path"; exit 0; }
first=$(head -c 256 -- "$path" 2>/dev/null | head -n 1 | tr -d '\000')
case "$first" in
    '#!'*)
        case "$first" in *"$(printf '\r')") printf 'crlf\t%s' "$path"; exit 0 ;; esac
        set -- ${first#??}
        [ -n "${1:-}" ] || { printf 'no-interpreter\t%s' "$path"; exit 0; }
        [ -x "$1" ] && [ ! -d "$1" ] || { printf 'interpreter\t%s\t%s' "$path" "$1"; exit 0; }
        case "$1" in
            */env)
                if [ -n "${2:-}" ] && [ "${2#-}" = "$2" ] && ! command -v -- "$2" >/dev/null 2>&1; then
                    printf 'interpreter\t%s\t%s' "$path" "$2"; exit 0
                fi ;;
        esac ;;
    "$(printf '\177')ELF"*) ;;
    *) printf 'no-shebang\t%s' "$path"; exit 0 ;;
esac
printf 'ok\t%s' "$path"
"""


def unrunnable(host: Host, argv: Sequence[str], cwd: str, key: str) -> str:
    """One line naming the command and the fix when it cannot be run on `host` from `cwd`
    (relative paths: as the command runs, from there) (missing, not
    executable, a directory, an interpreter its #! line names that the host lacks, a #! line
    with Windows line endings); empty when it can. `key` names the profile key holding it."""
    if not argv or not argv[0]:
        return f"{key} is empty: name the command to run"
    done = host.run(["sh", "-c", RUNNABLE_SCRIPT, "runnable", argv[0]], cwd=cwd, timeout=30)
    verdict, _, rest = done.stdout.partition("\t")
    path, _, interpreter = rest.partition("\t")
    if done.exit_code != 0 or verdict == "ok" or not verdict:
        return ""  # the check itself could not run: the command's own run says what is wrong
    where = f"on {host.label}"
    said = {
        "missing": f"does not exist {where}: fix {key}",
        "not-on-path": f"is not a program on the PATH on {host.label}: install it, or name it by its path in {key}",
        "no-shebang": "has no #! line, so it cannot be executed: make its first line e.g. #!/usr/bin/env bash",
        "directory": f"is a directory {where}, not a program: fix {key}",
        "not-executable": f"is not executable: chmod +x {path} (or name its interpreter first in {key}, "
                          f"e.g. [\"bash\", \"{argv[0]}\", ...])",
        "crlf": f"has Windows line endings in its #! line (the kernel looks for an interpreter named with a "
                f"trailing carriage return): convert it, e.g. sed -i 's/\\r$//' {path}",
        "no-interpreter": "has a #! line naming no interpreter: write e.g. #!/usr/bin/env bash as its first line",
        "interpreter": f"names the interpreter {interpreter!r} in its #! line, which {host.label} does not have: "
                       "install it or fix the #! line (e.g. #!/usr/bin/env bash)",
    }.get(verdict)
    return f"cannot run {key} `{shlex.join(argv)}`: {path} {said}" if said else ""

"""A live deployment on another host, reached over SSH.

One SSH master connection (OpenSSH ControlMaster, key authentication, a known_hosts file,
BatchMode) carries everything:
- host commands and files through pytest-testinfra's SSH backend (multiplexed on the master);
- the Docker API through a forwarded Unix socket (the host's engine socket appears as a socket
  in a private local directory; docker-py talks to it as to a local engine);
- HTTP/MySQL/Redis through local forwards on 127.0.0.1 (random ports), one per published port,
  unless the profile's [ssh] addresses name a reachable address;
- `docker compose` (read-only verbs only) runs on the host itself, with the host's files.
Everything is closed at the end (`ssh -O exit`, the private directory removed).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import docker

from stackprobe.errors import StackprobeUsageError
from stackprobe.profile import Profile
from stackprobe.redact import REDACTOR
from stackprobe.targets.base import DOCKER_API_TIMEOUT_S
from stackprobe.targets.host import SshHost
from stackprobe.targets.live import LiveTarget


@dataclass(frozen=True)
class SshSpec:
    """Where and how to connect: ssh://user@host:port, a key file, a known_hosts file."""

    user: str
    host: str
    port: int
    identity_file: str = ""
    known_hosts_file: str = ""
    connect_timeout_s: int = 10

    @classmethod
    def parse(cls, url: str, identity_file: str = "", known_hosts_file: str = "",
              connect_timeout_s: int = 10) -> SshSpec:
        parts = urlsplit(url if "://" in url else f"ssh://{url}")
        if parts.scheme != "ssh" or not parts.hostname:
            raise StackprobeUsageError(
                f"live host {url!r} is not an SSH address: write ssh://user@host[:port]")
        try:
            port = parts.port or 22
        except ValueError:
            raise StackprobeUsageError(f"live host {url!r}: the port is not a number") from None
        user = parts.username or os.environ.get("USER", "") or "root"
        return cls(user, parts.hostname, port, identity_file, known_hosts_file, connect_timeout_s)

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@{self.host}:{self.port}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """In the SSH master's child process (Linux): end when the suite's process ends, even by SIGKILL."""
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _explain(spec: SshSpec, stderr: str) -> str:
    """One line naming the host and what went wrong, from OpenSSH's own words."""
    text = " ".join(stderr.split())
    where = spec.url
    if "Permission denied" in text:
        key = spec.identity_file or "(ssh's default keys)"
        return (f"{where}: the host refused SSH key {key} for user {spec.user} (permission denied): "
                f"add its public key to the user's authorized_keys or pass --ssh-identity")
    if "Host key verification failed" in text or "IDENTIFICATION HAS CHANGED" in text:
        known = spec.known_hosts_file or "~/.ssh/known_hosts"
        return (f"{where}: host key not known or changed (checked against {known}): add the "
                f"host's key (ssh-keyscan -p {spec.port} {spec.host}) after verifying it")
    if any(s in text for s in ("Connection refused", "timed out", "No route to host",
                               "Could not resolve", "Network is unreachable", "Connection closed")):
        reason = text.removeprefix("ssh: ")[:200]
        return f"{where}: host unreachable over SSH ({reason})"
    return f"{where}: SSH connection failed: {text[:300] or 'no message'}"


class SshChannel:
    """One OpenSSH master connection and its forwards; `close()` ends all of them."""

    def __init__(self, spec: SshSpec) -> None:
        self.spec = spec
        # short path: Unix socket paths are limited to ~100 characters
        self.workdir = Path(tempfile.mkdtemp(prefix="spssh"))
        os.chmod(self.workdir, 0o700)
        self.config = self.workdir / "ssh_config"
        self.control = self.workdir / "ctl"
        self._master: subprocess.Popen[bytes] | None = None
        self._tcp: dict[tuple[str, int], int] = {}
        self._unix: dict[str, Path] = {}
        self._host: Any = None
        self._write_config()

    def _write_config(self) -> None:
        spec = self.spec
        lines = [
            "Host *",
            f"  HostName {spec.host}",
            f"  Port {spec.port}",
            f"  User {spec.user}",
            "  BatchMode yes",
            "  StrictHostKeyChecking yes",
            f"  ConnectTimeout {spec.connect_timeout_s}",
            f"  ControlPath {self.control}",
            "  ServerAliveInterval 15",
            "  ServerAliveCountMax 3",
            "  ExitOnForwardFailure yes",
            "  LogLevel ERROR",
        ]
        if spec.identity_file:
            lines += [f"  IdentityFile {spec.identity_file}", "  IdentitiesOnly yes"]
        if spec.known_hosts_file:
            lines += [f"  UserKnownHostsFile {spec.known_hosts_file}", "  GlobalKnownHostsFile /dev/null"]
        self.config.write_text("\n".join(lines) + "\n")
        os.chmod(self.config, 0o600)

    def ssh(self, *args: str) -> list[str]:
        return ["ssh", "-F", str(self.config), *args, self.spec.host]

    # --- lifecycle -----------------------------------------------------------------------
    def open(self) -> SshChannel:
        if shutil.which("ssh") is None:
            raise StackprobeUsageError("the OpenSSH client `ssh` is not installed (apt-get install openssh-client)")
        if self.spec.identity_file and not Path(self.spec.identity_file).is_file():
            raise StackprobeUsageError(f"{self.spec.url}: SSH key file {self.spec.identity_file} does not exist")
        errors = self.workdir / "master.err"
        with errors.open("wb") as sink:
            self._master = subprocess.Popen(self.ssh("-M", "-N", "-o", "ControlPersist=no"),
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=sink, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self.spec.connect_timeout_s + 5
        while time.monotonic() < deadline:
            if self._master.poll() is not None:
                message = _explain(self.spec, errors.read_text(errors="replace"))
                self.close()
                raise StackprobeUsageError(message)
            if self.control.exists() and self._check():
                return self
            time.sleep(0.05)
        self.close()
        raise StackprobeUsageError(f"{self.spec.url}: host unreachable over SSH (no answer within "
                                   f"{self.spec.connect_timeout_s + 5} s)")

    def _check(self) -> bool:
        done = subprocess.run(self.ssh("-O", "check"), capture_output=True, timeout=10)
        return done.returncode == 0

    def close(self) -> None:
        if self._master is not None and self._master.poll() is None:
            with contextlib.suppress(Exception):
                subprocess.run(self.ssh("-O", "exit"), capture_output=True, timeout=10)
            try:
                self._master.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._master.kill()
                self._master.wait(timeout=5)
        self._master = None
        self._tcp.clear()
        self._unix.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- host commands and files (pytest-testinfra) -------------------------------------
    @property
    def host(self) -> Any:
        """A testinfra Host multiplexed on the master connection."""
        if self._host is None:
            import testinfra

            self._host = testinfra.get_host(
                self.spec.url, ssh_config=str(self.config),
                ssh_identity_file=self.spec.identity_file or None,
                timeout=self.spec.connect_timeout_s, controlpersist=0,
            )
        return self._host

    def run(self, command: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run a command on the host (arguments quoted for the remote shell)."""
        done = subprocess.run([*self.ssh("-T"), shlex.join(command)], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        return subprocess.CompletedProcess(command, done.returncode, done.stdout, done.stderr)

    def read_file(self, path: str) -> tuple[bytes, int]:
        """A host file's content and permission bits."""
        file = self.host.file(path)
        if not file.is_file:
            raise StackprobeUsageError(f"{self.spec.url}: {path} is not a file on the host")
        return bytes(file.content), int(file.mode)

    # --- forwards ------------------------------------------------------------------------
    def _forward(self, spec: str) -> None:
        done = subprocess.run(self.ssh("-O", "forward", "-L", spec), capture_output=True, text=True,
                              timeout=15)
        if done.returncode != 0:
            raise StackprobeUsageError(f"{self.spec.url}: the SSH forward {spec} failed: "
                                       f"{' '.join(done.stderr.split())[:200]}")

    def forward_tcp(self, remote_host: str, remote_port: int) -> int:
        """A local 127.0.0.1 port that reaches remote_host:remote_port as seen from the host."""
        key = (remote_host, remote_port)
        if key not in self._tcp:
            for _ in range(5):  # the free port may be taken between probe and forward
                local = _free_port()
                try:
                    self._forward(f"127.0.0.1:{local}:{remote_host}:{remote_port}")
                except StackprobeUsageError:
                    continue
                self._tcp[key] = local
                break
            else:
                raise StackprobeUsageError(f"{self.spec.url}: cannot forward to {remote_host}:{remote_port}")
        return self._tcp[key]

    def forward_unix(self, remote_path: str) -> Path:
        if remote_path not in self._unix:
            local = self.workdir / f"sock{len(self._unix)}"
            self._forward(f"{local}:{remote_path}")
            self._unix[remote_path] = local
        return self._unix[remote_path]


class SshLiveTarget(LiveTarget):
    """LiveTarget whose files, engine, commands and ports are on the far side of `channel`."""

    kind = "live"

    def __init__(self, profile: Profile, project_dir: Path, compose_files: list[Path], env_file: Path,
                 project: str, channel: SshChannel) -> None:
        self.channel = channel
        self.host_url = channel.spec.url
        super().__init__(profile, project_dir, compose_files, env_file, project, SshHost(channel))

    @property
    def label(self) -> str:
        return self.host_url

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "host": self.host_url, "via": "ssh"}

    @property
    def docker(self) -> docker.DockerClient:
        if self._docker is None:
            remote = self.profile.ssh.docker_socket
            probe = self.channel.run(["test", "-S", remote])
            if probe.returncode != 0:
                raise StackprobeUsageError(
                    f"{self.host_url}: no Docker engine on the host (no socket at {remote}): "
                    "install and start Docker there, or set [ssh] docker_socket in the profile")
            local = self.channel.forward_unix(remote)
            try:
                client = docker.DockerClient(base_url=f"unix://{local}", timeout=DOCKER_API_TIMEOUT_S)
                client.ping()
            except Exception as error:
                raise StackprobeUsageError(
                    f"{self.host_url}: the Docker engine at {remote} does not answer "
                    f"({type(error).__name__}): is dockerd running there, and may {self.channel.spec.user} use it?"
                ) from None
            self._docker = client
        return self._docker

    def attach(self) -> None:
        running = [c for c in self.containers() if c.status == "running"]
        if not running:
            raise StackprobeUsageError(f"{self.host_url}: live project {self.project!r} is not running on "
                                       "the host: start it there or pass --project-name of a running project")
        self.learn_secrets()

    def compose(self, *args: str, check: bool = True,  # type: ignore[no-untyped-def]
                timeout: float = 600):
        super()._refuse_mutating(args)
        result = self.channel.run([*self.compose_base(), *args], timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(REDACTOR.redact(
                f"{self.host_url}: docker compose {' '.join(args)} failed ({result.returncode}): "
                f"{result.stderr.strip()[-2000:]}"))
        return result

    def _address(self, service: str, container_port: int) -> tuple[str, int]:
        given = self.profile.ssh.addresses.get(f"{service}:{container_port}")
        if given:
            host, _, port = given.rpartition(":")
            return host, int(port)
        return super()._address(service, container_port)

    def _reach_published(self, host: str, port: int) -> tuple[str, int]:
        return "127.0.0.1", self.channel.forward_tcp(host, port)

    def service(self, name: str) -> Any:
        try:
            return super().service(name)
        except StackprobeUsageError as error:
            raise StackprobeUsageError(f"{self.host_url}: {error}") from None

    def mirror_files(self, paths: list[Path], into: Path) -> dict[Path, Path]:
        """Copy host files into a private local directory (same relative layout, same modes),
        so file checks (the config suite) read exactly what the host has."""
        root = PurePosixPath(str(self.project_dir))
        copies: dict[Path, Path] = {}
        for path in paths:
            posix = PurePosixPath(str(path))
            relative = posix.relative_to(root) if posix.is_relative_to(root) else PurePosixPath(
                "_outside", *posix.parts[1:])
            local = into / relative
            local.parent.mkdir(parents=True, exist_ok=True)
            content, mode = self.channel.read_file(str(path))
            local.write_bytes(content)
            os.chmod(local, mode & 0o777)
            copies[path] = local
        return copies

    def close(self) -> None:
        super().close()
        if self._docker is not None:
            with contextlib.suppress(Exception):
                self._docker.close()
            self._docker = None
        self.channel.close()


def mirror_config_inputs(target: SshLiveTarget, template: Path | None, into: Path) -> Any:
    """ConfigInputs over private local copies of the host's env file, template and compose files
    (a stack without an env file or template has none to copy)."""
    from stackprobe.checks import ConfigInputs

    env_file = target.env_file
    copies = target.mirror_files([f for f in (env_file, template) if f is not None] + list(target.compose_files), into)
    return ConfigInputs(env_file=copies[env_file] if env_file else None,
                        template=copies[template] if template else None,
                        compose_files=[copies[f] for f in target.compose_files], project_dir=into)

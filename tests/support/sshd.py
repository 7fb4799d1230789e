"""A throwaway OpenSSH server on 127.0.0.1 for the project's own tests of live-over-SSH targets.

Its own port, its own host key, key authentication only, its own authorized_keys, for the
current user; a client key pair and a known_hosts file that holds exactly its host key.
`ssh_args()` gives the stackprobe options that reach it. Stopped (by its pid) afterwards.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stackprobe.targets.ssh import _free_port

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)


@dataclass
class Sshd:
    port: int
    user: str
    client_key: Path
    known_hosts: Path
    authorized_keys: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def ssh_args(self) -> list[str]:
        return ["--live-host", self.url, "--ssh-identity", str(self.client_key),
                "--ssh-known-hosts", str(self.known_hosts)]


def sshd_available() -> bool:
    return Path(SSHD).is_file() and shutil.which("ssh") is not None and shutil.which("ssh-keygen") is not None


@contextmanager
def throwaway_sshd(work: Path) -> Iterator[Sshd]:
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o700)
    host_key, client_key = work / "host_ed25519", work / "client_ed25519"
    _keygen(host_key, "stackprobe-test-host")
    _keygen(client_key, "stackprobe-test-client")
    authorized = work / "authorized_keys"
    shutil.copyfile(client_key.with_suffix(".pub"), authorized)
    os.chmod(authorized, 0o600)
    port, user = _free_port(), getpass.getuser()
    known = work / "known_hosts"
    host_pub = host_key.with_suffix(".pub").read_text().split()
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    config = work / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}",
        f"AuthorizedKeysFile {authorized}", f"AllowUsers {user}", f"PidFile {work / 'sshd.pid'}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
        "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no",
        "AllowTcpForwarding yes", "AllowStreamLocalForwarding yes", "MaxSessions 50", "MaxStartups 50",
        "LogLevel ERROR",
    ]) + "\n")
    with contextlib.suppress(PermissionError):  # privilege separation directory (as root)
        Path("/run/sshd").mkdir(exist_ok=True)
    log = work / "sshd.log"
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                               stderr=log.open("wb"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited {process.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError(f"sshd did not listen on 127.0.0.1:{port}: {log.read_text()[-2000:]}")
    try:
        yield Sshd(port, user, client_key, known, authorized, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

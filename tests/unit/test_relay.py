"""The exec relay's byte pumping, against a fake Docker API (no engine): stdin goes in raw,
stdout comes back out of Docker's multiplexed frames, stderr is kept for the message."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

from stackprobe.targets.relay import ExecRelay


def _frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


class _FakeApi:
    """exec_start hands out one end of a socket pair; the other end plays the bridge process."""

    def __init__(self, fail: str = "", gone: tuple[str, ...] = ()) -> None:
        self.fail = fail
        self.gone = gone  # containers removed since (an update recreated them)
        self.commands: list[list[str]] = []
        self.containers: list[str] = []

    def exec_create(self, container: str, cmd: list[str], **options: Any) -> str:
        if self.fail:
            raise RuntimeError(self.fail)
        if container in self.gone:
            raise RuntimeError(f"No such container: {container}")
        self.commands.append(cmd)
        self.containers.append(container)
        return "exec1"

    def exec_start(self, exec_id: str, socket: bool) -> Any:
        import socket as sockets

        ours, bridge = sockets.socketpair()
        threading.Thread(target=self._bridge, args=(bridge,), daemon=True).start()
        return ours

    @staticmethod
    def _bridge(sock: socket.socket) -> None:
        with sock:
            sock.sendall(_frame(2, b"warming up"))
            while data := sock.recv(1024):
                sock.sendall(_frame(1, data.upper()))


def test_bytes_go_through_and_stderr_is_kept() -> None:
    api = _FakeApi()
    relay = ExecRelay(api, lambda: "c1", 3306)
    try:
        with socket.create_connection(("127.0.0.1", relay.local_port), timeout=5) as client:
            client.sendall(b"ping")
            assert client.recv(16) == b"PING"
            client.sendall(b"again")
            assert client.recv(16) == b"AGAIN"
        assert relay.last_error == "warming up"
        assert api.commands[0][:2] == ["sh", "-c"] and api.commands[0][4] == "3306"
    finally:
        relay.close()


def test_a_refused_exec_closes_the_connection_and_says_why() -> None:
    relay = ExecRelay(_FakeApi(fail="container c1 is not running"), lambda: "c1", 6379)
    try:
        with socket.create_connection(("127.0.0.1", relay.local_port), timeout=5) as client:
            assert client.recv(16) == b""  # closed, nothing relayed
        assert relay.last_error == "container c1 is not running"
    finally:
        relay.close()


def test_a_recreated_container_is_followed() -> None:
    """An update flow recreates the service's container: the next connection asks which container
    the service has now, and goes there (the old one is asked no more)."""
    api = _FakeApi()
    now = ["c1"]
    relay = ExecRelay(api, lambda: now[0], 8000)
    try:
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", relay.local_port), timeout=5) as client:
                client.sendall(b"x")
                assert client.recv(16) == b"X"
            if now == ["c1"]:
                api.gone, now[0] = ("c1",), "c2"
        assert api.containers == ["c1", "c2"]
        with socket.create_connection(("127.0.0.1", relay.local_port), timeout=5) as client:
            client.sendall(b"y")
            assert client.recv(16) == b"Y"
        assert api.containers == ["c1", "c2", "c2"]
    finally:
        relay.close()

"""Reaching a service whose port the stack does not publish: a loopback relay over `docker exec`.

A listener on 127.0.0.1 (a port the OS picks) turns every connection into one `docker exec`
in the service's own container that joins its stdin/stdout to 127.0.0.1:PORT there (socat, nc,
python3 or bash's /dev/tcp, whichever the image has). Why exec, not a relay container joined to
the service's network: it needs no extra image (registry-less machines have only the stack's), it
adds nothing to a live deployment (no container, no network attachment), and it goes through the
Docker API the target already holds, so it works the same over an SSH target's forwarded socket.
A service that is stopped or paused refuses the exec: the client sees its connection closed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

from docker.utils.socket import frames_iter

# $1 is the port; the first tool the image has carries the bytes
BRIDGE = (
    'if command -v socat >/dev/null 2>&1; then exec socat - "TCP:127.0.0.1:$1"; fi; '
    'if command -v nc >/dev/null 2>&1; then exec nc 127.0.0.1 "$1"; fi; '
    'if command -v python3 >/dev/null 2>&1; then exec python3 -c "$2" "$1"; fi; '
    'if command -v bash >/dev/null 2>&1; then exec bash -c '
    '\'exec 3<>"/dev/tcp/127.0.0.1/$1" && { cat <&3 & cat >&3; kill $! 2>/dev/null; }\' bash "$1"; fi; '
    'echo "no socat, nc, python3 or bash in the image" >&2; exit 127'
)
_PYTHON = (
    "import socket,sys,threading\n"
    "s=socket.create_connection(('127.0.0.1',int(sys.argv[1])))\n"
    "def up():\n"
    " while d:=sys.stdin.buffer.read1(65536): s.sendall(d)\n"
    " s.shutdown(socket.SHUT_WR)\n"
    "threading.Thread(target=up,daemon=True).start()\n"
    "while d:=s.recv(65536): sys.stdout.buffer.write(d); sys.stdout.buffer.flush()\n"
)


class ExecRelay:
    """127.0.0.1:`local_port` reaches `port` inside a service's container, one exec per connection.

    `current` names the service's container now: a relay follows its service when the container
    is recreated (an update flow, `up --force-recreate`), asked again only when an exec fails."""

    def __init__(self, api: Any, current: Callable[[], str], port: int) -> None:
        self.api, self.current, self.port = api, current, port
        self.container_id = current()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.local_port = int(self._listener.getsockname()[1])
        self.last_error = ""  # the bridge's own words when it could not connect (for messages)
        threading.Thread(target=self._accept, name=f"relay-{port}", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            try:
                stream = self._bridge()
            except Exception as error:  # stopped, paused, gone: the client sees the connection closed
                self.last_error = str(getattr(error, "explanation", None) or error)[:200]
                return
            raw: socket.socket = getattr(stream, "_sock", stream)
            threading.Thread(target=self._upstream, args=(client, raw), daemon=True).start()
            try:
                for kind, data in frames_iter(stream, tty=False):
                    if kind == 1:
                        client.sendall(data)
                    else:
                        self.last_error = data.decode("utf-8", "replace").strip()[:200]
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    raw.close()

    def _bridge(self) -> Any:
        """The exec joined to the port: in the container last used, else in the service's
        container now (it was recreated), else the first error."""
        try:
            return self._exec(self.container_id)
        except Exception:
            try:
                now = self.current()
            except Exception:
                now = self.container_id
            if now == self.container_id:
                raise
            self.container_id = now
            return self._exec(now)

    def _exec(self, container_id: str) -> Any:
        exec_id = self.api.exec_create(container_id, ["sh", "-c", BRIDGE, "sh", str(self.port), _PYTHON],
                                       stdin=True, stdout=True, stderr=True, tty=False)
        return self.api.exec_start(exec_id, socket=True)

    @staticmethod
    def _upstream(client: socket.socket, raw: socket.socket) -> None:
        try:
            while data := client.recv(65536):
                raw.sendall(data)
            raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.close()

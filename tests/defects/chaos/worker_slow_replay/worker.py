"""The defect's sidecar: a worker that follows the backend and, after losing it, rebuilds its
state from scratch before it is ready again.

It polls the backend's ping every second. When the backend does not answer, the worker exits
uncleanly (its restart policy brings it back) and leaves its journal marked dirty; a start with a
dirty journal replays it for REPLAY_S seconds before the worker reports ready (its healthcheck
tests the ready file). A first start with a clean journal is ready at once.
"""

import os
import sys
import time
import urllib.request
from pathlib import Path

BACKEND = os.environ.get("WORKER_BACKEND_URL", "http://backend:8000/api/v1/system/ping")
REPLAY_S = float(os.environ.get("WORKER_REPLAY_S", "90"))
STATE = Path(os.environ.get("WORKER_STATE_DIR", "/tmp/worker"))  # the container's own layer: kept across restarts
DIRTY, READY = STATE / "journal.dirty", Path("/tmp/worker-ready")


def answers() -> bool:
    try:
        with urllib.request.urlopen(BACKEND, timeout=2) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


def main() -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    READY.unlink(missing_ok=True)
    if not answers():
        DIRTY.touch()
        print("worker: the backend does not answer; exiting", flush=True)
        return 1
    if DIRTY.exists():
        print(f"worker: journal dirty, replaying it ({REPLAY_S:g} s)", flush=True)
        time.sleep(REPLAY_S)
        DIRTY.unlink()
    READY.touch()
    print("worker: ready", flush=True)
    while True:
        time.sleep(1)
        if not answers():
            DIRTY.touch()
            print("worker: lost the backend; exiting", flush=True)
            return 1


if __name__ == "__main__":
    sys.exit(main())

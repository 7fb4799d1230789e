"""An independent observer of a compose project, run as its own process by
bench/recovery_precision.py: it shares no code with the chaos suite's recovery watch.

It streams `docker events` (the engine's own timestamps, timeNano) for the project's containers
and sends a health request every --interval seconds (urllib, a fresh connection each time, at
most one --timeout's worth of requests out at once; the published port is looked up again with `docker port`
whenever a request fails), and
writes one JSON line per observation to --out, until --seconds have passed or it is stopped.
Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", required=True)
    parser.add_argument("--backend-container", required=True)
    parser.add_argument("--health-path", default="/api/v1/system/health")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--seconds", type=float, default=900)
    parser.add_argument("--timeout", type=float, default=5.0, help="each health request's bound")
    args = parser.parse_args()
    out = args.out.open("w", encoding="utf-8")
    lock = threading.Lock()

    def emit(entry: dict[str, Any]) -> None:
        with lock:
            if not out.closed:  # requests still out when the observer stops are dropped
                out.write(json.dumps(entry) + "\n")
                out.flush()

    events = subprocess.Popen(
        ["docker", "events", "--filter", f"label=com.docker.compose.project={args.project}",
         "--filter", "type=container", "--format", "{{json .}}"],
        stdout=subprocess.PIPE, text=True)

    def read_events() -> None:
        assert events.stdout is not None
        for line in events.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            attributes = event.get("Actor", {}).get("Attributes", {})
            emit({"kind": "event", "t": event["timeNano"] / 1e9, "status": event.get("status", ""),
                  "service": attributes.get("com.docker.compose.service", ""), "container": attributes.get("name")})

    threading.Thread(target=read_events, daemon=True).start()
    emit({"kind": "ready", "t": time.time()})
    state = {"url": ""}
    # as many out at once as one timeout spans: a poller that waits on its own bound while answers
    # hang sees the first 200 late by up to a timeout
    in_flight = threading.Semaphore(int(args.timeout / args.interval) + 1)

    def url() -> str:
        if not state["url"]:
            port = subprocess.run(["docker", "port", args.backend_container, "8000/tcp"], capture_output=True,
                                  text=True).stdout.split()
            state["url"] = f"http://{port[0]}{args.health_path}" if port else ""
        return state["url"]

    def ask(target: str, started: float) -> None:
        code = 0
        try:
            if target:
                try:
                    with urllib.request.urlopen(target, timeout=args.timeout) as response:
                        code = response.status
                except urllib.error.HTTPError as error:
                    code = error.code
                except (urllib.error.URLError, OSError):
                    state["url"] = ""
            emit({"kind": "health", "started": started, "t": time.time(), "code": code})
        finally:
            in_flight.release()

    # a new request every interval, even while earlier ones are out (a health answer takes a second
    # or more while a dependency is down: one at a time would see the recovery that much late)
    deadline = time.monotonic() + args.seconds
    try:
        while time.monotonic() < deadline:
            started = time.time()
            if in_flight.acquire(timeout=args.interval):
                threading.Thread(target=ask, args=(url(), started), daemon=True).start()
            time.sleep(max(0.0, args.interval - (time.time() - started)))
    finally:
        events.terminate()
        out.close()


if __name__ == "__main__":
    main()

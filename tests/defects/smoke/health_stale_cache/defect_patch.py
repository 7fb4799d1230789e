"""Defect: the last healthy answer is served for 8 s after probes start failing ("flap damping"),
so an outage shows in health 8 s late. The start of the failure is kept in a file, so every
uvicorn worker (and so the container's own healthcheck) damps the same window."""
import json
import os
import time

from sitecustomize import after_import

GRACE_S = 8.0
STATE = "/tmp/health-damping.json"


def _load():  # type: ignore[no-untyped-def]
    try:
        with open(STATE) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {"healthy": None, "failing_since": None}


def _save(state) -> None:  # type: ignore[no-untyped-def]
    with open(STATE + ".tmp", "w") as handle:
        json.dump(state, handle)
    os.replace(STATE + ".tmp", STATE)


def patch(health):  # type: ignore[no-untyped-def]
    original = health.check_health

    async def damped_check_health():  # type: ignore[no-untyped-def]
        status, body = await original()
        state, now = _load(), time.time()
        if status == 200:
            _save({"healthy": body, "failing_since": None})
            return status, body
        if state["failing_since"] is None:
            state["failing_since"] = now
            _save(state)
        if state["healthy"] is not None and now - state["failing_since"] < GRACE_S:
            return 200, state["healthy"]
        return status, body

    health.check_health = damped_check_health


after_import("app.health", patch)

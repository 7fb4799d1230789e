"""Defect: the health timestamp is a naive local time (no offset), as datetime.now() gives."""
from datetime import datetime

from sitecustomize import after_import


def patch(health):  # type: ignore[no-untyped-def]
    original = health.check_health

    async def naive_check_health():  # type: ignore[no-untyped-def]
        status, body = await original()
        body["timestamp"] = datetime.now().isoformat(timespec="seconds")
        return status, body

    health.check_health = naive_check_health


after_import("app.health", patch)

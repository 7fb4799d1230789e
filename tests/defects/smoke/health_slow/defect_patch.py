"""Defect: every healthy answer takes 1.5 s (a probe that does real work on each call)."""
import asyncio

from sitecustomize import after_import


def patch(health):  # type: ignore[no-untyped-def]
    original = health.check_health

    async def slow_check_health():  # type: ignore[no-untyped-def]
        status, body = await original()
        if status == 200:
            await asyncio.sleep(1.5)
        return status, body

    health.check_health = slow_check_health


after_import("app.health", patch)

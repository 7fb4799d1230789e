"""Defect: for its first seconds after a (re)start the backend's ping (what a load balancer
polls) answers 503, "warming up", while health already answers 200: after a crash under load,
errors go on past the recovery health announced."""

import time

from sitecustomize import after_import

WARM_UP_S = 8.0


def patch(main):  # type: ignore[no-untyped-def]
    from fastapi.responses import JSONResponse

    started = time.monotonic()

    @main.app.middleware("http")
    async def cold_ping(request, call_next):  # type: ignore[no-untyped-def]
        if request.url.path == "/api/v1/system/ping" and time.monotonic() - started < WARM_UP_S:
            return JSONResponse({"detail": "warming up"}, status_code=503)
        return await call_next(request)


after_import("app.main", patch)

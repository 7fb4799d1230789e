"""Defect: each uvicorn worker serves its own registry on /metrics of the API port (no
multiprocess aggregation), so a scrape sees whichever worker answered."""
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sitecustomize import after_import


def patch(main):  # type: ignore[no-untyped-def]
    from fastapi import Response

    @main.app.get("/metrics")
    def per_worker_metrics() -> Response:
        # a new connection per scrape, so the next one may reach the other worker
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST,
                        headers={"Connection": "close"})


after_import("app.main", patch)

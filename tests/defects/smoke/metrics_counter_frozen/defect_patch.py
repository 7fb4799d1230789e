"""Defect: the request counter is exported but never incremented."""
from sitecustomize import after_import


def patch(metrics):  # type: ignore[no-untyped-def]
    frozen = metrics.HTTP_REQUESTS.labels(method="GET", path="/", status="200")
    frozen.inc = lambda amount=1, exemplar=None: None
    metrics.HTTP_REQUESTS.labels = lambda *args, **kwargs: frozen


after_import("app.metrics", patch)

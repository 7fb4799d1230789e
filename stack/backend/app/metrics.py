"""Prometheus metrics shared by every worker process.

PROMETHEUS_MULTIPROC_DIR (set in the image) puts prometheus_client in multiprocess mode:
each worker writes its samples to files there and the metrics server in the supervisor
process (app.serve) aggregates them, so counters never go down between scrapes whichever
worker served the requests.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests served", ["method", "path", "status"]
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds", "HTTP request duration", ["method", "path"]
)
LLM_CALLS = Counter("llm_api_calls_total", "LLM API calls (offline stand-in)", ["model", "status"])
VECTOR_OPS = Counter(
    "vector_store_operations_total", "Vector store operations", ["operation", "status"]
)


def touch_families() -> None:
    """Create one child per family so every documented family is exported from the start."""
    LLM_CALLS.labels(model="qwen-offline", status="ok").inc(0)
    for operation in ("add", "query", "heartbeat"):
        VECTOR_OPS.labels(operation=operation, status="ok").inc(0)


def serve_metrics(port: int) -> None:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, registry=registry)

"""Defect: the LLM call counter is exported under another name, so llm_api_calls_total vanishes."""
from prometheus_client import Counter
from sitecustomize import after_import


def patch(metrics):  # type: ignore[no-untyped-def]
    metrics.LLM_CALLS = Counter("llm_requests_total", "LLM calls (renamed)", ["model", "status"])


after_import("app.metrics", patch)

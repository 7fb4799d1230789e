"""Offline stand-in for the DashScope LLM call: deterministic, no outbound network."""

from __future__ import annotations

import hashlib

from app.metrics import LLM_CALLS
from app.settings import settings

MODEL = "qwen-offline"


def complete(prompt: str) -> str:
    status = "ok" if settings.dashscope_api_key else "no_key"
    LLM_CALLS.labels(model=MODEL, status=status).inc()
    digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:12]
    return f"[{MODEL}] received {len(prompt)} characters (ref {digest})"

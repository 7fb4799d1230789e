"""The running stack is up and honest: containers, health contract, metrics, data paths."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from stack_support import SERVICES, Stack

pytestmark = pytest.mark.needs_docker


def test_all_containers_healthy(stack: Stack) -> None:
    containers = {c.labels["com.docker.compose.service"]: c for c in stack.containers()}
    assert set(containers) == set(SERVICES)
    for service, container in containers.items():
        container.reload()
        state = container.attrs["State"]
        assert state["Status"] == "running", f"{service}: {state['Status']}"
        assert state["Health"]["Status"] == "healthy", f"{service}: {state['Health']}"
        # Unique names, so this copy never collides with another one on the machine.
        assert container.name == stack.values[f"{service.upper()}_CONTAINER_NAME"]


def test_health_contract(stack: Stack) -> None:
    response = httpx.get(stack.health_url, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "healthy"
    stamp = datetime.fromisoformat(body["timestamp"])
    assert stamp.tzinfo is not None, f"timestamp without timezone: {body['timestamp']}"
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 120
    assert body["services"] == {
        "database": "healthy",
        "redis": "healthy",
        "vector_store": "healthy",
    }


REQUIRED_FAMILIES = {
    # family name as the parser reports it (counters lose _total) -> accepted types
    "http_requests": {"counter"},
    "http_request_duration_seconds": {"histogram", "summary"},
    "llm_api_calls": {"counter"},
    "vector_store_operations": {"counter"},
}


def test_metrics_valid_with_required_families(stack: Stack) -> None:
    httpx.get(stack.health_url, timeout=10)  # at least one request counted
    response = httpx.get(stack.metrics_url, timeout=10)
    assert response.status_code == 200
    text = response.text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {s.name for f in families.values() for s in f.samples}
    for name, types in REQUIRED_FAMILIES.items():
        assert name in families, f"metric family {name} missing"
        assert families[name].type in types, f"{name} is a {families[name].type}"
    for name in ("http_requests_total", "llm_api_calls_total", "vector_store_operations_total"):
        assert name in text, f"{name} missing from the exposition"
    assert "http_request_duration_seconds_bucket" in samples or (
        "http_request_duration_seconds_count" in samples
    )
    assert any(
        s.name == "http_requests_total" and s.value >= 1 for s in families["http_requests"].samples
    )

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed: exposition parsed, `promtool check metrics` not run")
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, f"promtool check metrics:\n{checked.stdout}{checked.stderr}"


def test_document_reaches_mysql_redis_and_chroma(stack: Stack) -> None:
    marker = uuid.uuid4().hex
    title = f"smoke {marker}"
    content = f"zebra quokka {marker}: ünïcödé 漢字 🎉 and a second line\nline two"
    response = httpx.post(
        f"{stack.backend_url}/api/v1/documents",
        json={"title": title, "content": content},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    doc_id = response.json()["id"]

    with stack.mysql() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT title, content FROM documents WHERE id = %s", (doc_id,))
        assert cursor.fetchone() == (title, content)

    cached = stack.redis().get(f"doc:{doc_id}")
    assert cached is not None, f"doc:{doc_id} not in Redis"
    assert json.loads(cached)["content"] == content

    found = httpx.post(
        f"{stack.backend_url}/api/v1/documents/search",
        json={"query": content, "k": 3},
        timeout=30,
    )
    assert found.status_code == 200, found.text
    assert found.json()["ids"][0] == str(doc_id)

    again = httpx.get(f"{stack.backend_url}/api/v1/documents/{doc_id}", timeout=10)
    assert again.status_code == 200 and again.json()["content"] == content


def test_redis_outage_is_reported_within_2s_and_recovers(stack: Stack) -> None:
    backend = stack.container("backend")
    backend.reload()
    started_at = backend.attrs["State"]["StartedAt"]
    restarts = backend.attrs["RestartCount"]
    stack.wait_healthy(timeout=30)

    stack.compose("stop", "redis", check=True, timeout=60)
    try:
        stopped = time.monotonic()
        seen = None
        while time.monotonic() - stopped < 2.0:
            response = httpx.get(stack.health_url, timeout=5)
            if response.status_code == 503:
                seen = (time.monotonic() - stopped, response.json())
                break
            time.sleep(0.1)
        assert seen is not None, "health still not 503 two seconds after redis stopped"
        elapsed, body = seen
        assert elapsed <= 2.0
        assert body["status"] == "unhealthy"
        assert body["services"]["redis"] == "unhealthy"
        assert body["services"]["database"] == "healthy"
        assert "redis" in body.get("failing", [])
    finally:
        stack.compose("start", "redis", check=True, timeout=60)

    stack.wait_healthy(timeout=30)
    backend.reload()
    assert backend.attrs["State"]["StartedAt"] == started_at, "backend was restarted"
    assert backend.attrs["RestartCount"] == restarts

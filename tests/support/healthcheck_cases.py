"""Healthcheck tests as compose writes them (and Docker stores them), shared by the file-side
CTR-02 rule's tests and the in-effect ones, so both judge the same cases."""

from __future__ import annotations

# Tests that pass whatever the service's state (or run nothing): CTR-02 fails each.
NOOP_TESTS: list[list[str]] = [
    ["CMD", "true"], ["CMD", "/bin/true"], ["NONE"], [],
    ["CMD-SHELL", "exit 0"], ["CMD-SHELL", "true"],
    ["CMD-SHELL", "curl -f http://x || exit 0"], ["CMD-SHELL", "echo ok"],
    ["CMD", "sh", "-c", "exit 0"], ["CMD-SHELL", "redis-cli ping || true"],
    # the forms the smoke suite's own list knew before it called the file-side rule
    ["CMD", "exit", "0"], ["CMD-SHELL", "/bin/true"], ["CMD-SHELL", ":"],
]

# Tests that probe the service.
REAL_TESTS: list[list[str]] = [
    ["CMD", "mysqladmin", "ping", "-h", "localhost"],
    ["CMD-SHELL", "redis-cli ping | grep -q PONG"],
    ["CMD", "curl", "-f", "http://localhost:8000/health"],
]

"""Fabricated results.json and history records for the report's tests (no stack needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stackprobe import catalogue

CANARY = "Canary-Secr3t-do-not-leak-4e1f"


def check(nodeid: str, status: str, evidence: dict[str, Any], message: str = "", duration: float = 0.5,
          started: str = "2026-11-25T07:00:01Z") -> dict[str, Any]:
    return {"nodeid": nodeid, "control": nodeid.split("[")[-1].rstrip("]"), "status": status,
            "started": started, "duration_s": duration, "message": message, "evidence": evidence,
            "target": "live"}


def recovery(service: str, healthy: list[float], slo_healthy: float = 30.0) -> dict[str, Any]:
    trials = [{"running_s": round(h * 0.3, 3), "healthy_s": h, "http_200_s": round(h + 0.4, 3),
               "first_write_s": round(h + 0.9, 3)} for h in healthy]
    ordered = sorted(healthy)

    def pick(q: float) -> float:
        import math
        return ordered[max(1, math.ceil(q * len(ordered))) - 1]

    p50h, p95h = pick(0.5), pick(0.95)
    return {"fault": "kill", "service": service,
            "slo_s": {"running": 10.0, "healthy": slo_healthy, "http_200": slo_healthy + 5, "first_write": 45.0},
            "trials": trials,
            "p50_s": {"running": round(p50h * 0.3, 3), "healthy": p50h, "http_200": round(p50h + 0.4, 3),
                      "first_write": round(p50h + 0.9, 3)},
            "p95_s": {"running": round(p95h * 0.3, 3), "healthy": p95h, "http_200": round(p95h + 0.4, 3),
                      "first_write": round(p95h + 0.9, 3)}}


def control(control_id: str, status: str, checks: list[dict[str, Any]]) -> dict[str, Any]:
    c = catalogue.get(control_id)
    return {"title": c.title, "suite": c.suite, "severity": c.severity, "why": c.why, "fix": c.fix,
            "tags": list(c.tags), "status": status, "duration_s": sum(x["duration_s"] for x in checks),
            "checks": checks}


def summary(statuses: dict[str, str] | None = None, healthy: list[float] | None = None,
            backup_size: int = 48_213, restore_s: float = 3.7, started: str = "2026-11-25T07:00:00Z",
            finished: str = "2026-11-25T07:04:10Z") -> dict[str, Any]:
    """A run of a few controls of every suite; `statuses` overrides a control's status."""
    wanted = {"HLT-01": "passed", "HLT-03": "passed", "SEC-01": "passed", "SEC-06": "failed",
              "BKP-01": "passed", "BKP-08": "passed", "LOG-02": "skipped", "CHS-01": "passed",
              "CHS-06": "failed", "DEP-03": "error"}
    wanted.update(statuses or {})
    controls: dict[str, Any] = {}
    for cid, status in wanted.items():
        evidence: dict[str, Any] = {"observed": {"status": status, "note": "fabricated"}}
        message = ""
        if cid == "HLT-01":
            evidence = {"health": {"status": "healthy", "services": {"database": "healthy"}}, "latency_ms": 12.5}
        if cid == "CHS-01":
            evidence = {"recovery": [recovery("backend", healthy or [6.1, 7.4, 6.8, 9.2, 7.0]),
                                     recovery("mysql", [11.0, 12.5, 14.2], slo_healthy=60.0)]}
        if cid == "BKP-01":
            evidence = {"backup_size_bytes": backup_size, "files": ["backup_20261125_070001.sql.gz"]}
        if cid == "BKP-08":
            evidence = {"restore_seconds": restore_s, "rto_s": 600}
        if status in {"failed", "error"}:
            message = f"AssertionError: {cid} saw something it should not have"
        controls[cid] = control(cid, status, [check(f"suites/x/test_{cid.lower()}.py::test_it[{cid}]", status,
                                                    evidence, message)])
    return {
        "run": {"target": {"kind": "live", "project": "ai_assistant", "project_dir": "/srv/app",
                           "compose_files": ["/srv/app/docker-compose.yml"], "env_files": ["/srv/app/.env"]},
                "hosts": {"runner": "ci-runner-7", "docker_engine": "unix:///var/run/docker.sock"},
                "profile": {"source": "profiles/reference.toml", "sha256": "ab" * 32},
                "compose_files": ["/srv/app/docker-compose.yml"],
                "compose_file_sha256": {"/srv/app/docker-compose.yml": "cd" * 32},
                "compose_sha256": "ef" * 32,
                "images": {"backend": {"image": "stackprobe/ai-assistant-backend:local", "id": "sha256:" + "1" * 64,
                                       "repo_digests": []},
                           "mysql": {"image": "mysql:8.0", "id": "sha256:" + "2" * 64,
                                     "repo_digests": ["mysql@sha256:" + "3" * 64]},
                           "_engine": "20.10.24"},
                "git_revision": "0123456789abcdef0123456789abcdef01234567",
                "versions": {"python": "3.11.7", "stackprobe": "0.1.0", "pytest": "8.3.3"},
                "started": started, "finished": finished},
        "totals": {},
        "controls": controls,
    }


def write_run(root: Path, name: str, data: dict[str, Any]) -> Path:
    run = root / name
    run.mkdir(parents=True, exist_ok=True)
    (run / "results.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return run

"""The JSON summary of a run: per control status, evidence and timings; per run environment."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import socket
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from stackprobe import absence, catalogue
from stackprobe.evidence import CheckResult
from stackprobe.redact import REDACTOR
from stackprobe.settings import RunSettings
from stackprobe.targets.base import Target

_RANK = {"error": 6, "failed": 5, "aborted": 4, "passed": 3, "not_applicable": 2, "skipped": 1}


def control_statuses(results: list[CheckResult]) -> dict[str, str]:
    """A control fails if any of its checks fails; passes only if none failed and one passed."""
    statuses: dict[str, str] = {}
    for result in results:
        current = statuses.get(result.control)
        if current is None or _RANK[result.status] > _RANK[current]:
            statuses[result.control] = result.status
    return dict(sorted(statuses.items()))


def _sha256_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def _git_revision(directory: Path) -> str:
    result = subprocess.run(["git", "-C", str(directory), "rev-parse", "HEAD"],
                            capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("stackprobe", "pytest", "testcontainers", "docker", "pytest-html"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


def images_of(target: Target | None) -> dict[str, Any]:
    """Image name, ID and registry digests per service (the plugin takes this once the stack is
    up: at session end an ephemeral stack is already gone)."""
    if target is None:
        return {}
    images: dict[str, Any] = {}
    try:
        for service in target.services().values():
            attrs = service.inspect()
            image = target.docker.images.get(attrs["Image"])
            images[service.name] = {
                "image": attrs["Config"]["Image"],
                "id": attrs["Image"],
                "repo_digests": image.attrs.get("RepoDigests") or [],
            }
        images["_engine"] = target.docker.version().get("Version", "")
    except Exception as error:  # the report is still written when the engine is gone
        images["_error"] = f"{type(error).__name__}: {error}"
    return images


def _hosts(target: Target | None) -> dict[str, str]:
    """Where the suite ran and which Docker engine (host) it talked to."""
    hosts = {"runner": socket.gethostname(),
             "docker_endpoint": os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"}
    if target is not None:
        try:
            info = target.docker.info()
            hosts["docker_host"] = f"{info.get('Name', '?')} ({info.get('OperatingSystem', '?')}, " \
                                   f"kernel {info.get('KernelVersion', '?')})"
        except Exception as error:  # engine gone: the report is still written
            hosts["docker_host"] = f"not recorded ({type(error).__name__})"
    return hosts


def build_summary(
    settings: RunSettings, target: Target | None, results: list[CheckResult], started: float,
    finished: float, images: dict[str, Any] | None = None, parts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    parts = sorted(parts or [], key=lambda p: p.get("worker", ""))
    described: dict[str, Any] = target.describe() if target else {"kind": settings.target}
    if target is None and parts:  # a parallel run: the controller started no copy, its parts did
        images = images or next((p["images"] for p in parts if p.get("images")), None)
        copies = sorted((p for p in parts if p.get("target")), key=lambda p: "shared" not in p.get("parts", []))
        if copies:  # the shared copy stands for the run; every part's copy is under run.parts
            described = copies[0]["target"]
    statuses = control_statuses(results)
    controls = {}
    for control_id, status in statuses.items():
        control = catalogue.get(control_id)
        checks = [r.to_json() for r in results if r.control == control_id]
        controls[control_id] = {
            "title": control.title, "suite": control.suite, "severity": control.severity,
            "why": control.why, "fix": control.fix, "tags": list(control.tags), "nist": list(control.nist),
            "status": status, "duration_s": round(sum(c["duration_s"] for c in checks), 3),
            "checks": checks,
        }
    return {
        "run": {
            "target": described,
            # a parallel run's parts: which copy each ran on and its own wall time
            **({"parts": [_part(p, started) for p in parts]} if parts else {}),
            "profile": {"source": settings.profile.source, "sha256": settings.profile.sha256},
            # parts the profile declared absent (their controls: not applicable), in words
            "absent": absence.declared(settings.profile.absent),
            "compose_files": [str(p) for p in settings.compose_files],
            "compose_file_sha256": {str(p): _sha256_files([p]) for p in settings.compose_files},
            "compose_sha256": _sha256_files(settings.compose_files),
            "hosts": _hosts(target),
            "images": images or images_of(target),
            "git_revision": _git_revision(settings.project_dir),
            "versions": _versions(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished)),
            "duration_s": round(finished - started, 3),
            "fail_on": settings.fail_on,
            "project_dir": str(settings.project_dir),
        },
        "totals": {s: list(statuses.values()).count(s) for s in sorted(set(statuses.values()))},
        "controls": controls,
        "hosts": hosts_summary(results),
    }


def _part(record: dict[str, Any], started: float) -> dict[str, Any]:
    return {
        "worker": record.get("worker"), "parts": record.get("parts", []),
        "target": record.get("target"),
        "started_after_s": round(float(record.get("started", started)) - started, 3),
        "duration_s": round(float(record.get("finished", 0.0)) - float(record.get("started", 0.0)), 3),
    }


def hosts_summary(results: list[CheckResult]) -> dict[str, dict[str, str]]:
    """Per host (one for a single target, several for a fleet): control -> status."""
    return {host: control_statuses([r for r in results if r.host == host])
            for host in sorted({r.host for r in results})}


def write_results(
    run_dir: Path, settings: RunSettings, target: Target | None, results: list[CheckResult],
    started: float, finished: float, images: dict[str, Any] | None = None,
    parts: list[dict[str, Any]] | None = None,
) -> Path:
    summary = REDACTOR.redact_obj(build_summary(settings, target, results, started, finished, images, parts))
    path = run_dir / "results.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    latest = run_dir.parent / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run_dir.name)
    except OSError:
        pass
    return path

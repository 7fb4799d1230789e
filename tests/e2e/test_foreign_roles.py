"""A profile that renames every service reaches the in-effect checks: the reference stack with
its services named db, cache and api (and nothing else changed) passes the config suite's file
and in-effect checks and the smoke suite's container and datastore checks, which find every
service through the profile's [services] roles."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.stacks import REPO, SUITES, run_pytest

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]

RENAME = {"mysql": "db", "redis": "cache", "backend": "api"}
HOSTS = {"MYSQL_HOST": "db", "REDIS_HOST": "cache"}


def renamed(files: list[Path], into: Path) -> Path:
    """The compose model of `files` (compose renders it, variables left for the copy's env file)
    with every service renamed and every reference to a service (depends_on, host names) too."""
    args = [arg for file in files for arg in ("-f", str(file))]
    done = subprocess.run(["docker", "compose", *args, "config", "--format", "json", "--no-interpolate"],
                          capture_output=True, text=True, check=True, cwd=REPO)
    model = json.loads(done.stdout)
    # names compose made up without interpolation; the copy's project gives its own
    model.pop("name", None)
    for section in ("networks", "volumes"):
        for spec in (model.get(section) or {}).values():
            spec.pop("name", None)
    services = {}
    for name, spec in model["services"].items():
        spec["depends_on"] = {RENAME[dep]: how for dep, how in (spec.get("depends_on") or {}).items()}
        environment = spec.get("environment") or {}
        for key, host in HOSTS.items():
            if key in environment:
                environment[key] = host
        services[RENAME[name]] = spec
    model["services"] = services
    path = into / "renamed-compose.json"
    path.write_text(json.dumps(model, indent=2))
    return path


def test_renamed_services_pass_file_and_in_effect_checks(tmp_path: Path) -> None:
    compose = renamed([REPO / "docker-compose.yml", REPO / "tests" / "support" / "fast-health.yml"], tmp_path)
    assert set(json.loads(compose.read_text())["services"]) == {"db", "cache", "api"}
    profile = tmp_path / "renamed.toml"
    profile.write_text(
        f'[stack]\nproject_dir = "{REPO}"\ncompose_files = ["{compose}"]\n'
        '[services]\ndatabase = "db"\ncache = "cache"\nbackend = "api"\n'
        '[health]\ndependency_services = {database = "db", redis = "cache"}\n'
        '[database]\nversion_prefixes = ["8.0.", "10.11."]\n'
        '[config]\nimage_scan = false\n')
    run = run_pytest(f"{SUITES}/config", f"{SUITES}/smoke/test_containers.py", f"{SUITES}/smoke/test_datastores.py",
                     "--target", "ephemeral", "--profile", str(profile), report_dir=tmp_path / "reports")
    assert run.returncode == 0, run.tail()
    controls = {"ENV-01", "ENV-02", "ENV-03", "SEC-01", "SEC-02", "SEC-03", "SEC-04", "SEC-05", "SEC-06",
                "SEC-07", "CMP-01", "CTR-01", "CTR-02", "CTR-03", "DB-01", "DB-02", "RDS-01"}
    assert controls <= set(run.statuses), run.statuses
    assert {run.statuses[c] for c in controls} == {"passed"}, run.statuses
    # the in-effect facts are the renamed services'
    evidence = json.dumps(run.results)
    assert '"db"' in evidence and '"api"' in evidence and '"cache"' in evidence

"""The hardening controls on seeded defects (tests/defects/hardening): each fails exactly its
HRD control, once on the files (the compose model as compose renders it, the Dockerfiles it
builds) and once in effect (real containers started from the defect's override, inspected).

In effect, defects on different services share one compose project (a backend and a Redis
container each, started without waiting for health, removed at once): a handful of small,
short-lived containers instead of one stack per defect. The backend runs from the image
BACKEND_IMAGE names (tools/setup.sh builds it from stack/backend/Dockerfile); Dockerfile
defects build their own image from the patched copy and remove it afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import docker
import pytest
from support.defect_spec import cases, load
from support.defects import PATCH, materialize, rendered_override
from support.stacks import REFERENCE_PROFILE, REPO

from stackprobe.checks import render_compose
from stackprobe.checks.findings import Finding
from stackprobe.checks.hardening_runner import HardeningSettings, check_hardening_files, check_hardening_in_effect
from stackprobe.checks.policies import hardening_settings
from stackprobe.inspect.hardening import container_views
from stackprobe.profile import load_profile
from stackprobe.targets.base import load_image_overrides
from stackprobe.targets.envfiles import generated_from_template, write_env

CASES = cases("hardening")
BASE = REPO / "docker-compose.yml"
HRD = {f"HRD-{n:02d}" for n in range(1, 11)}
# A base image the unpinned_base defect names; tagged from the Python stand-in for the test
# where it is not there (no registry here), and untagged afterwards.
UNPINNED_BASE = "stackprobe-test/python:3"


def _load(case: Path) -> dict[str, Any]:
    defect = load(case)
    return {"description": defect.description, "fails": list(defect.fails), "messages": list(defect.messages),
            "service": defect.extra["service"]}


@pytest.fixture(scope="module")
def settings() -> HardeningSettings:
    return hardening_settings(load_profile(REFERENCE_PROFILE))


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template with generated secrets; loopback ports left to Docker; unique container names."""
    load_image_overrides(REPO)
    values = generated_from_template(REPO / ".env.example")
    values.update({key: "" for key in ("MYSQL_PORT", "REDIS_PORT", "BACKEND_PORT", "METRICS_PORT")})
    tag = secrets.token_hex(4)
    values.update({f"{s}_CONTAINER_NAME": f"spx-hrd-{tag}-{s.lower()}" for s in ("MYSQL", "REDIS", "BACKEND")})
    path = tmp_path_factory.mktemp("hrd-env") / ".env"
    write_env(path, values)
    return path


def _override(case: Path, scratch: Path) -> Path:
    files = scratch / case.name
    if (case / PATCH).is_file():
        materialize(case, files)
    return rendered_override(case, files)


def _assert_exactly(case: Path, findings: list[Finding], service: str, where: str) -> None:
    spec = _load(case)
    mine = [f for f in findings if f.subject == service]
    assert {f.control for f in mine} == set(spec["fails"]), (case.name, where, [str(f) for f in mine])
    for finding in mine:
        for text in spec["messages"]:
            assert text in finding.message, (case.name, where, text, finding.message)
    assert "pit_5f2c9a81d7e34b6c0a9e" not in " ".join(f.message for f in findings)  # never a value


def test_every_hardening_defect_is_described() -> None:
    assert len(CASES) >= 8
    services = set()
    for case in CASES:
        spec = _load(case)
        assert spec["description"].strip() and spec["messages"], case.name
        assert len(spec["fails"]) == 1 and set(spec["fails"]) <= HRD, case.name
        assert (case / "compose.override.yml").is_file(), case.name
        services.add(spec["service"])
    # every HRD control has a defect
    assert {_load(c)["fails"][0] for c in CASES} == HRD


def test_reference_stack_passes_the_file_checks(settings: HardeningSettings, env_file: Path) -> None:
    model = render_compose([BASE], env_file, REPO)
    check = check_hardening_files(model, settings, project_dir=REPO)
    assert check.findings == [], [str(f) for f in check.findings]
    assert {s.service for s in check.specs} == {"mysql", "redis", "backend"}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_defect_fails_exactly_its_control_in_the_files(case: Path, settings: HardeningSettings, env_file: Path,
                                                       tmp_path: Path) -> None:
    override = _override(case, tmp_path)
    model = render_compose([BASE, override], env_file, REPO)
    findings = check_hardening_files(model, settings, project_dir=REPO).findings
    _assert_exactly(case, findings, _load(case)["service"], "files")
    others = [f for f in findings if f.subject != _load(case)["service"]]
    assert not others, [str(f) for f in others]


def _groups() -> list[list[Path]]:
    """Defects packed into projects, at most one per service in each."""
    groups: list[list[Path]] = []
    for case in CASES:
        service = _load(case)["service"]
        home = next((g for g in groups if service not in {_load(c)["service"] for c in g}), None)
        if home is None:
            groups.append([case])
        else:
            home.append(case)
    return groups


GROUPS = _groups()


@contextmanager
def _unpinned_base(client: docker.DockerClient) -> Iterator[None]:
    """UNPINNED_BASE present for the build: tagged from the Python base when missing."""
    try:
        client.images.get(UNPINNED_BASE)
        yield
        return
    except docker.errors.ImageNotFound:
        pass
    base = os.environ.get("PYTHON_IMAGE", "python:3.11-slim")
    repository, tag = UNPINNED_BASE.rsplit(":", 1)
    client.images.get(base).tag(repository, tag)
    try:
        yield
    finally:
        with suppress(docker.errors.ImageNotFound):
            client.images.remove(UNPINNED_BASE)


@pytest.mark.needs_docker
@pytest.mark.parametrize("group", GROUPS, ids=["+".join(c.name for c in g) for g in GROUPS])
def test_defects_fail_exactly_their_control_in_effect(group: list[Path], settings: HardeningSettings,
                                                      env_file: Path, tmp_path: Path) -> None:
    project = f"spx{os.getpid()}x{secrets.token_hex(4)}"
    overrides = [_override(case, tmp_path) for case in group]
    services = [_load(case)["service"] for case in group]
    compose = ["docker", "compose", "-p", project, "--project-directory", str(REPO), "-f", str(BASE)]
    for override in overrides:
        compose += ["-f", str(override)]
    compose += ["--env-file", str(env_file)]
    client = docker.from_env(timeout=120)
    built = any((case / PATCH).is_file() or "build" in (case / "compose.override.yml").read_text() for case in group)

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*compose, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        return done

    with ExitStack() as undo:
        if any(case.name == "unpinned_base" for case in group):
            undo.enter_context(_unpinned_base(client))
        # Undone in reverse: the containers go first, then the images the defects built.
        undo.callback(_remove_defect_images, client, [c for c in group if _load(c)["service"] == "backend"])
        undo.callback(lambda: subprocess.run([*compose, "down", "-v", "-t", "1"], cwd=REPO, capture_output=True,
                                             timeout=300))
        if built:
            run("build", "backend", timeout=600)
        # Started, not waited for: the configuration is in effect once the container exists.
        # One service at a time: compose stops at the first container the engine refuses.
        ups = [subprocess.run([*compose, "up", "-d", "--no-deps", "--no-build", service], cwd=REPO,
                              capture_output=True, text=True, timeout=300) for service in services]
        containers = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
        started = {c.labels["com.docker.compose.service"] for c in containers}
        assert started == set(services), [u.stderr[-1000:] for u in ups]
        for container in containers:
            _assert_started(container, group)
        model = json.loads(run("config", "--format", "json").stdout)
        check = check_hardening_in_effect(container_views(client, containers), model, settings, project_dir=REPO)
    for case in group:
        _assert_exactly(case, check.findings, _load(case)["service"], "in effect")
        assert all("in effect" in f.message for f in check.findings)


def _assert_started(container: Any, group: list[Path]) -> None:
    """Every container runs (or ran: a backend without its database may exit), except where
    the engine refuses the defect itself: an engine without every capability (this sandbox,
    rootless Docker) cannot start any privileged container; it still records the container
    as created, with the HostConfig the check reads."""
    state = container.attrs["State"]
    if state.get("StartedAt", "").startswith("0001-") or state.get("Error"):
        service = container.labels["com.docker.compose.service"]
        privileged = any(_load(c)["service"] == service and c.name == "privileged" for c in group)
        assert privileged and "apply caps" in str(state.get("Error")), (service, state)


def _remove_defect_images(client: docker.DockerClient, cases: list[Path]) -> None:
    for case in cases:
        text = (case / "compose.override.yml").read_text()
        for line in text.splitlines():
            if line.strip().startswith("image:"):
                with suppress(docker.errors.ImageNotFound, docker.errors.APIError):
                    client.images.remove(line.split(":", 1)[1].strip(), force=True)

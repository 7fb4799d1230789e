"""Rules in effect run the file-side rule on what Docker reports (checks.inspected): CTR-02 over
the same healthcheck cases as the file side, CTR-03, SEC-06 and LOG-06 on inspect-shaped data,
and a real container with a no-op healthcheck."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.healthcheck_cases import NOOP_TESTS, REAL_TESTS

from stackprobe.checks import ComposePolicy, HealthcheckBounds, ServiceRoles, check_healthchecks
from stackprobe.checks.in_effect import ContainerFacts, PortBinding, check_ports_in_effect
from stackprobe.checks.inspected import (
    check_healthchecks_in_effect,
    check_log_limits_in_effect,
    check_restart_in_effect,
    model_from_inspect,
)
from stackprobe.targets.base import load_image_overrides

REPO = Path(__file__).resolve().parents[2]
NS = 1_000_000_000
BOUNDS = HealthcheckBounds()
RESTARTS = ("always", "unless-stopped", "on-failure")


def inspected(test: list[str] | None = None, *, interval_s: float = 10, retries: int = 3,
              restart: str = "always", retry_count: int = 0, log: dict[str, Any] | None = None,
              network_mode: str = "bridge") -> dict[str, Any]:
    """`docker inspect` of one container, only the fields the rules read."""
    config: dict[str, Any] = {}
    if test is not None:
        config["Healthcheck"] = {"Test": test, "Interval": int(interval_s * NS), "Timeout": 5 * NS,
                                 "Retries": retries, "StartPeriod": 0}
    return {"Config": config,
            "HostConfig": {"RestartPolicy": {"Name": restart, "MaximumRetryCount": retry_count},
                           "NetworkMode": network_mode,
                           "LogConfig": log or {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}},
            "NetworkSettings": {"Ports": {}}}


# ---- CTR-02 ------------------------------------------------------------------------------

@pytest.mark.parametrize("test", NOOP_TESTS, ids=repr)
def test_every_noop_the_file_side_fails_fails_in_effect_too(test: list[str]) -> None:
    declared = {"services": {"svc": {"healthcheck": {"test": test, "interval": "10s", "timeout": "5s"}}}}
    assert [f.control for f in check_healthchecks(declared, BOUNDS)] == ["CTR-02"]  # the file side
    found = check_healthchecks_in_effect({"svc": inspected(test)}, {"services": {}}, BOUNDS)
    assert [(f.control, f.subject) for f in found] == [("CTR-02", "svc")]
    assert found[0].message.startswith("svc container (in effect): svc ")
    assert any(word in found[0].message for word in ("no-op", "disabled", "no healthcheck"))


@pytest.mark.parametrize("test", REAL_TESTS, ids=repr)
def test_real_healthchecks_pass_in_effect(test: list[str]) -> None:
    assert check_healthchecks_in_effect({"svc": inspected(test)}, {"services": {}}, BOUNDS) == []


def test_docker_defaults_stand_for_zero_fields_and_bounds_are_the_file_sides() -> None:
    # 0 is Docker's "default": 30 s interval and 3 retries, within the default bounds.
    assert check_healthchecks_in_effect({"svc": inspected(["CMD", "probe"], interval_s=0, retries=0)},
                                        {"services": {}}, BOUNDS) == []
    (slow,) = check_healthchecks_in_effect({"svc": inspected(["CMD", "probe"], interval_s=300)},
                                           {"services": {}}, BOUNDS)
    assert "interval 300s, expected (0, 60]" in slow.message
    assert check_healthchecks_in_effect({"svc": inspected(["CMD", "probe"], interval_s=300)}, {"services": {}},
                                        HealthcheckBounds(max_interval_s=600)) == []


def test_a_test_other_than_composes_is_a_stale_container_and_one_shots_are_skipped() -> None:
    declared = {"services": {"svc": {"healthcheck": {"test": ["CMD", "probe", "--new"]}},
                             "migrate": {}}}
    containers = {"svc": inspected(["CMD", "probe"]), "migrate": inspected(None, restart="no")}
    found = check_healthchecks_in_effect(containers, declared, BOUNDS, skip=["migrate"])
    assert [f.subject for f in found] == ["svc"]
    assert "differs from compose ['CMD', 'probe', '--new']" in found[0].message
    assert [f.subject for f in check_healthchecks_in_effect(containers, declared, BOUNDS)] == ["migrate", "svc"]


def test_a_dollar_escaped_in_the_rendered_model_is_the_same_test() -> None:
    # compose renders a literal `$` as `$$`; the container runs it once (`REDISCLI_AUTH=$REDIS_PASSWORD ...`)
    declared = {"services": {"cache": {"healthcheck": {"test": ["CMD-SHELL", "REDISCLI_AUTH=$$PW redis-cli ping"]}}}}
    same = {"cache": inspected(["CMD-SHELL", "REDISCLI_AUTH=$PW redis-cli ping"])}
    assert check_healthchecks_in_effect(same, declared, BOUNDS) == []
    stale = {"cache": inspected(["CMD-SHELL", "redis-cli ping"])}
    assert [f.subject for f in check_healthchecks_in_effect(stale, declared, BOUNDS)] == ["cache"]


# ---- CTR-03 ------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "retries", "fails"), [
    ("always", 0, False), ("unless-stopped", 0, False), ("on-failure", 5, False),
    ("no", 0, True), ("", 0, True),
])
def test_restart_policy_in_effect(name: str, retries: int, fails: bool) -> None:
    found = check_restart_in_effect({"svc": inspected(["CMD", "probe"], restart=name, retry_count=retries)},
                                    RESTARTS)
    assert [f.subject for f in found] == (["svc"] if fails else [])
    if fails:
        assert found[0].message.startswith("svc container (in effect): svc restart policy is ")
    assert check_restart_in_effect({"svc": inspected(restart=name)}, RESTARTS, one_shot=["svc"]) == []


def test_on_failure_keeps_its_retry_count_like_compose_writes_it() -> None:
    model = model_from_inspect({"svc": inspected(restart="on-failure", retry_count=5)})
    assert model["services"]["svc"]["restart"] == "on-failure:5"


# ---- SEC-06 ------------------------------------------------------------------------------

def test_host_network_mode_in_effect_fails_like_in_the_files() -> None:
    facts = [ContainerFacts("mysql", network_mode="host"), ContainerFacts("redis", network_mode="bridge"),
             ContainerFacts("backend", network_mode="host")]
    (found,) = check_ports_in_effect(facts, ServiceRoles(), ("127.0.0.1", "::1"))
    assert found.subject == "mysql" and "network_mode: host" in found.message


def test_random_host_port_reads_as_a_random_port() -> None:
    facts = [ContainerFacts("redis", ports=(PortBinding("6379/tcp", "0.0.0.0", "0"),))]
    (found,) = check_ports_in_effect(facts, ServiceRoles(), ("127.0.0.1",))
    assert "container port 6379 as a random port on 0.0.0.0 (all IPv4 interfaces)" in found.message


# ---- LOG-06 ------------------------------------------------------------------------------

def test_log_limits_in_effect() -> None:
    containers = {"bounded": inspected(), "daemon_default": inspected(log={"Type": "json-file", "Config": {}})}
    (found,) = check_log_limits_in_effect(containers, ComposePolicy())
    assert found.subject == "daemon_default" and "without max-size and max-file" in found.message


# ---- a real container ----------------------------------------------------------------------

@pytest.mark.needs_docker
def test_a_real_container_with_a_noop_healthcheck_fails_ctr02_in_effect() -> None:
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as error:  # no engine
        pytest.skip(f"needs Docker: {error}")
    load_image_overrides(REPO)
    image = os.environ.get("REDIS_IMAGE", "redis:7.0")
    container = client.containers.run(
        image, ["sleep", "60"], detach=True, name=f"sptest-noop-hc-{uuid.uuid4().hex[:8]}",
        healthcheck={"test": ["CMD-SHELL", "exit 0"], "interval": 2 * NS, "timeout": 2 * NS, "retries": 1},
        labels={"stackprobe.test": "noop-healthcheck"})
    try:
        container.reload()
        found = check_healthchecks_in_effect({"cache": container.attrs}, {"services": {}}, BOUNDS)
    finally:
        container.remove(force=True, v=True)  # and the image's anonymous /data volume
    assert [(f.control, f.subject) for f in found] == [("CTR-02", "cache")]
    assert "always succeeds (a no-op)" in found[0].message

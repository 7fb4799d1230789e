"""RDS-02's policy: required unless Redis is reachable from the backend alone (or the profile says)."""

from __future__ import annotations

import pytest

from stackprobe.checks.redis_auth import redis_auth_policy


def _model(**services: dict[str, object]) -> dict[str, object]:
    return {"services": services}


def test_reference_shape_requires_auth() -> None:
    model = _model(mysql={}, redis={"ports": [{"target": 6379, "published": "6379", "host_ip": "127.0.0.1"}]},
                   backend={})
    policy = redis_auth_policy(model, "redis", "backend", "")
    assert policy.required and "publishes a port" in policy.reason


def test_a_second_service_on_the_network_requires_auth() -> None:
    model = _model(redis={"networks": {"cache": None}}, backend={"networks": {"cache": None, "front": None}},
                   worker={"networks": {"cache": None}}, web={"networks": {"front": None}})
    policy = redis_auth_policy(model, "redis", "backend", "")
    assert policy.required and policy.reason == "worker share a network with redis"


def test_backend_alone_may_leave_redis_open() -> None:
    model = _model(redis={"networks": {"cache": None}}, backend={"networks": {"cache": None, "front": None}},
                   web={"networks": {"front": None}})
    assert not redis_auth_policy(model, "redis", "backend", "").required
    # the default network: every service without `networks` shares it
    assert redis_auth_policy(_model(redis={}, backend={}, mysql={}), "redis", "backend", "").required
    assert redis_auth_policy(_model(redis={"network_mode": "host"}, backend={}), "redis", "backend", "").required


def test_the_profile_wins_and_is_checked() -> None:
    model = _model(redis={}, backend={}, mysql={})
    assert not redis_auth_policy(model, "redis", "backend", "any").required
    assert redis_auth_policy({}, "redis", "backend", "required").required
    assert redis_auth_policy({}, "redis", "backend", "").required  # unknown model: the strict case
    with pytest.raises(ValueError, match="expected one of required, any"):
        redis_auth_policy(model, "redis", "backend", "sometimes")

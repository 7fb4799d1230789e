"""Redis cache: a client whose pool reconnects after Redis restarts."""

from __future__ import annotations

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from app.settings import settings

cache = redis.Redis(
    host=settings.redis_host,
    port=settings.redis_port,
    password=settings.redis_password or None,
    socket_timeout=3,
    socket_connect_timeout=3,
    retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
    retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    health_check_interval=10,
    decode_responses=True,
)

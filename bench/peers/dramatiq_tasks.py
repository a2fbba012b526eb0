"""Dramatiq actor: one INCR per message."""

from __future__ import annotations

import os

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

URL = os.environ["BENCH_REDIS_URL"]
dramatiq.set_broker(RedisBroker(url=URL))
_client = redis.Redis.from_url(URL)


@dramatiq.actor(max_retries=0)
def count() -> None:
    _client.incr("bench:done")

"""The jobbers task of the peer comparison: one INCR, like the peers' tasks."""

from __future__ import annotations

import os
from typing import Any

from redis.asyncio import Redis

from jobbers.registry import register_task

_client = Redis.from_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))


@register_task(name="count", version=1, max_concurrent=None)
async def count(**kwargs: Any) -> None:
    await _client.incr("bench:done")

"""Tasks for the benchmarks."""

from __future__ import annotations

import os
import time
from typing import Any

from redis.asyncio import Redis

from jobbers.registry import register_task


@register_task(name="bench_noop", version=1, max_concurrent=None)
async def bench_noop(**kwargs: Any) -> None:
    return None


@register_task(name="bench_stamp", version=1, max_concurrent=None)
async def bench_stamp(**kwargs: Any) -> dict[str, int]:
    """The first thing the body does is read the clock the driver stamped the submit with."""
    return {"t": time.time_ns()}


@register_task(name="bench_capped", version=1, max_concurrent=2)
async def bench_capped(**kwargs: Any) -> None:
    """Two at a time per worker, each until the driver pushes one ``bench:release``."""
    client = Redis.from_url(os.environ["REDIS_URL"])
    try:
        await client.blpop(["bench:release"], timeout=600)
    finally:
        await client.aclose()

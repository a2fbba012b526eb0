"""Tasks for the benchmarks."""

from __future__ import annotations

import time
from typing import Any

from jobbers.registry import register_task


@register_task(name="bench_noop", version=1, max_concurrent=None)
async def bench_noop(**kwargs: Any) -> None:
    return None


@register_task(name="bench_stamp", version=1, max_concurrent=None)
async def bench_stamp(**kwargs: Any) -> dict[str, int]:
    """The first thing the body does is read the clock the driver stamped the submit with."""
    return {"t": time.time_ns()}

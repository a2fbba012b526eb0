"""Tasks for the benchmarks."""

from __future__ import annotations

from typing import Any

from jobbers.registry import register_task


@register_task(name="bench_noop", version=1, max_concurrent=None)
async def bench_noop(**kwargs: Any) -> None:
    return None

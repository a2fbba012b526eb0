"""What ``jobbers top`` and ``/stats`` poll: per-queue figures and the registered workers.

A part of ``StateManager`` (``jobbers.store.facade``). Both reads are bounded by what they
show (queues, workers and their in-flight runs), never by the number of stored tasks.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

from redis.asyncio import Redis

from jobbers.models.dashboard import QueueStats, Stats, WorkerInfo
from jobbers.models.queue import QueueConfig
from jobbers.models.task import ms_to_datetime
from jobbers.store.keys import Keys
from jobbers.store.scripts import Scripts
from jobbers.store.verbs import store_verbs

# Queues per stats script call: about 5 ms of Redis time at 30 minutes of series each.
STATS_PAGE = 100


def _lua_lists(row: dict[str, Any]) -> dict[str, Any]:
    """cjson encodes an empty Lua table as ``{}``; lists must stay lists."""
    return {k: ([] if v == {} else v) for k, v in row.items()}


@store_verbs
class Dashboard:
    """The stats and workers reads; ``StateManager`` owns one and offers its verbs."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        scripts: Scripts,
        list_queues: Callable[[], Awaitable[list[QueueConfig]]],
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.scripts = scripts
        self.list_queues = list_queues

    async def stats(self, minutes: int = 30) -> Stats:
        """Per-queue depth, running, scheduled and recent throughput, DLQ size, live workers.

        One script call per ``STATS_PAGE`` queues: with thousands of queues one call for
        all of them held Redis for a second. Each page is a consistent snapshot of its queues.
        """
        minutes = max(1, min(minutes, 120))
        configs = {q.name: q for q in await self.list_queues()}
        names = list(configs)
        raw = json.loads(await self.scripts.run("stats", minutes, "head", *names[:STATS_PAGE]))
        rows = list(raw["queues"])
        for start in range(STATS_PAGE, len(names), STATS_PAGE):
            page = names[start : start + STATS_PAGE]
            rows += json.loads(await self.scripts.run("stats", minutes, "page", *page))["queues"]
        queues = []
        for row in rows:
            cfg = configs.get(row["name"])
            extra = cfg.model_dump(exclude={"name", "paused"}) if cfg else {}
            queues.append(QueueStats.model_validate({**_lua_lists(row), **extra}))
        return Stats(
            now=ms_to_datetime(raw["now"]) or datetime.now(UTC),
            workers=raw["workers"],
            dlq=raw["dlq"],
            statuses=raw["statuses"] or {},
            queues=queues,
        )

    async def workers(self) -> list[WorkerInfo]:
        """Registered workers with their in-flight tasks; O(workers + in-flight)."""
        k = self.keys
        entries = cast(
            list[tuple[str, float]], await self.redis.zrange(k.workers, 0, -1, withscores=True)
        )
        now_ms = await self._now_ms()
        pipe = self.redis.pipeline(transaction=False)
        for wid, _ in entries:
            pipe.hgetall(k.worker(wid))
            pipe.zrange(k.inflight(wid), 0, -1)
        replies = await pipe.execute()
        out = []
        for i, (wid, lease) in enumerate(entries):
            info, inflight = replies[2 * i], replies[2 * i + 1]
            out.append(
                WorkerInfo(
                    id=wid,
                    role=info.get("role", ""),
                    host=info.get("host", ""),
                    pid=int(info.get("pid", 0) or 0),
                    queues=json.loads(info.get("queues", "[]")),
                    concurrency=int(info.get("concurrency", 0) or 0),
                    started_at=ms_to_datetime(info.get("started_at")),
                    last_seen=ms_to_datetime(info.get("last_seen")),
                    lease_until=ms_to_datetime(lease),
                    alive=lease >= now_ms,
                    in_flight=inflight,
                    processed=int(info.get("processed", 0) or 0),
                    failed=int(info.get("failed", 0) or 0),
                )
            )
        return out

    async def _now_ms(self) -> int:
        sec, usec = await self.redis.time()
        return int(sec) * 1000 + int(usec) // 1000

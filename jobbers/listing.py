"""Pages of waiting tasks that merge the full-form index with the compact queue lists.

A fresh task waits compact (a record in ``wait`` and its id on ``wl:{queue}:{type}``,
see ``lua/common.lua``) and is in no sorted set until a worker claims it. The listings that
include waiting tasks (``submitted``, oldest first; every status, newest first) therefore
merge one sorted set with the lists of the queues concerned, by score: the sorted set's
score, or the record's ``submitted_at``. Lists are in submit order, so each source is read
from its own offset, ``limit + 1`` entries at a time, and the page costs O(sources x page)
whatever the number of tasks. The cursor carries one offset per source.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio import Redis

from jobbers.errors import InvalidInput
from jobbers.keys import Keys

# A cursor names at most this many queue offsets (one page touches at most a page of them).
MAX_CURSOR_QUEUES = 1000
MAX_OFFSET = 2**53


@dataclass
class MergedCursor:
    """Where the previous page stopped: an offset in the sorted set and in each list."""

    index: int = 0
    lists: dict[str, int] = field(default_factory=dict)

    def encode(self) -> str:
        """Opaque, URL-safe text."""
        raw = "m" + json.dumps([self.index, self.lists], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str | None) -> MergedCursor:
        """The offsets in ``cursor``; a cursor that is not a merged one is invalid input."""
        if not cursor:
            return cls()
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            if not raw.startswith("m"):
                raise ValueError
            index, lists = json.loads(raw[1:])
            if not _offset(index) or not isinstance(lists, dict):
                raise ValueError
            if len(lists) > MAX_CURSOR_QUEUES or not all(
                isinstance(q, str) and _offset(o) for q, o in lists.items()
            ):
                raise ValueError
            return cls(index, lists)
        except (ValueError, TypeError, UnicodeDecodeError):
            raise InvalidInput(f"invalid cursor {cursor!r}") from None


def _offset(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_OFFSET


def is_merged_cursor(cursor: str) -> bool:
    """True when ``cursor`` came from a merged listing (checked fully by ``decode``)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:
        return False
    return raw.startswith(b"m")


@dataclass
class _Entry:
    score: float
    rank: int  # the source's order, for a stable tie-break
    source: str | None  # None: the sorted set; else the queue of a list
    position: int  # entries of the source consumed once this one is taken
    id: str


async def merged_page(
    redis: Redis,
    keys: Keys,
    index: str,
    queues: list[str],
    oldest_first: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[str], str | None]:
    """Ids of one page over ``index`` and the compact lists of ``queues``, and the next cursor."""
    at = MergedCursor.decode(cursor)
    entries = await _from_index(redis, index, at.index, limit, oldest_first)
    for rank, queue in enumerate(queues, start=1):
        entries += await _from_list(redis, keys, queue, rank, at.lists, limit, oldest_first)
    entries.sort(key=lambda e: (e.score if oldest_first else -e.score, e.rank))
    page = entries[:limit]
    if len(entries) <= limit:
        return [e.id for e in page], None
    after = MergedCursor(at.index, dict(at.lists))
    for e in page:
        if e.source is None:
            after.index = max(after.index, e.position)
        else:
            after.lists[e.source] = max(after.lists.get(e.source, 0), e.position)
    return [e.id for e in page], after.encode()


async def _from_index(
    redis: Redis, index: str, offset: int, limit: int, oldest_first: bool
) -> list[_Entry]:
    got = await redis.zrange(index, offset, offset + limit, desc=not oldest_first, withscores=True)
    return [
        _Entry(float(score), 0, None, offset + i + 1, str(tid))
        for i, (tid, score) in enumerate(cast(list[tuple[str, float]], got))
    ]


async def _from_list(
    redis: Redis,
    keys: Keys,
    queue: str,
    rank: int,
    offsets: dict[str, int],
    limit: int,
    oldest_first: bool,
) -> list[_Entry]:
    """Up to ``limit + 1`` live compact entries of each of a queue's waiting lists.

    A queue has one list per task type (``wt:{queue}`` names them); each is a source of
    its own, ``{queue}:{type}`` in the cursor, read from its offset. Full-form entries
    (no record) come from the index and tombstones are skipped.
    """
    types = cast(list[str], await redis.zrange(keys.waiting_types(queue), 0, -1))
    out: list[_Entry] = []
    for task_type in types:
        source = f"{queue}:{task_type}"
        out += await _from_type_list(
            redis, keys, keys.waiting_list(queue, task_type), source, rank,
            offsets.get(source, 0), limit, oldest_first,
        )  # fmt: skip
    return out


async def _from_type_list(
    redis: Redis,
    keys: Keys,
    key: str,
    source: str,
    rank: int,
    offset: int,
    limit: int,
    oldest_first: bool,
) -> list[_Entry]:
    """Up to ``limit + 1`` live entries of one list from ``offset``, skipping tombstones."""
    out: list[_Entry] = []
    chunk = limit + 1
    while len(out) <= limit:
        if oldest_first:
            ids = cast(list[str], await redis.lrange(key, offset, offset + chunk - 1))
        else:
            ids = cast(list[str], await redis.lrange(key, -(offset + chunk), -(offset + 1)))
            ids.reverse()
        if not ids:
            break
        records = cast(list[str | None], await redis.hmget(keys.waiting_records, ids))
        for i, (tid, record) in enumerate(zip(ids, records, strict=True)):
            if record is not None:
                submitted_at = float(record.split("\x1f", 5)[4])
                out.append(_Entry(submitted_at, rank, source, offset + i + 1, tid))
        if len(ids) < chunk:
            break
        offset += len(ids)
        chunk = min(chunk * 2, 10_000)  # a run of tombstones: read further each time
    return out

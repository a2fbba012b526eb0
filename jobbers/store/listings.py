"""Keyset pages over the status indexes and the compact waiting lists.

A listing is a merge of sources read in one order, by ``(score, id)``: sorted sets (a
status index, ``all``, a per-name index, a DLQ index) and, for the listings that include
waiting tasks (``submitted``, oldest first; every status, newest first), the compact
waiting lists, whose score is the record's ``submitted_at`` (see ``lua/common.lua``).

Cursors are keys, not offsets, so a list that changes between two pages (tasks claimed,
retried, removed or added) never makes the next page skip or repeat a task that stayed
where it was. A cursor holds:

* ``after``: the ``(score, id)`` of the last task of the previous page. Every source
  resumes strictly after it. A sorted set is ordered by ``(score, member)`` exactly as the
  merge is, so it resumes with one ``ZRANGE ... BYSCORE`` from that score (O(log n + page),
  plus the ties of that score read before it).
* ``lists``: per waiting list, the ``(score, id)`` of the last entry of the run the
  previous pages showed whole, in list order. A list is in submit order, so it resumes
  just after that id (``LPOS``, in Redis' C, O(distance from the end it reads from),
  checked against the entry read next to it). Tasks of one submit call share a
  ``submitted_at`` and sit in submit order, not id order: a page reads such a run whole
  and ``after`` drops the part already shown. When the id left the list (claimed, or a
  tombstone dropped), the list is read from its start again (newest first: from the head
  first, where a claim took it) and ``after`` drops what the earlier pages showed.

A cursor keeps the positions of at most ``MAX_CURSOR_LISTS`` lists (the most recently
used), so that it stays short; a list without one reads from its start. Each source reads
``page + 1`` entries ahead, so a page costs O(sources x page). A task whose key changed
between pages (moved to another status, retried) is a different entry and shows where its
new key falls; every other task is listed exactly once.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio import Redis

from jobbers.errors import InvalidInput
from jobbers.models.names import canonical_ulid
from jobbers.store.codec import record_submitted_at
from jobbers.store.keys import Keys

# A cursor keeps the positions of at most this many waiting lists, the ones a page used
# last, so that it stays within the 4 KiB the API accepts. A list with no position reads
# from its start again (correct, only slower).
MAX_CURSOR_LISTS = 14
# A waiting list is named ``queue/name@version`` (see ``list_source``): 64 + 1 + 64 + 1 +
# the version's digits.
MAX_SOURCE_NAME = 150
# Reads grow to this many entries at a time through a run of ties or tombstones.
_MAX_CHUNK = 10_000
# How far from a list's head a newest-first listing looks for where it stopped (see
# ``_older_at_head``) before it reads the list from the tail instead.
_HEAD_LOOK = 1000


@dataclass(frozen=True, order=True)
class Key:
    """Where an entry sorts in a listing: its score, then its id."""

    score: float
    id: str

    def dump(self) -> list[Any]:
        """JSON form: ``[score, id]``, the score as an integer when it is one."""
        score: float = float(self.score)
        if score.is_integer():
            score = int(score)
        return [score, self.id]

    @classmethod
    def load(cls, raw: Any) -> Key:
        """The key in ``raw``; ValueError unless it is ``[finite number, ULID]``."""
        if not isinstance(raw, list) or len(raw) != 2:
            raise ValueError
        score, tid = raw
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise ValueError
        if not math.isfinite(score) or abs(score) > 2**53 or not isinstance(tid, str):
            raise ValueError
        if canonical_ulid(tid) != tid:
            raise ValueError
        return cls(float(score), tid)


@dataclass
class PageCursor:
    """Where the previous page stopped: its last key, and the last entry of each list."""

    after: Key | None = None
    lists: dict[str, Key] = field(default_factory=dict)

    def encode(self) -> str:
        """Opaque, URL-safe text."""
        kept = list(self.lists.items())[-MAX_CURSOR_LISTS:]
        body = [
            self.after.dump() if self.after else None,
            {name: key.dump() for name, key in kept},
        ]
        raw = "k" + json.dumps(body, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str | None) -> PageCursor:
        """The keys in ``cursor``; anything the core did not make is invalid input."""
        if not cursor:
            return cls()
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            if not raw.startswith("k"):
                raise ValueError
            after, lists = json.loads(raw[1:])
            if not isinstance(lists, dict) or len(lists) > MAX_CURSOR_LISTS:
                raise ValueError
            if not all(isinstance(n, str) and 0 < len(n) <= MAX_SOURCE_NAME for n in lists):
                raise ValueError
            return cls(
                None if after is None else Key.load(after),
                {name: Key.load(key) for name, key in lists.items()},
            )
        except (ValueError, TypeError, UnicodeDecodeError, RecursionError):
            raise InvalidInput(f"invalid cursor {cursor!r}") from None


def beyond(key: Key, after: Key | None, oldest_first: bool) -> bool:
    """True when ``key`` comes after ``after`` in the listing's order."""
    if after is None:
        return True
    return key > after if oldest_first else key < after


@dataclass
class Window:
    """The next entries of a listing, merged in order, and how to resume after any of them."""

    entries: list[Key]
    at: PageCursor
    complete: bool  # True when no source has entries past the window
    # Per waiting list, the entries read from it, in the list's own order.
    reads: dict[str, list[Key]] = field(default_factory=dict)

    def position_after(self, n: int) -> PageCursor | None:
        """Where a page made of the first ``n`` entries stops (None: nothing is left).

        A list resumes after the last entry of the run, from where it was read, that the
        page showed whole: within one submit time a list's order is not the merge order,
        so an entry after an unshown one may have been shown (``after`` drops it next time).
        """
        if n >= len(self.entries) and self.complete:
            return None
        if n == 0:
            return self.at
        shown = {key.id for key in self.entries[:n]}
        after = PageCursor(self.entries[n - 1], dict(self.at.lists))
        for source, read in self.reads.items():
            last = None
            for key in read:
                if key.id not in shown:
                    break
                last = key
            if last is not None:
                after.lists.pop(source, None)  # the most recently used last
                after.lists[source] = last
        return after


async def merged_window(
    redis: Redis,
    keys: Keys,
    indexes: Sequence[str],
    lists: Sequence[str],
    oldest_first: bool,
    count: int,
    cursor: str | PageCursor | None,
) -> Window:
    """Up to ``count`` entries after ``cursor`` over sorted sets and waiting lists, merged.

    ``indexes`` are sorted-set keys; ``lists`` names the waiting lists (see
    ``waiting_entries``). Each source is read ``count + 1`` entries ahead.
    """
    at = cursor if isinstance(cursor, PageCursor) else PageCursor.decode(cursor)
    found: list[Key] = []
    for index in indexes:
        found += await index_entries(redis, index, at.after, count + 1, oldest_first)
    reads: dict[str, list[Key]] = {}
    for name in lists:
        reads[name] = await waiting_entries(
            redis, keys, name, at.lists.get(name), at.after, count + 1, oldest_first
        )
        found += reads[name]
    found.sort(reverse=not oldest_first)
    seen: set[str] = set()
    merged: list[Key] = []
    for key in found:  # a task read from two sources while it moved between them
        if key.id not in seen:
            seen.add(key.id)
            merged.append(key)
    return Window(merged[:count], at, len(merged) <= count, reads)


async def index_entries(
    redis: Redis, key: str, after: Key | None, count: int, oldest_first: bool
) -> list[Key]:
    """Up to ``count`` entries of sorted set ``key`` strictly after ``after``.

    The range starts at ``after``'s score, so only the ties of that score before ``after``
    are read and dropped (in chunks that grow through a long run of them).
    """
    out: list[Key] = []
    offset, chunk = 0, count
    while len(out) < count:
        if after is None:
            got = await redis.zrange(
                key, offset, offset + chunk - 1, desc=not oldest_first, withscores=True
            )
        else:
            got = await redis.zrange(
                key,
                after.score,
                "+inf" if oldest_first else "-inf",
                desc=not oldest_first,
                byscore=True,
                offset=offset,
                num=chunk,
                withscores=True,
            )
        pairs = cast(list[tuple[str, float]], got)
        out += [
            k for k in (Key(float(s), str(m)) for m, s in pairs) if beyond(k, after, oldest_first)
        ]
        if len(pairs) < chunk:
            break
        offset += len(pairs)
        chunk = min(chunk * 2, _MAX_CHUNK)
    return out[:count]


def list_source(queue: str, task_type: str) -> str:
    """The name of waiting list ``wl:{queue}:{task_type}`` as a listing source and in cursors.

    Queue and task names never hold ``/`` (``jobbers.models.names``), so it splits back.
    """
    return f"{queue}/{task_type}"


async def waiting_entries(
    redis: Redis,
    keys: Keys,
    name: str,
    last: Key | None,
    after: Key | None,
    count: int,
    oldest_first: bool,
) -> list[Key]:
    """At least ``count`` live entries of waiting list ``name`` past ``last`` and ``after``.

    The one place that reads the compact waiting lists (a list of ids in submit order; an
    id with no record in ``wait`` is a tombstone, skipped). ``last`` is the entry the
    previous page took from this list: reading resumes next to it while it is still there,
    and from the list's start (dropping what ``after`` says was shown) once it is not.
    Entries come in list order, and the run of entries sharing the last one's submit time
    is read whole (its order by id is not the list's), so no page boundary splits it.
    """
    queue, task_type = name.split("/", 1)
    key = keys.waiting_list(queue, task_type)
    if last is not None:
        found = await _walk(redis, keys, key, last.id, after, count, oldest_first)
        if found is not None:
            return found
        if not oldest_first and after is not None:
            # Newest first, the last entry shown left the list: most likely claimed at the
            # head, with what is older than it. What is left to show is at the head, so
            # look there before reading everything newer again from the tail.
            older = await _older_at_head(redis, keys, key, after)
            if older is not None:
                return older
    for _ in range(3):  # from the start, again if an entry read next to goes meanwhile
        found = await _walk(redis, keys, key, None, after, count, oldest_first)
        if found is not None:
            return found
    return []


async def _walk(
    redis: Redis,
    keys: Keys,
    key: str,
    anchor: str | None,
    after: Key | None,
    count: int,
    oldest_first: bool,
) -> list[Key] | None:
    """The live entries of list ``key`` after ``anchor`` (None: from the start) that are
    past ``after``, in list order, until ``count`` and the run of the last one's submit
    time are read; None when an anchor left the list."""
    out: list[Key] = []
    seen: set[str] = set()
    chunk = count + 1
    while len(out) <= count or out[-1].score == out[count - 1].score:
        if anchor is None:
            ids = await _read_start(redis, key, oldest_first, chunk)
        else:
            got = await _read_after(redis, key, anchor, oldest_first, chunk)
            if got is None:
                return None
            ids = got
        if not ids:
            break
        for k in await _live(redis, keys, ids):
            if k.id not in seen and beyond(k, after, oldest_first):
                seen.add(k.id)
                out.append(k)
        if len(ids) < chunk:
            break
        anchor = ids[-1]
        chunk = min(chunk * 2, _MAX_CHUNK)  # a run of tombstones: read further each time
    return out


async def _older_at_head(redis: Redis, keys: Keys, key: str, after: Key) -> list[Key] | None:
    """Newest first, the entries of list ``key`` older than ``after``, read from the head.

    They end at the first entry of a later submit time; None when they do not end within
    ``_HEAD_LOOK`` entries (then the list is read from its tail as usual).
    """
    ids = cast(list[str], await redis.lrange(key, 0, _HEAD_LOOK - 1))
    older: list[Key] = []
    for k in await _live(redis, keys, ids):
        if k.score > after.score:
            return older[::-1]
        if k < after:
            older.append(k)
    return older[::-1] if len(ids) < _HEAD_LOOK else None


async def _live(redis: Redis, keys: Keys, ids: list[str]) -> list[Key]:
    """The keys of the ids that still have a compact record (the others are tombstones)."""
    if not ids:
        return []
    records = cast(list[str | None], await redis.hmget(keys.waiting_records, ids))
    return [
        Key(record_submitted_at(record), tid)
        for tid, record in zip(ids, records, strict=True)
        if record is not None
    ]


async def _read_start(redis: Redis, key: str, oldest_first: bool, chunk: int) -> list[str]:
    """The first ``chunk`` ids of list ``key`` in the listing's order."""
    if oldest_first:
        return cast(list[str], await redis.lrange(key, 0, chunk - 1))
    return cast(list[str], await redis.lrange(key, -chunk, -1))[::-1]


async def _read_after(
    redis: Redis, key: str, anchor: str, oldest_first: bool, chunk: int
) -> list[str] | None:
    """Up to ``chunk`` ids that follow ``anchor`` in list ``key``; None once it left the list.

    The window read includes the anchor, so a list trimmed or grown between the lookup and
    the read is noticed (the anchor is not where it was) and looked up again.
    """
    for _ in range(3):
        index = cast(int | None, await redis.lpos(key, anchor, rank=1 if oldest_first else -1))
        if index is None:
            return None
        if oldest_first:
            ids = cast(list[str], await redis.lrange(key, index, index + chunk))
            if ids and ids[0] == anchor:
                return ids[1:]
        else:
            ids = cast(list[str], await redis.lrange(key, max(0, index - chunk), index))
            if ids and ids[-1] == anchor:
                return ids[-2::-1]
    return None

"""A batch's event entry stores its ids' shared start once (``idp``) and the rest (``ids``).

Each test would fail if a reader rebuilt the ids wrongly, or stopped reading the entries
written by the release before (every id whole in ``id``).
"""

from __future__ import annotations

from typing import Any

from jobbers.models.event import events_from_entry
from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from jobbers.store.protocol import RunOutcome

WORKER = "w-events"
ANY = {"noop@1": (0, 0, -1)}


async def test_a_batch_entry_names_every_task_once_in_order(state: StateManager) -> None:
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    tasks = [Task(name="noop") for _ in range(150)]
    await state.submit_many(tasks)
    res = await state.claim(WORKER, "default", 150, ANY)
    done = [state.outcome_args(t.id, t.run_id, RunOutcome.COMPLETED, "null") for t in res.tasks]
    assert all(r.ok for r in await state.finish_many(done))
    raw: Any = await state.redis.xrange(state.keys.event_stream, "-", "+")
    assert any("idp" in fields for _, fields in raw)  # the compact form is the one written
    _, events = await state.read_events("0", 0, count=1000)  # a fresh stream: these only
    ids = [str(t.id) for t in tasks]
    for status in (TaskStatus.SUBMITTED, TaskStatus.STARTED, TaskStatus.COMPLETED):
        assert sorted(e.task_id for e in events if e.status is status) == sorted(ids)
    assert [e.task_id for e in events if e.status is TaskStatus.SUBMITTED] == ids


def test_entries_of_the_previous_release_still_read() -> None:
    old = {
        "id": "01AAAAAAAAAAAAAAAAAAAAAAAA,01AAAAAAAABBBBBBBBBBBBBBBB",
        "name": "noop",
        "queue": "default",
        "from": "",
        "to": "submitted",
        "worker": "",
        "attempt": "0",
    }
    new = {
        **{k: v for k, v in old.items() if k != "id"},
        "idp": "01AAAAAAAA",
        "ids": "AAAAAAAAAAAAAAAA,BBBBBBBBBBBBBBBB",
    }
    for fields in (old, new):
        got = [e.task_id for e in events_from_entry("1700000000000-0", fields)]
        assert got == ["01AAAAAAAAAAAAAAAAAAAAAAAA", "01AAAAAAAABBBBBBBBBBBBBBBB"]

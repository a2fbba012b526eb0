"""The scheduled view lists the tasks waiting for a retry, from a real manager."""

from __future__ import annotations

import json
from collections.abc import Callable

from jobbers.tui.app import JobbersApp

from jobbers.api.client import JobbersClient
from jobbers.store.facade import StateManager

from .conftest import by_column, has_rows, keys, shows, submit

Top = Callable[..., JobbersApp]


async def fail_for_a_retry(state: StateManager, delay_s: int) -> None:
    """Claim the next ``add`` task as a registered worker would, and schedule its retry."""
    info = {"role": "default", "host": "test-host", "pid": 4242, "concurrency": 4}
    info["queues"] = json.dumps(["default"])
    await state.register_worker("w-test", 60_000, info)
    res = await state.claim("w-test", "default", 1, {"add@1": (0, 1, -1)})
    assert res.status == "ok" and res.tasks, res
    run = res.tasks[0]
    entry = {"attempt": 0, "kind": "error", "message": "ValueError: not yet", "worker_id": "w-test"}
    await state.schedule_retry(run.id, run.run_id, delay_s, entry)


async def test_the_scheduled_view_shows_when_each_retry_is_due(
    top: Top, client: JobbersClient, state: StateManager
) -> None:
    soon = await submit(client)
    await fail_for_a_retry(state, 60)
    later = await submit(client)
    await fail_for_a_retry(state, 7200)
    app = top()
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.press("6")
        await has_rows(app, "#scheduled", lambda r: len(r) == 2)
        assert keys(app, "#scheduled") == [soon, later]  # soonest first
        first, second = by_column(app, "#scheduled")
        assert first["due"] in ("1m", "59s", "58s") and second["due"].startswith(("2h", "1h59m"))
        assert first["error"] == "ValueError: not yet"
        await shows(app, "Scheduled 2 · showing 2")
        await pilot.press("enter")
        await shows(app, f"Task {soon}", "scheduled", "Due")

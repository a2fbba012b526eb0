"""The manager goes away and comes back: a banner, the last data kept, then recovery.

The manager is a real uvicorn server on a real port (in the test's event loop), so the app
sees real refused connections while it is down; nothing about HTTP or Redis is mocked.
"""

from __future__ import annotations

from jobbers.tui.app import JobbersApp
from jobbers.tui.widgets.header import Banner

from jobbers.api.client import JobbersClient
from jobbers.dev.redis_server import free_port
from tests.conftest import eventually
from tests.server.conftest import LiveManager

from .conftest import REFRESH, has_rows, shows, submit


async def test_manager_going_away_shows_a_banner_keeps_data_and_recovers(
    live_manager: LiveManager,
) -> None:
    async with JobbersClient(live_manager.url, timeout=2) as client:
        for _ in range(2):
            await submit(client)
        app = JobbersApp(client, REFRESH)
        async with app.run_test(size=(80, 24), notifications=True):
            await has_rows(app, "#overview", lambda r: len(r) == 1 and r[0][1] == "2")
            assert not app.screen.query_one(Banner).display

            await live_manager.stop()
            screen = await shows(app, "Manager unreachable", "connection refused", "retrying")
            assert "data from" in screen
            # The last data stays on screen, and the app keeps running.
            await has_rows(app, "#overview", lambda r: len(r) == 1 and r[0][1] == "2")
            assert app.is_running

            # Back on the same port: the next tick reconnects and shows fresh data.
            await live_manager.start()
            await submit(client)
            await has_rows(app, "#overview", lambda r: r[0][1] == "3")
            await eventually(lambda: not app.screen.query_one(Banner).display, what="no banner")
            await shows(app, "Reconnected")


async def test_a_manager_that_is_not_there_at_start_is_a_banner_not_a_crash() -> None:
    async with JobbersClient(f"http://127.0.0.1:{free_port()}", timeout=2) as client:
        app = JobbersApp(client, REFRESH)
        async with app.run_test(size=(80, 24)) as pilot:
            await shows(app, "Manager unreachable", "No data yet", "connecting")
            await pilot.press("3")  # every view still works, empty, with the banner
            await shows(app, "Manager unreachable")
            assert app.is_running

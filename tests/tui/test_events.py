"""``jobbers top`` refreshes on the event stream, and keeps polling when the stream drops.

The manager is a real uvicorn server (an in-process ASGI transport would wait forever for
the stream's body to end).
"""

from __future__ import annotations

from jobbers.tui.app import JobbersApp

from jobbers.api.client import JobbersClient
from tests.conftest import eventually
from tests.server.conftest import LiveManager

from .conftest import has_rows, submit

# Far longer than any wait below: a frame that shows up came from an event.
SLOW_REFRESH = 60.0


async def test_a_status_change_refreshes_the_frame_at_once(live_manager: LiveManager) -> None:
    async with JobbersClient(live_manager.url, timeout=2) as client:
        await submit(client)
        app = JobbersApp(client, SLOW_REFRESH, events=True)
        async with app.run_test(size=(80, 24)):
            await has_rows(app, "#overview", lambda r: len(r) == 1 and r[0][1] == "1")
            await eventually(lambda: app.stream_live, what="the event stream open")
            await submit(client)
            await submit(client)
            await has_rows(app, "#overview", lambda r: r[0][1] == "3", within=5)


async def test_the_app_keeps_working_when_the_stream_drops(live_manager: LiveManager) -> None:
    async with JobbersClient(live_manager.url, timeout=2) as client:
        app = JobbersApp(client, 0.25, events=True)
        async with app.run_test(size=(80, 24)):
            await eventually(lambda: app.stream_live, what="the event stream open")
            await live_manager.stop()
            await eventually(lambda: not app.stream_live, what="the stream seen dropped")
            await live_manager.start()
            await submit(client)
            # The timer, back at full pace, brings the frame; the stream comes back too.
            await has_rows(app, "#overview", lambda r: len(r) == 1 and r[0][1] == "1")
            await eventually(lambda: app.stream_live, what="the event stream back")
            await submit(client)
            await has_rows(app, "#overview", lambda r: r[0][1] == "2")

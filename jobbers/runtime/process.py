"""What every jobbers process shares: logging, the Redis URL, and signal handling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from jobbers.runtime.settings import ProcessEnv, RuntimeEnv
from jobbers.store.facade import StateManager


def setup_logging(name: str, env: RuntimeEnv) -> None:
    """Log to stderr with the process name; JOBBERS_LOG_LEVEL sets the level.

    JOBBERS_LOG_FORMAT=json writes one JSON object per line (``jobbers.runtime.log_format``).
    """
    level = env.log_level.upper()
    if env.log_format.lower() == "json":
        from jobbers.runtime.log_format import JsonFormatter

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter(name))
        logging.basicConfig(level=level, handlers=[handler])
        return
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format=f"%(asctime)s {name} %(levelname)s %(message)s",
    )


def state_from_env(env: ProcessEnv, **options: Any) -> StateManager:
    """A StateManager for REDIS_URL and JOBBERS_PREFIX (``options``: connection settings).

    The store reads JOBBERS_PREFIX itself: its default depends on the URL (``{jb}:`` on a
    cluster). A malformed URL, or a cluster URL with a prefix that has no hash tag, stops
    the process with one line saying so (exit status 1), not a traceback.
    """
    try:
        return StateManager.from_url(env.redis_url, **options)
    except ValueError as exc:
        raise SystemExit(f"jobbers: {exc}") from None


def run_process(
    main: Callable[[], Coroutine[Any, Any, None]], on_signal: Callable[[], None]
) -> None:
    """Run ``main`` until it returns; SIGTERM and SIGINT call ``on_signal``."""

    async def runner() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        await main()

    # Not asyncio.run: its final cleanup waits for every task to accept cancellation,
    # and one user task that swallows CancelledError would keep the process alive.
    loop = asyncio.new_event_loop()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            loop.run_until_complete(runner())
        leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.wait(leftovers, timeout=1.0))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()

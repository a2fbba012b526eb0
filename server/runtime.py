"""What lives as long as the app: its settings, its StateManager and its metrics."""

from __future__ import annotations

import logging

import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from jobbers.errors import StoreUnavailable
from jobbers.store.facade import StateManager

from .metrics import Metrics
from .settings import ServerSettings

log = logging.getLogger("jobbers.server")

# Event streams (GET /events) one manager serves at once; one more answers 503.
MAX_STREAMS = 100


class Runtime:
    """The app's long-lived objects, kept on ``app.state.runtime`` and reached through deps."""

    def __init__(self, settings: ServerSettings, state: StateManager | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self._owns_state = state is None
        # Built now (no connection is made yet), so a malformed REDIS_URL fails at start-up.
        # A request answers 503 fast while Redis is down: the core's connect timeout, one
        # immediate retry (enough for a pooled connection gone stale across a restart), and
        # a socket timeout so a hung Redis cannot hold a request forever. A timeout is not
        # retried (redis-py's Retry would by default): against a frozen Redis every retry
        # waits the whole timeout again, which made a request take four timeouts.
        self.state = state or StateManager.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_s,
            retry=Retry(
                ExponentialBackoff(cap=0.02, base=0.01),
                1,
                supported_errors=(redis.exceptions.ConnectionError,),
            ),
            retry_on_error=[redis.exceptions.ConnectionError],
        )
        self._defaults_ready = False
        self._stream_reader: StateManager | None = None
        self.open_streams = 0

    def stream_reader(self) -> StateManager:
        """The StateManager that ``GET /events`` streams read with, on a pool of their own.

        Each open stream holds a connection in XREAD BLOCK: on the shared pool, enough
        followers (a ``--wait`` each) would leave API requests waiting for one.
        """
        if self._stream_reader is None:
            self._stream_reader = StateManager.from_url(
                self.settings.redis_url,
                keys=self.state.keys,
                socket_timeout=self.settings.redis_timeout_s,
                max_connections=MAX_STREAMS,
            )
        return self._stream_reader

    async def ensure_defaults(self) -> None:
        """Create the default queue and role once; an outage only postpones it to a later call."""
        if self._defaults_ready:
            return
        try:
            await self.state.ensure_defaults()
        except StoreUnavailable as exc:
            log.warning("default queue and role not ensured yet: %s", exc)
            return
        self._defaults_ready = True

    async def close(self) -> None:
        """Close the StateManager if this runtime opened it; an injected one is its owner's."""
        if self._stream_reader is not None:
            await self._stream_reader.close()
        if self._owns_state:
            await self.state.close()

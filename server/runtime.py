"""What lives as long as the app: its settings, its StateManager and its metrics."""

from __future__ import annotations

import logging

import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from jobbers.errors import StoreUnavailable
from jobbers.state_manager import StateManager

from .metrics import Metrics
from .settings import ServerSettings

log = logging.getLogger("jobbers.server")


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
        if self._owns_state:
            await self.state.close()

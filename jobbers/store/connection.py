"""One place that turns ``REDIS_URL`` into a connection pool, for every jobbers process.

Why one factory: the worker (its pool, its lanes and its pub/sub listener), the manager,
the scheduler and the cleaner all reach Redis through the pool a ``StateManager`` is
built on, so a URL form added here works everywhere at once.

Two URL families:

``redis://``, ``rediss://``, ``unix://``
    redis-py's own forms, to one server.
``redis+sentinel://[[user]:password@]host1:26379,host2:26379/service[/db]``
    A master found through Redis or Valkey Sentinel. Hosts are the sentinels (port 26379
    when omitted), ``service`` is the name the sentinels monitor (``sentinel monitor
    <service> ...``), ``db`` defaults to 0. The user and password are the data nodes'
    (master and replicas); sentinels that need their own password take it from the query
    string: ``?sentinel_password=...`` (and ``sentinel_username=...``). Every connection
    asks the sentinels for the current master when it connects, and one that finds its
    server demoted (READONLY) drops itself, so after a failover each process follows the
    new master without a restart.
``redis+cluster://[[user]:password@]host:port[,host:port...][/]``
    Redis or Valkey Cluster, every jobbers key on one hash slot. Hosts are seed nodes
    (any nodes of the cluster; port 6379 when omitted); a cluster has database 0 only.
    The key prefix must carry a hash tag (``{jb}:`` by default, see ``key_prefix``), so
    every key, script and multi-key command of jobbers falls in that tag's slot, served
    by one master. Every connection asks the seeds (``CLUSTER SLOTS``) which master
    serves the slot when it connects, and one that finds the slot served elsewhere
    (MOVED, CLUSTERDOWN, a non-local key in a script) drops itself, so after a failover
    or a slot move each process follows the slot without a restart.

    Why not redis-py's ``RedisCluster``: with one slot, a cluster-aware client routes
    every command to the same master anyway, while it lacks what jobbers builds on (one
    connection pool, the lanes' own connections, MULTI/EXEC pipelines, pub/sub,
    ``CLIENT LIST`` on the server that holds every jobbers connection). A pool pinned
    to the slot's master keeps every command the standalone path sends, unchanged.
    TLS to a cluster is not offered in this form yet.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis.exceptions
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.crc import key_slot

from jobbers.store.settings import store_env

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379
CLUSTER_SCHEME = "redis+cluster"
CLUSTER_PORT = 6379
PREFIX_ENV = "JOBBERS_PREFIX"
DEFAULT_PREFIX = "jb:"
DEFAULT_CLUSTER_PREFIX = "{jb}:"


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """A Sentinel-managed pool that waits for a free connection at its limit.

    The plain pool raises "too many connections" at ``max_connections``; jobbers waits
    up to ``timeout`` instead, as its standalone pool does (``BlockingConnectionPool``).
    """

    def __init__(self, service_name: str, sentinel_manager: Sentinel, **kwargs: Any) -> None:
        super().__init__(service_name, sentinel_manager, **kwargs)  # type: ignore[no-untyped-call]


def sentinel_parts(url: str) -> tuple[list[tuple[str, int]], str, int, dict[str, str]]:
    """(sentinel addresses, service name, db, credentials) of a ``redis+sentinel://`` URL.

    Raises ValueError with the documented form when the URL does not follow it.
    """
    form = "redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]"
    parts = urlsplit(url)
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    hosts = _addresses(hostlist, SENTINEL_PORT, "sentinel address", form)
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError(f"REDIS_URL names no sentinel service; expected {form}")
    creds = _credentials(userinfo)
    for key, values in parse_qs(parts.query).items():
        if key in ("sentinel_password", "sentinel_username"):
            creds[key] = values[-1]
    return hosts, unquote(path[0]), int(path[1]) if len(path) == 2 else 0, creds


def hash_tag(prefix: str) -> str | None:
    """The hash tag a key starting with ``prefix`` is placed by, or None if the prefix has none.

    Redis's rule: the text between the first ``{`` and the first ``}`` after it, when not
    empty. A prefix with no closed tag leaves the slot to the rest of each key.
    """
    start = prefix.find("{")
    end = prefix.find("}", start + 1) if start >= 0 else -1
    return prefix[start + 1 : end] if end > start + 1 else None


def key_prefix(url: str) -> str:
    """The key prefix for ``url``: ``JOBBERS_PREFIX``, else ``jb:`` (``{jb}:`` on a cluster).

    Raises ValueError for a cluster URL with a prefix that carries no hash tag: its keys
    would spread over the cluster's slots, where jobbers' scripts and multi-key commands
    are refused.
    """
    cluster = urlsplit(url).scheme == CLUSTER_SCHEME
    default = DEFAULT_CLUSTER_PREFIX if cluster else DEFAULT_PREFIX
    env = store_env()
    prefix = env.prefix if "prefix" in env.model_fields_set else default
    if cluster and hash_tag(prefix) is None:
        raise ValueError(
            f"{PREFIX_ENV}={prefix!r} has no hash tag; on Redis Cluster every jobbers key "
            f"must share one slot: use a prefix such as '{{{prefix.strip(':{}') or 'jb'}}}:'"
        )
    return prefix


def cluster_parts(url: str) -> tuple[list[tuple[str, int]], dict[str, str]]:
    """(seed addresses, credentials) of a ``redis+cluster://`` URL.

    Raises ValueError with the documented form when the URL does not follow it.
    """
    form = "redis+cluster://[[user]:password@]host:port[,host:port...]/"
    parts = urlsplit(url)
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    hosts = _addresses(hostlist, CLUSTER_PORT, "cluster node", form)
    if parts.path.strip("/") not in ("", "0"):
        raise ValueError(f"a cluster has database 0 only; expected {form}")
    return hosts, _credentials(userinfo)


def _addresses(hostlist: str, default_port: int, what: str, form: str) -> list[tuple[str, int]]:
    """The ``host[:port],...`` list of a multi-host URL, ``default_port`` where none is given.

    Raises ValueError naming the bad item (a ``what``) and the URL's documented ``form``.
    """
    hosts: list[tuple[str, int]] = []
    for item in hostlist.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep:
            host, port = item.strip(), str(default_port)
        if not host or not port.isdigit():
            raise ValueError(f"bad {what} {item!r} in REDIS_URL; expected {form}")
        hosts.append((host, int(port)))
    return hosts


def _credentials(userinfo: str) -> dict[str, str]:
    """``username`` and ``password`` from a URL's ``user:password`` part, unquoted."""
    creds: dict[str, str] = {}
    if userinfo:
        user, _, password = userinfo.partition(":")
        if user:
            creds["username"] = unquote(user)
        if password:
            creds["password"] = unquote(password)
    return creds


# Replies that mean "this connection's server no longer serves the slot": after a
# failover, a slot move, or while the cluster has no master for it.
_NOT_HERE = (
    "Script attempted to access a non local key",
    "UNBLOCKED",
)


class SlotLocator:
    """Finds the master that serves one hash slot, asking the cluster's nodes.

    Shared by every connection of a pool: the answer is kept until a connection finds
    it stale (``forget``), so a pool of 64 connections asks once, not 64 times.
    """

    def __init__(self, seeds: list[tuple[str, int]], slot: int, **node_kwargs: Any) -> None:
        self.seeds = list(seeds)
        self.slot = slot
        # The lookups' own connections: credentials and timeouts, no name, no retry
        # (the data connection's retry policy repeats the whole connect).
        keep = ("username", "password", "socket_connect_timeout", "socket_timeout")
        self._kwargs = {k: v for k, v in node_kwargs.items() if k in keep and v is not None}
        self._known: list[tuple[str, int]] = list(seeds)
        self._owner: tuple[str, int] | None = None
        self._lock = asyncio.Lock()

    def forget(self, address: tuple[str, int]) -> None:
        """Ask again on the next connect: ``address`` no longer serves the slot."""
        if self._owner == address:
            self._owner = None

    async def owner(self) -> tuple[str, int]:
        """(host, port) of the slot's master; ConnectionError when no node names one."""
        if self._owner is not None:
            return self._owner
        async with self._lock:
            if self._owner is None:
                self._owner = await self._ask()
            return self._owner

    async def _ask(self) -> tuple[str, int]:
        errors: list[str] = []
        for address in list(self._known):
            try:
                shards = await self._cluster_slots(address)
            except (redis.exceptions.RedisError, OSError) as exc:
                errors.append(f"{address[0]}:{address[1]}: {exc}")
                continue
            found: tuple[str, int] | None = None
            for shard in shards:
                low, high, *nodes = shard
                for node in nodes:
                    peer = (_text(node[0]) or address[0], int(node[1]))
                    if peer not in self._known:
                        self._known.append(peer)
                if int(low) <= self.slot <= int(high) and nodes:
                    found = (_text(nodes[0][0]) or address[0], int(nodes[0][1]))
            if found is not None:
                # Asked first next time: a dead seed ahead of it costs a connect timeout.
                self._known.remove(address)
                self._known.insert(0, address)
                return found
            errors.append(f"{address[0]}:{address[1]}: no master serves slot {self.slot}")
        raise redis.exceptions.ConnectionError(
            f"no cluster node names the master of slot {self.slot}: {'; '.join(errors)}"
        )

    async def _cluster_slots(self, address: tuple[str, int]) -> list[Any]:
        conn = Connection(
            host=address[0], port=address[1], retry=Retry(NoBackoff(), 0), **self._kwargs
        )
        try:
            await conn.connect()  # type: ignore[no-untyped-call]
            await conn.send_command("CLUSTER", "SLOTS")
            reply = await conn.read_response()
        finally:
            await conn.disconnect(nowait=True)
        return list(reply)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ClusterSlotConnection(Connection):
    """A connection to the master that serves the pool's hash slot, found at connect."""

    def __init__(self, *, locator: SlotLocator, **kwargs: Any) -> None:
        self.locator = locator
        super().__init__(**kwargs)

    async def _connect(self) -> None:
        self.host, self.port = await self.locator.owner()
        try:
            await super()._connect()  # type: ignore[no-untyped-call]
        except BaseException:
            self.locator.forget((self.host, self.port))
            raise

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """The reply; a ConnectionError (retried on a fresh connect) when the slot moved."""
        try:
            return await super().read_response(*args, **kwargs)
        except (
            redis.exceptions.AskError,  # MOVED and ASK: the slot is (being) served elsewhere
            redis.exceptions.ClusterDownError,  # no master for a slot yet (a failover)
            redis.exceptions.TryAgainError,
            redis.exceptions.ReadOnlyError,
        ) as exc:
            await self._moved(exc)
        except redis.exceptions.ResponseError as exc:
            if not str(exc).startswith(_NOT_HERE):
                raise
            await self._moved(exc)

    async def _moved(self, exc: Exception) -> None:
        self.locator.forget((self.host, self.port))
        await self.disconnect(nowait=True)
        raise redis.exceptions.ConnectionError(
            f"{self.host}:{self.port} no longer serves slot {self.locator.slot}: {exc}"
        ) from exc


def connection_pool(
    url: str, prefix: str = DEFAULT_PREFIX, **options: Any
) -> BlockingConnectionPool:
    """A blocking pool for ``url``: one server, the master a Sentinel set names, or the
    master of a cluster that serves ``prefix``'s hash slot.

    ``options`` are redis-py connection and pool settings (timeouts, retry, client name,
    ``max_connections``, ``timeout``); they apply to the data connections, and their
    socket timeouts to the sentinel (or cluster lookup) connections too.
    """
    scheme = urlsplit(url).scheme
    if scheme == CLUSTER_SCHEME:
        seeds, creds = cluster_parts(url)
        if hash_tag(prefix) is None:
            raise ValueError(f"a cluster key prefix needs a hash tag, not {prefix!r}")
        node_kwargs = {**options, **creds}
        locator = SlotLocator(seeds, key_slot(prefix.encode()), **node_kwargs)
        return BlockingConnectionPool(
            connection_class=ClusterSlotConnection, locator=locator, **node_kwargs
        )
    if scheme != SENTINEL_SCHEME:
        return BlockingConnectionPool.from_url(url, **options)
    hosts, service, db, creds = sentinel_parts(url)
    sentinel_kwargs = {
        k: v for k, v in options.items() if k.startswith("socket_") or k == "decode_responses"
    }
    for key in ("sentinel_password", "sentinel_username"):
        if key in creds:
            sentinel_kwargs[key.removeprefix("sentinel_")] = creds.pop(key)
    node_kwargs = {**options, **creds, "db": db}
    manager = Sentinel(hosts, sentinel_kwargs=sentinel_kwargs, **node_kwargs)
    return BlockingSentinelPool(service, manager, **node_kwargs)

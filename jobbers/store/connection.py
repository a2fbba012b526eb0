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
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import BlockingConnectionPool
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379


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
    hosts: list[tuple[str, int]] = []
    for item in hostlist.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep:
            host, port = item.strip(), str(SENTINEL_PORT)
        if not host or not port.isdigit():
            raise ValueError(f"bad sentinel address {item!r} in REDIS_URL; expected {form}")
        hosts.append((host, int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError(f"REDIS_URL names no sentinel service; expected {form}")
    creds: dict[str, str] = {}
    if userinfo:
        user, _, password = userinfo.partition(":")
        if user:
            creds["username"] = unquote(user)
        if password:
            creds["password"] = unquote(password)
    for key, values in parse_qs(parts.query).items():
        if key in ("sentinel_password", "sentinel_username"):
            creds[key] = values[-1]
    return hosts, unquote(path[0]), int(path[1]) if len(path) == 2 else 0, creds


def connection_pool(url: str, **options: Any) -> BlockingConnectionPool:
    """A blocking pool for ``url``: one server, or the master a Sentinel set names.

    ``options`` are redis-py connection and pool settings (timeouts, retry, client name,
    ``max_connections``, ``timeout``); they apply to the data connections, and their
    socket timeouts to the sentinel connections too.
    """
    if urlsplit(url).scheme != SENTINEL_SCHEME:
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

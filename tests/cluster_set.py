"""A local Redis Cluster for tests: three masters, each with one replica.

Every node is the server binary the other tests use (``find_server_binary``) started with
``cluster-enabled yes``. The fixture does what ``redis-cli --cluster create`` would, with
plain commands: each master takes a third of the 16384 slots (``CLUSTER ADDSLOTSRANGE``),
every node meets the first (``CLUSTER MEET``), each replica follows its master
(``CLUSTER REPLICATE``), and ``start`` returns once every node reports ``cluster_state:ok``
and every replica's link is up.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis as SyncRedis
from redis.crc import key_slot

from jobbers.dev.redis_server import RedisServer, find_server_binary, free_port

SLOTS = 16384
# A node is marked failed after 1 s without answers, so a failover test takes seconds.
NODE_TIMEOUT_MS = 1000


def _client(port: int) -> SyncRedis:
    return SyncRedis(port=port, decode_responses=True, socket_timeout=2)


@dataclass
class ClusterSet:
    """The masters and replicas of one cluster, on free loopback ports."""

    root: Path
    replicas: bool = True
    masters: list[RedisServer] = field(default_factory=list)
    followers: list[RedisServer] = field(default_factory=list)
    bus_ports: dict[int, int] = field(default_factory=dict)  # data port -> cluster bus port

    @property
    def url(self) -> str:
        """The ``redis+cluster://`` URL of the cluster: every master as a seed."""
        hosts = ",".join(f"127.0.0.1:{m.port}" for m in self.masters)
        return f"redis+cluster://{hosts}/"

    @property
    def nodes(self) -> list[RedisServer]:
        return [*self.masters, *self.followers]

    def _node(self, name: str) -> RedisServer:
        bus = free_port()
        args = (
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            # The bus port on its own free port: the default (port + 10000) may be taken,
            # or past 65535.
            "--cluster-port", str(bus),
            # A replica takes over whatever its last contact with the master.
            "--cluster-replica-validity-factor", "0",
        )  # fmt: skip
        binary = find_server_binary()
        node = RedisServer(free_port(), self.root / name, binary=binary, extra_args=args)
        self.bus_ports[node.port] = bus
        return node.start()

    def start(self, within: float = 30.0) -> ClusterSet:
        """Start every node and form the cluster; return once it serves every slot."""
        try:
            self.masters = [self._node(f"master{n}") for n in range(3)]
            if self.replicas:
                self.followers = [self._node(f"replica{n}") for n in range(3)]
            first = self.masters[0].port
            meet = ("CLUSTER MEET", "127.0.0.1", first, self.bus_ports[first])
            for n, master in enumerate(self.masters):
                low, high = n * SLOTS // 3, (n + 1) * SLOTS // 3 - 1
                with _client(master.port) as client:
                    client.execute_command("CLUSTER ADDSLOTSRANGE", low, high)
            for node in self.nodes[1:]:
                with _client(node.port) as client:
                    client.execute_command(*meet)
            for master, replica in zip(self.masters, self.followers, strict=False):
                master_id = self.node_id(master.port)
                meets = functools.partial(self._knows, replica.port, master_id)
                self._until(meets, within, "MEET")
                with _client(replica.port) as client:
                    client.execute_command("CLUSTER REPLICATE", master_id)
            self._until(self._replicating, within, "every replica in sync")
            self._until(self.ready, within, "cluster_state:ok on every node")
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _until(check: Callable[[], bool], within: float, what: str) -> None:
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not come up: {what}")
            time.sleep(0.05)

    @staticmethod
    def node_id(port: int) -> str:
        with _client(port) as client:
            return str(client.execute_command("CLUSTER MYID"))

    @staticmethod
    def _knows(port: int, node_id: str) -> bool:
        with _client(port) as client:
            return node_id in str(client.execute_command("CLUSTER NODES"))

    def ready(self) -> bool:
        """Every node sees all slots served, and every replica is in sync with its master.

        Before ``CLUSTER REPLICATE`` every node is a master: ``start`` waits for the
        replicas' role too (``_replicating``).
        """
        for node in self.nodes:
            try:
                with _client(node.port) as client:
                    if client.cluster("INFO").get("cluster_state") != "ok":
                        return False
                    repl = client.info("replication")  # roles swap in a failover
                    if repl.get("role") == "slave" and repl.get("master_link_status") != "up":
                        return False
            except Exception:  # not up yet
                return False
        return True

    def _replicating(self) -> bool:
        for node in self.followers:
            with _client(node.port) as client:
                repl = client.info("replication")
            if repl.get("role") != "slave" or repl.get("master_link_status") != "up":
                return False
        return True

    def owner(self, key: str, exclude: int | None = None) -> int | None:
        """The port of the master serving ``key``'s slot, as the live nodes agree (else None)."""
        slot = key_slot(key.encode())
        seen = set()
        for node in self.nodes:
            if node.process is None or node.port == exclude:
                continue
            try:
                with _client(node.port) as client:
                    shards = client.execute_command("CLUSTER SLOTS")
            except Exception:
                return None
            owner = next((int(s[2][1]) for s in shards if s[0] <= slot <= s[1]), None)
            seen.add(owner)
        return seen.pop() if len(seen) == 1 else None

    def replica_of(self, port: int) -> RedisServer:
        """The node that replicates the master on ``port``."""
        for node in self.nodes:
            if node.process is not None and node.port != port:
                with _client(node.port) as client:
                    repl = client.info("replication")
                if repl.get("role") == "slave" and int(repl.get("master_port", 0)) == port:
                    return node
        raise LookupError(f"no replica of {port}")

    def server(self, port: int) -> RedisServer:
        return next(n for n in self.nodes if n.port == port)

    def stop(self) -> None:
        """Kill every node (a test may already have killed some)."""
        for node in self.nodes:
            node.stop(kill=True)

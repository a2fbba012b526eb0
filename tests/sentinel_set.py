"""A local Sentinel set for tests: one master, one replica and three sentinels.

Every process is the server binary the other tests use (``find_server_binary``): Valkey and
Redis both run as a sentinel when given ``--sentinel`` and a writable config file.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis as SyncRedis

from jobbers.dev.redis_server import RedisServer, find_server_binary, free_port

SERVICE = "mymaster"
# Fast failover for tests: down after 1 s, a quorum of 2 of 3 sentinels.
_SENTINEL_CONF = """port {port}
bind 127.0.0.1
protected-mode no
daemonize no
dir {dir}
sentinel monitor {service} 127.0.0.1 {master} 2
sentinel down-after-milliseconds {service} 1000
sentinel failover-timeout {service} 4000
sentinel parallel-syncs {service} 1
"""


@dataclass
class SentinelSet:
    """The servers and sentinels of one monitored service, on free loopback ports."""

    root: Path
    master: RedisServer | None = None
    replica: RedisServer | None = None
    sentinel_ports: list[int] = field(default_factory=list)
    sentinels: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The ``redis+sentinel://`` URL of the service, database 0."""
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def start(self, within: float = 20.0) -> SentinelSet:
        """Start everything; return once every sentinel sees the replica and its peers."""
        binary = find_server_binary()
        self.master = RedisServer(free_port(), self.root / "master", binary=binary).start()
        replicaof = ("--replicaof", "127.0.0.1", str(self.master.port))
        self.replica = RedisServer(
            free_port(), self.root / "replica", binary=binary, extra_args=replicaof
        ).start()
        for n in range(3):
            port = free_port()
            folder = self.root / f"sentinel{n}"
            folder.mkdir(parents=True, exist_ok=True)
            conf = folder / "sentinel.conf"
            conf.write_text(
                _SENTINEL_CONF.format(
                    port=port, dir=folder, service=SERVICE, master=self.master.port
                )
            )
            log = open(folder / "sentinel.log", "ab")  # noqa: SIM115 - lives with the child
            self.sentinels.append(
                subprocess.Popen([binary, str(conf), "--sentinel"], stdout=log, stderr=log)
            )
            log.close()
            self.sentinel_ports.append(port)
        deadline = time.monotonic() + within
        while not self._ready():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sentinel set did not come up")
            time.sleep(0.1)
        return self

    def _ready(self) -> bool:
        """Each sentinel knows the master, the replica (in sync) and the two other sentinels."""
        for port in self.sentinel_ports:
            try:
                with SyncRedis(port=port, decode_responses=True, socket_timeout=1) as client:
                    state = client.sentinel_master(SERVICE)
                    replicas = client.sentinel_slaves(SERVICE)
            except Exception:  # not up yet
                return False
            if state.get("num-other-sentinels", 0) < 2 or not replicas:
                return False
            if any(r.get("master-link-status") != "ok" for r in replicas):
                return False
        return True

    def master_port(self) -> int | None:
        """The master's port when every sentinel reports the same one, else None."""
        ports = set()
        for port in self.sentinel_ports:
            with SyncRedis(port=port, decode_responses=True) as client:
                addr = client.sentinel_get_master_addr_by_name(SERVICE)
            ports.add(int(addr[1]) if addr else None)
        return ports.pop() if len(ports) == 1 else None

    def stop(self) -> None:
        """Kill every process (the test may already have killed the master)."""
        for proc in self.sentinels:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        for server in (self.master, self.replica):
            if server is not None:
                server.stop(kill=True)

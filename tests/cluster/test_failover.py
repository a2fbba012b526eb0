"""Cluster failover under load: the master of jobbers' slot is SIGKILLed, its replica
takes the slot over, and every process follows it without a restart.

The manager answers 503 during the switch, never 500; with ``JOBBERS_SUBMIT_REPLICAS=1``
every acknowledged task survives the failover and completes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis as SyncRedis

from jobbers.dev.redis_server import RedisServer
from jobbers.store.facade import StateManager
from tests.cluster_set import ClusterSet
from tests.conftest import eventually
from tests.failover import loading, processes, started
from tests.procs import Procs, figure, live_workers


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[ClusterSet]:
    """A cluster of this test's own: it loses a master."""
    yield from started(ClusterSet(tmp_path / "cluster"))


async def test_a_manual_failover_moves_every_process_to_the_new_master(
    shared_cluster: ClusterSet, cluster_state: StateManager, cluster_procs: Procs, prefix: str
) -> None:
    """The old master stays up as a replica: connections to it are answered MOVED (or
    UNBLOCKED in a blocking wait), and each must find the slot's new master by itself."""
    state, url = cluster_state, shared_cluster.url
    cluster_procs.worker(concurrency=4)
    await live_workers(state, 1)
    async with loading(url) as load:
        old = shared_cluster.owner(prefix)
        assert old is not None
        replica = shared_cluster.replica_of(old)
        with SyncRedis(port=replica.port) as node:
            node.cluster("FAILOVER")
        switched_at = time.monotonic()
        await eventually(
            lambda: shared_cluster.owner(prefix) == replica.port,
            within=20,
            what="the replica to take the slot over",
        )
        await eventually(
            lambda: load.acked_after(switched_at) >= 20,
            within=20,
            what="20 submits acknowledged after the switch",
        )
    figure("cluster: manual failover -> 503 answers", load.codes.get(503, 0), "")
    await load.all_completed(state, cluster_procs.logs)
    assert set(load.codes) <= {200, 201, 503}, load.codes
    assert "Traceback" not in cluster_procs.logs()
    assert await state.redis.cluster("MYID") == ClusterSet.node_id(replica.port)
    await eventually(shared_cluster.ready, within=20, what="the old master in sync again")


async def test_the_slots_master_is_killed_and_its_replica_takes_over(
    own_cluster: ClusterSet, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBBERS_SUBMIT_REPLICAS", "1")
    async with processes(own_cluster.url, tmp_path) as (state, procs, others):
        async with loading(own_cluster.url) as load:
            killed_port = own_cluster.owner(prefix)
            assert killed_port is not None
            old = own_cluster.server(killed_port)
            old.stop(kill=True)
            killed_at = time.monotonic()
            await eventually(
                lambda: own_cluster.owner(prefix) not in (None, killed_port),
                within=20,
                what="the replica to take the slot over",
            )
            promoted = time.monotonic() - killed_at
            # The old master comes back as the new master's replica, so submits that WAIT
            # for one replica are acknowledged again.
            own_cluster.masters[own_cluster.masters.index(old)] = RedisServer(
                killed_port, old.data_dir, binary=old.binary, extra_args=old.extra_args
            ).start()
            await eventually(
                lambda: load.acked_after(killed_at) >= 20,
                within=30,
                what="20 submits acknowledged after the failover",
            )
        # Replies already on their way when the master died are read after ``killed_at``.
        takeover = killed_at + promoted
        figure("cluster: master SIGKILL -> the replica serves the slot", promoted)
        await load.after_failover("cluster", killed_at, takeover, state, procs, others)

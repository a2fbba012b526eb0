"""The Redis Cluster suite: every test here carries the ``cluster`` marker.

Run it alone with ``.venv/bin/python -m pytest -m cluster``. One cluster serves the suite
(forming one takes seconds); each test takes its own key prefix, hence its own hash
slot, so tests never see each other's keys. A test that kills a node forms its own.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from jobbers.store.facade import StateManager
from tests.cluster_set import ClusterSet
from tests.failover import started
from tests.procs import Procs

HERE = Path(__file__).resolve().parent
_PREFIXES = itertools.count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterSet]:
    """Three masters and their replicas, shared by the tests that kill no node."""
    yield from started(ClusterSet(tmp_path_factory.mktemp("cluster")))


@pytest.fixture
def prefix(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh hash-tagged prefix for this test and the processes it starts."""
    value = f"{{jbt{next(_PREFIXES)}}}:"
    monkeypatch.setenv("JOBBERS_PREFIX", value)
    return value


@pytest.fixture
async def cluster_state(shared_cluster: ClusterSet, prefix: str) -> AsyncIterator[StateManager]:
    """A StateManager on the shared cluster, under the test's own prefix, defaults made."""
    state = StateManager.from_url(shared_cluster.url)
    await state.ensure_defaults()
    try:
        yield state
    finally:
        await state.close()


@pytest.fixture
def cluster_procs(shared_cluster: ClusterSet, prefix: str, tmp_path: Path) -> Iterator[Procs]:
    """Jobbers processes on the shared cluster (they inherit the test's prefix)."""
    procs = Procs(shared_cluster.url, tmp_path)
    try:
        yield procs
    finally:
        procs.close()

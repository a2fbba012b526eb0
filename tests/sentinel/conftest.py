"""The Sentinel suite: every test here carries the ``sentinel`` marker.

Run it alone with ``.venv/bin/python -m pytest -m sentinel``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.failover import started
from tests.sentinel_set import SentinelSet

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.sentinel)


@pytest.fixture
def sentinel_set(tmp_path: Path) -> Iterator[SentinelSet]:
    """A fresh master, replica and three sentinels (a failover test consumes its master)."""
    yield from started(SentinelSet(tmp_path / "sentinel"))

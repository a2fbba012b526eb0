"""The fault-injection suite: every test here carries the ``faults`` marker.

Run it alone with ``.venv/bin/python -m pytest -m faults`` (``docs/reliability.md``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.faults)

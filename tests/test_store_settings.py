"""The store's own variables (``jobbers.store.settings``), read when a StateManager is built.

The store is also a library (``StateManager(Redis())``): without a process to check them
first, a bad value must still name its variable.
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from jobbers.store.facade import StateManager


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JOBBERS_SUBMIT_REPLICAS", "many"),
        ("JOBBERS_SUBMIT_WAIT_MS", "1s"),
        ("JOBBERS_EVENTS_MAXLEN", "-1"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=f"^{variable}: ") as raised:
        StateManager(Redis())  # no connection is made
    assert "\n" not in str(raised.value)


def _read(state: StateManager) -> tuple[int, int, int, str]:
    """What ``state`` took from the environment."""
    replicas, events = (state.submit_replicas, state.submit_wait_ms), state.scripts.events_max
    return (*replicas, events, state.keys.prefix)


def settings_read() -> tuple[int, int, int, str]:
    """What a StateManager built now read: replicas, wait, events cap, prefix."""
    state = StateManager(Redis())
    return (
        state.submit_replicas,
        state.submit_wait_ms,
        state.scripts.events_max,
        state.keys.prefix,
    )


def test_the_store_reads_its_variables_and_an_empty_one_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = {
        "JOBBERS_SUBMIT_REPLICAS": "2",
        "JOBBERS_SUBMIT_WAIT_MS": "250",
        "JOBBERS_EVENTS_MAXLEN": "0",  # events off
        "JOBBERS_PREFIX": "app:",
    }
    for variable, value in values.items():
        monkeypatch.setenv(variable, value)
    read = settings_read()
    assert read == (2, 250, 0, "app:")
    for variable in values:
        monkeypatch.setenv(variable, "")
    read = settings_read()
    assert read == (0, 1000, 10_000, "")  # an empty JOBBERS_PREFIX is no prefix, as before

"""``jobbers.store.connection``: the URL forms every process accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.crc import key_slot

from jobbers.dev.redis_server import mask_password
from jobbers.store.connection import (
    BlockingSentinelPool,
    SlotLocator,
    cluster_parts,
    connection_pool,
    key_prefix,
    sentinel_parts,
)
from jobbers.store.facade import StateManager
from tests.conftest import TASKS_MODULE, spawn


def test_a_sentinel_url_names_the_sentinels_the_service_the_db_and_the_passwords() -> None:
    url = "redis+sentinel://app:s%40cret@10.0.0.1:26380,10.0.0.2/mymaster/3?sentinel_password=x"
    hosts, service, db, creds = sentinel_parts(url)
    assert hosts == [("10.0.0.1", 26380), ("10.0.0.2", 26379)]
    assert (service, db) == ("mymaster", 3)
    assert creds == {"username": "app", "password": "s@cret", "sentinel_password": "x"}
    assert sentinel_parts("redis+sentinel://h/svc")[1:3] == ("svc", 0)


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://h1:26379",  # no service
        "redis+sentinel://h1:26379/svc/db0",  # a db that is not a number
        "redis+sentinel://h1:port/svc",  # a port that is not a number
        "redis+sentinel://h1:1/svc/0/extra",
    ],
)
def test_a_malformed_sentinel_url_is_refused_with_the_documented_form(url: str) -> None:
    with pytest.raises(ValueError, match="redis\\+sentinel://"):
        StateManager.from_url(url)


def test_the_pool_asks_the_sentinels_for_the_master_and_keeps_the_settings() -> None:
    pool = connection_pool(
        "redis+sentinel://:pw@127.0.0.1:1/svc/2", max_connections=7, client_name="jobbers:w:x"
    )
    assert isinstance(pool, BlockingSentinelPool)
    assert pool.service_name == "svc" and pool.max_connections == 7
    kwargs = pool.connection_kwargs
    assert (kwargs["db"], kwargs["password"], kwargs["client_name"]) == (2, "pw", "jobbers:w:x")
    plain = connection_pool("redis://127.0.0.1:1/0", client_name="n")
    assert not isinstance(plain, BlockingSentinelPool)


def test_banners_mask_both_passwords_of_a_sentinel_url() -> None:
    url = "redis+sentinel://u:pw@h1:1,h2:2/m/0?sentinel_password=zz&x=1"
    assert mask_password(url) == "redis+sentinel://u:***@h1:1,h2:2/m/0?sentinel_password=***&x=1"


def test_a_cluster_url_names_the_seeds_and_the_credentials() -> None:
    hosts, creds = cluster_parts("redis+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2/")
    assert hosts == [("10.0.0.1", 7000), ("10.0.0.2", 6379)]
    assert creds == {"username": "app", "password": "s@cret"}
    assert cluster_parts("redis+cluster://h:1,h:2") == ([("h", 1), ("h", 2)], {})
    assert mask_password("redis+cluster://u:pw@h1:1,h2:2/") == "redis+cluster://u:***@h1:1,h2:2/"


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://h1:port/",  # a port that is not a number
        "redis+cluster://h1:1,/",  # an empty seed
        "redis+cluster://h1:1/3",  # a cluster has db 0 only
    ],
)
def test_a_malformed_cluster_url_is_refused_with_the_documented_form(url: str) -> None:
    with pytest.raises(ValueError, match="redis\\+cluster://"):
        StateManager.from_url(url)


def test_a_cluster_prefix_carries_a_hash_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "redis+cluster://127.0.0.1:1/"
    monkeypatch.delenv("JOBBERS_PREFIX", raising=False)
    assert key_prefix(url) == "{jb}:"
    assert key_prefix("redis://127.0.0.1:1/0") == "jb:"  # standalone: unchanged
    pool = connection_pool(url, "{jb}:", max_connections=7, client_name="jobbers:w:x")
    assert isinstance(pool.connection_kwargs["locator"], SlotLocator)
    assert pool.connection_kwargs["locator"].slot == key_slot(b"jb")
    assert (pool.max_connections, pool.connection_kwargs["client_name"]) == (7, "jobbers:w:x")
    # The data connections and the slot lookups both log in with the URL's credentials.
    secured = connection_pool("redis+cluster://app:pw@h:1/", "{jb}:", client_name="n")
    assert (secured.connection_kwargs["username"], secured.connection_kwargs["password"]) == (
        "app",
        "pw",
    )
    lookup = secured.connection_kwargs["locator"]._kwargs
    assert (lookup["username"], lookup["password"]) == ("app", "pw")
    assert "client_name" not in lookup  # a lookup is not one of the worker's connections
    for tagged in ("{app}:", "x{t}:", "{a}b{c}:"):
        monkeypatch.setenv("JOBBERS_PREFIX", tagged)
        assert StateManager.from_url(url).keys.prefix == tagged
    for untagged in ("jb:", "{}:", "jb{:", "", "}{jb:"):
        monkeypatch.setenv("JOBBERS_PREFIX", untagged)
        with pytest.raises(ValueError, match="hash tag"):
            StateManager.from_url(url)


def test_a_worker_refuses_a_cluster_prefix_without_a_hash_tag_in_one_line(
    tmp_path: Path,
) -> None:
    log = tmp_path / "worker.log"
    proc = spawn(
        ["-m", "jobbers.runtime.worker_main", TASKS_MODULE],
        "redis+cluster://127.0.0.1:1/",
        {"JOBBERS_PREFIX": "jb:"},
        log,
    )
    assert proc.wait(timeout=30) == 1
    out = log.read_text()
    assert "JOBBERS_PREFIX='jb:' has no hash tag" in out and "Traceback" not in out, out

"""The core never imports the faces or their frameworks."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

FACES = ["textual", "typer", "fastapi", "uvicorn", "jobbers.cli", "jobbers.tui", "jobbers.server"]


def _loaded_after(imports: str) -> set[str]:
    code = f"import sys; {imports}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_imports_no_face() -> None:
    loaded = _loaded_after(
        "import jobbers, jobbers.runtime.worker, jobbers.store.facade, jobbers.runtime.scheduler, "
        "jobbers.runtime.cleaner, jobbers.registry, jobbers.models, jobbers.api.schemas"
    )
    assert not loaded & set(FACES), loaded & set(FACES)


def test_worker_loads_no_metrics_or_integration_library_until_enabled() -> None:
    # Hooks, metrics and the integrations cost a worker nothing at start unless used.
    # (opentelemetry is not checked: redis-py itself imports it when it is installed.)
    loaded = _loaded_after(
        "import jobbers, jobbers.runtime.worker, jobbers.runtime.worker_main, jobbers.hooks, "
        "jobbers.context"
    )
    heavy = {m for m in loaded if m.split(".")[0] in ("prometheus_client", "sentry_sdk")}
    assert not heavy, heavy
    assert "jobbers.integrations" not in loaded and "jobbers.runtime.metrics" not in loaded


def test_every_store_verb_maps_redis_outages() -> None:
    """Every public coroutine of the store goes through ``store_op`` (``store_verbs``), the
    run and schedule verbs StateManager delegates to its parts included."""
    from redis.asyncio import Redis

    from jobbers.store.facade import StateManager
    from jobbers.store.verbs import is_mapped
    from jobbers.store.workflows import Workflows

    state = StateManager(Redis())  # no connection is made
    unmapped = []
    for part in (state, state.runs, state.schedules, Workflows(state)):
        for name in dir(part):
            verb = getattr(part, name)
            public = not name.startswith("_")
            if public and inspect.iscoroutinefunction(verb) and not is_mapped(verb):
                unmapped.append(f"{type(part).__name__}.{name}")
    assert not unmapped, unmapped
    assert is_mapped(state.claim) and is_mapped(state.list_schedules)  # delegated ones


ROOT = Path(__file__).resolve().parent.parent
# Only the store talks to Redis; tests and bench look at the real keys on purpose, and the
# dev tooling starts Redis servers.
OUTSIDE_THE_STORE = ("jobbers", "server", "cli", "tui")
MAY_TALK_TO_REDIS = ("jobbers/store/", "jobbers/dev/")
# Files not yet moved onto store verbs, each with the reason; an entry goes with its fix.
TALKS_TO_REDIS_FOR_NOW: set[str] = set()
# The store's insides: a StateManager's connection, scripts and lanes.
_STORE_INSIDES = {"redis", "scripts", "fetch_lane", "runs", "schedules", "config", "dashboard"}
# Commands only a Redis client (or its pipelines) answers.
_CLIENT_CALLS = {"pubsub", "pipeline", "execute_command"}
# redis-py's client; its exceptions and retry policies are no commands.
_CLIENT_MODULES = {"redis", "redis.asyncio", "redis.asyncio.client", "redis.client"}


def _redis_uses(source: str) -> list[str]:
    """Where ``source`` sends Redis commands itself: through a StateManager's insides, a
    client's own calls, or redis-py's client imported."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in _STORE_INSIDES:
            owner = ast.unparse(node.value)
            if owner.split(".")[-1] == "state":
                found.append(f"{node.lineno}: {owner}.{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in _CLIENT_CALLS:
                found.append(f"{node.lineno}: .{node.func.attr}()")
        elif isinstance(node, ast.Import):
            found += [
                f"{node.lineno}: import {a.name}" for a in node.names if a.name in _CLIENT_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and node.module in _CLIENT_MODULES:
            names = [a.name for a in node.names if a.name not in ("exceptions", "backoff")]
            found += [f"{node.lineno}: from {node.module} import {n}" for n in names]
    return found


def test_nothing_outside_the_store_sends_redis_commands() -> None:
    offenders = {}
    for folder in OUTSIDE_THE_STORE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(MAY_TALK_TO_REDIS) or rel in TALKS_TO_REDIS_FOR_NOW:
                continue
            if uses := _redis_uses(path.read_text()):
                offenders[rel] = uses
    assert not offenders, f"call store verbs instead: {offenders}"


def test_the_redis_check_sees_each_kind_of_use() -> None:
    source = (
        "import redis.asyncio\nfrom redis.asyncio import Redis\n"
        "async def f(self, state, pipe):\n"
        "    await self.state.redis.hset('k', 'f', 'v')\n"
        "    state.scripts.events_max\n"
        "    pipe.pipeline()\n"
    )
    assert len(_redis_uses(source)) == 5
    fine = "import redis.exceptions\nfrom redis.asyncio.retry import Retry\nx = health.redis\n"
    assert _redis_uses(fine) == []


def test_state_manager_offers_every_verb_of_its_parts() -> None:
    """Callers see one object: each public verb of its parts (``Runs``, ``Schedules``,
    ``Config``, ``Dashboard``) is reachable on StateManager under its own name, and is that
    part's verb."""
    from redis.asyncio import Redis

    from jobbers.store.config import Config
    from jobbers.store.dashboard import Dashboard
    from jobbers.store.facade import StateManager
    from jobbers.store.runs import Runs
    from jobbers.store.schedules import Schedules

    state = StateManager(Redis())
    parts = (("runs", Runs), ("schedules", Schedules), ("config", Config), ("dashboard", Dashboard))
    for attr, part in parts:
        verbs = [n for n, v in vars(part).items() if not n.startswith("_") and callable(v)]
        missing = [n for n in verbs if not hasattr(StateManager, n)]
        assert not missing, f"StateManager does not offer {part.__name__}: {missing}"
        for name in verbs:
            assert getattr(state, name) == getattr(getattr(state, attr), name), name

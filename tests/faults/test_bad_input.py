"""Bad input on every write endpoint (and the filters of the listings): a clear 4xx, no trace.

Each case runs against the real app over a seeded Redis (a waiting task, a dead-lettered
one, a queue and a role) and must get the status the API documents (``server/errors.py``:
404 unknown, 409 conflict, 413 too large, 422 invalid, 400 unparseable) with a JSON
``detail``; and the whole keyspace, key by key and value by value, must be unchanged.
Bulk endpoints answer per id (``invalid_id``, ``not_found``) with 200 and change nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from jobbers.models.queue import QueueConfig, Role
from jobbers.models.task import Task
from jobbers.store.facade import StateManager
from tests.procs import keyspace
from tests.server.conftest import client_for, make_app

UNKNOWN = "01JBKR2E5F3G4H5J6K718M9N0P"  # a well-formed id no task has
OVERSIZE = 1024 * 1024 + 1  # the manager's default body limit, plus one byte

HOSTILE_NAMES = {
    "empty": "",
    "65-chars": "q" * 65,
    "10k-chars": "q" * 10_000,
    "space": "a b",
    "colon": "jb:task",
    "star": "*",
    "braces": "{a}",
    "unicode": "очередь",
    "traversal": "../../etc/passwd",
    "dot-first": ".hidden",
    "newline": "a\nb",
    "nul": "a\x00b",
}
SAMPLE_NAMES = ("65-chars", "colon", "star", "braces", "unicode", "nul")
BAD_IDS = {
    "short": "01JBKR2E5F3G4H5J6K718M9N0",
    "long": "01JBKR2E5F3G4H5J6K718M9N0PQ",
    "not-crockford": "01JBKR2E5F3G4H5J6K718M9N0U",
    "overflow": "81JBKR2E5F3G4H5J6K718M9N0P",
    "unicode": "01JBKR2E5F3G4H5J6K718M9N0é",
    "traversal": "../../../../../../../etc/pw",
    "star": "*" * 26,
}


@dataclass(frozen=True)
class Seeded:
    """What the seed stored: ids of a waiting and of a dead-lettered task."""

    waiting: str
    failed: str


@dataclass(frozen=True)
class Case:
    """One bad request and the answer the API documents for it."""

    method: str
    path: str
    status: int
    json: Any = None
    content: bytes | None = None
    ctype: str = "application/json"
    loc: tuple[str | int, ...] = ()  # where a 422 must point (a prefix of its loc)
    outcomes: dict[str, str] | None = None  # per-id answers of a 200 bulk call


def j(method: str, path: str, body: Any, status: int, *loc: str | int) -> Case:
    """A JSON body."""
    return Case(method, path, status, json=body, loc=loc)


def raw(
    method: str, path: str, content: bytes, status: int, ctype: str = "application/json"
) -> Case:
    """Bytes sent as they are, under ``ctype``."""
    return Case(method, path, status, content=content, ctype=ctype)


# Every endpoint that takes a body, with a valid body for it (so only the damage differs).
BODY_ENDPOINTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "submit": ("POST", "/submit-task", {"name": "noop"}),
    "submit-many": ("POST", "/submit-tasks", {"tasks": [{"name": "noop"}]}),
    "cancel-many": ("POST", "/tasks/cancel", {"task_ids": [UNKNOWN]}),
    "retry": ("POST", "/task/{waiting}/retry", {"reset_retry_count": True}),
    "queue-create": ("POST", "/queues", {"name": "fresh"}),
    "queue-put": ("PUT", "/queues/q1", {"max_concurrent": 2}),
    "role-create": ("POST", "/roles", {"name": "fresh", "queues": ["q1"]}),
    "role-put": ("PUT", "/roles/r1", {"queues": ["default"]}),
    "dlq-resubmit": ("POST", "/dead-letter-queue/resubmit", {"task_ids": [UNKNOWN]}),
    "dlq-delete": ("DELETE", "/dead-letter-queue", {"task_ids": [UNKNOWN]}),
}


def _cases() -> list[Any]:
    cases: dict[str, Case] = {}

    # --- anything wrong with the body itself, on every endpoint that reads one
    for name, (method, path, valid) in BODY_ENDPOINTS.items():
        padding = "x" * OVERSIZE
        cases[f"{name}-oversize"] = j(method, path, {**valid, "pad": padding}, 413)
        cases[f"{name}-not-json"] = raw(method, path, b"{not json", 422)
        cases[f"{name}-text-plain"] = raw(
            method, path, json.dumps(valid).encode(), 422, "text/plain"
        )
        cases[f"{name}-array"] = j(method, path, [valid], 422, "body")
        cases[f"{name}-extra-field"] = j(method, path, {**valid, "colour": "red"}, 422, "body")
        cases[f"{name}-deep-nesting"] = raw(method, path, b"[" * 100_000 + b"]" * 100_000, 400)
        cases[f"{name}-bad-utf8"] = raw(method, path, b'{"name": "\xff\xfe"}', 400)
    for name in ("submit", "submit-many", "cancel-many", "queue-create", "role-create"):
        method, path, _ = BODY_ENDPOINTS[name]
        cases[f"{name}-empty-object"] = j(method, path, {}, 422, "body")
        cases[f"{name}-empty-body"] = raw(method, path, b"", 422)
        cases[f"{name}-string"] = j(method, path, "x", 422, "body")
        cases[f"{name}-form"] = raw(
            method, path, b"name=x", 422, "application/x-www-form-urlencoded"
        )

    # --- submit: ids, names, versions, queues, parameters
    submit = "/submit-task"
    for label, bad in BAD_IDS.items():
        cases[f"submit-id-{label}"] = j(
            "POST", submit, {"id": bad, "name": "noop"}, 422, "body", "id"
        )
    cases["submit-id-number"] = j("POST", submit, {"id": 12345, "name": "noop"}, 422, "body", "id")
    cases["submit-id-list"] = j(
        "POST", submit, {"id": [UNKNOWN], "name": "noop"}, 422, "body", "id"
    )
    cases["submit-unknown-task"] = j("POST", submit, {"name": "nope"}, 422, "body", "name")
    cases["submit-unknown-version"] = j(
        "POST", submit, {"name": "noop", "version": 99}, 422, "body", "name"
    )
    cases["submit-huge-version"] = j(
        "POST", submit, {"name": "noop", "version": 10**30}, 422, "body"
    )
    cases["submit-negative-version"] = j(
        "POST", submit, {"name": "noop", "version": -1}, 422, "body", "version"
    )
    cases["submit-version-text"] = j(
        "POST", submit, {"name": "noop", "version": "one"}, 422, "body", "version"
    )
    cases["submit-version-float"] = j(
        "POST", submit, {"name": "noop", "version": 1.5}, 422, "body", "version"
    )
    cases["submit-version-null"] = j(
        "POST", submit, {"name": "noop", "version": None}, 422, "body", "version"
    )
    cases["submit-version-bool"] = j(
        "POST", submit, {"name": "noop", "version": True}, 422, "body", "version"
    )
    cases["submit-version-numeric-text"] = j(
        "POST", submit, {"name": "noop", "version": "1"}, 422, "body", "version"
    )
    cases["submit-name-number"] = j("POST", submit, {"name": 7}, 422, "body", "name")

    # --- batch submit: all or nothing, so one bad task refuses the whole body
    many = "/submit-tasks"
    ok = {"name": "noop"}
    cases["submit-many-empty-list"] = j("POST", many, {"tasks": []}, 422, "body", "tasks")
    cases["submit-many-1001"] = j("POST", many, {"tasks": [ok] * 1001}, 422, "body", "tasks")
    cases["submit-many-not-a-list"] = j("POST", many, {"tasks": ok}, 422, "body", "tasks")
    cases["submit-many-unknown-task"] = j(
        "POST", many, {"tasks": [ok, {"name": "nope"}]}, 422, "body", "tasks", 1, "name"
    )
    cases["submit-many-bad-id"] = j(
        "POST", many, {"tasks": [ok, {"id": "nope", "name": "noop"}]}, 422, "body", "tasks", 1
    )
    cases["submit-many-unknown-queue"] = j(
        "POST",
        many,
        {"tasks": [ok, {"name": "noop", "queue": "nope"}]},
        422,
        "body",
        "tasks",
        1,
        "queue",
    )
    cases["submit-many-same-id-twice"] = j(
        "POST", many, {"tasks": [{"id": UNKNOWN, "name": "noop"}] * 2}, 422
    )
    cases["submit-unknown-queue"] = j(
        "POST", submit, {"name": "noop", "queue": "nope"}, 422, "body", "queue"
    )
    cases["submit-params-list"] = j(
        "POST", submit, {"name": "noop", "parameters": [1]}, 422, "body", "parameters"
    )
    cases["submit-params-null"] = j(
        "POST", submit, {"name": "noop", "parameters": None}, 422, "body", "parameters"
    )
    cases["submit-params-nan"] = raw(
        "POST", submit, b'{"name": "noop", "parameters": {"x": NaN}}', 422
    )
    cases["submit-params-inf"] = raw(
        "POST", submit, b'{"name": "noop", "parameters": {"x": 1e999}}', 422
    )
    cases["submit-params-over-512k"] = j(
        "POST",
        submit,
        {"name": "noop", "parameters": {"x": "y" * 600_000}},
        422,
        "body",
        "parameters",
    )
    for label, bad in HOSTILE_NAMES.items():
        cases[f"submit-name-{label}"] = j("POST", submit, {"name": bad}, 422, "body", "name")
        cases[f"submit-queue-{label}"] = j(
            "POST", submit, {"name": "noop", "queue": bad}, 422, "body", "queue"
        )

    # --- task ids in paths: malformed (422), unknown (404), wrong state (409)
    for label, bad in BAD_IDS.items():
        tid = quote(bad, safe="")
        if "/" in bad:  # decoded into extra path segments: no route has that shape
            cases[f"cancel-id-{label}"] = Case("POST", f"/task/{tid}/cancel", 404)
            continue
        cases[f"cancel-id-{label}"] = Case(
            "POST", f"/task/{tid}/cancel", 422, loc=("path", "task_id")
        )
        cases[f"retry-id-{label}"] = Case(
            "POST", f"/task/{tid}/retry", 422, loc=("path", "task_id")
        )
    cases["cancel-unknown"] = Case("POST", f"/task/{UNKNOWN}/cancel", 404)
    cases["retry-unknown"] = Case("POST", f"/task/{UNKNOWN}/retry", 404)
    cases["cancel-failed-task"] = Case("POST", "/task/{failed}/cancel", 409)
    cases["retry-waiting-task"] = Case("POST", "/task/{waiting}/retry", 409)
    cases["retry-flag-text"] = j(
        "POST", "/task/{failed}/retry", {"reset_retry_count": "maybe"}, 422, "body"
    )
    cases["retry-flag-truthy-text"] = j(
        "POST", "/task/{failed}/retry", {"reset_retry_count": "true"}, 422, "body"
    )

    # --- bulk cancel
    cancel = "/tasks/cancel"
    cases["cancel-many-empty-list"] = j("POST", cancel, {"task_ids": []}, 422, "body", "task_ids")
    cases["cancel-many-1001-ids"] = j(
        "POST", cancel, {"task_ids": [UNKNOWN] * 1001}, 422, "body", "task_ids"
    )
    cases["cancel-many-numbers"] = j("POST", cancel, {"task_ids": [1, 2]}, 422, "body", "task_ids")
    cases["cancel-many-not-a-list"] = j(
        "POST", cancel, {"task_ids": UNKNOWN}, 422, "body", "task_ids"
    )
    bulk_ids = [BAD_IDS["short"], BAD_IDS["traversal"], UNKNOWN]
    per_id = {
        BAD_IDS["short"]: "invalid_id",
        BAD_IDS["traversal"]: "invalid_id",
        UNKNOWN: "not_found",
    }
    cases["cancel-many-junk-ids"] = Case(
        "POST", cancel, 200, json={"task_ids": bulk_ids}, outcomes=per_id
    )
    cases["cancel-many-failed-task"] = Case(
        "POST", cancel, 200, json={"task_ids": ["{failed}"]}, outcomes={"{failed}": "conflict: "}
    )

    # --- queue and role names: every hostile name where names are created, a sample
    # of them everywhere else a name is read (one validator serves them all)
    for label, bad in HOSTILE_NAMES.items():
        cases[f"queue-create-name-{label}"] = j(
            "POST", "/queues", {"name": bad}, 422, "body", "name"
        )
        cases[f"role-create-name-{label}"] = j("POST", "/roles", {"name": bad}, 422, "body", "name")
        cases[f"role-create-queue-{label}"] = j(
            "POST", "/roles", {"name": "r9", "queues": [bad]}, 422, "body", "queues"
        )
        if bad and "/" not in bad:  # a single path segment (other shapes: routing cases)
            segment = quote(bad, safe="")
            cases[f"queue-put-path-{label}"] = j(
                "PUT", f"/queues/{segment}", {}, 422, "path", "name"
            )
    for label in SAMPLE_NAMES:
        bad = HOSTILE_NAMES[label]
        cases[f"role-put-queue-{label}"] = j(
            "PUT", "/roles/r1", {"queues": [bad]}, 422, "body", "queues"
        )
        cases[f"dlq-resubmit-queue-{label}"] = j(
            "POST", "/dead-letter-queue/resubmit", {"queue": bad}, 422, "body", "queue"
        )
        cases[f"dlq-delete-name-{label}"] = j(
            "DELETE", "/dead-letter-queue", {"task_name": bad}, 422, "body", "task_name"
        )
        segment = quote(bad, safe="")
        cases[f"queue-delete-path-{label}"] = Case(
            "DELETE", f"/queues/{segment}", 422, loc=("path", "name")
        )
        cases[f"queue-pause-path-{label}"] = Case(
            "POST", f"/queues/{segment}/pause", 422, loc=("path", "name")
        )
        cases[f"queue-purge-path-{label}"] = Case(
            "POST", f"/queues/{segment}/purge", 422, loc=("path", "name")
        )
        cases[f"role-put-path-{label}"] = j(
            "PUT", f"/roles/{segment}", {"queues": []}, 422, "path", "role_name"
        )
        cases[f"role-delete-path-{label}"] = Case(
            "DELETE", f"/roles/{segment}", 422, loc=("path", "role_name")
        )
        cases[f"list-queue-filter-{label}"] = Case(
            "GET", f"/task-list?queue={segment}", 422, loc=("query", "queue")
        )
    for path in ("/queues/..%2F..%2Fetc", "/roles/..%2Fx", "/queues/a%2Fb/pause"):
        cases[f"route-traversal-{path}"] = j(
            "PUT" if "pause" not in path else "POST", path, {}, 404
        )
    limits: dict[str, Any] = {
        "max_concurrent-0": {"max_concurrent": 0},
        "max_concurrent-negative": {"max_concurrent": -1},
        "max_concurrent-huge": {"max_concurrent": 10**30},
        "max_concurrent-float": {"max_concurrent": 1.5},
        "max_concurrent-text": {"max_concurrent": "lots"},
        "max_concurrent-numeric-text": {"max_concurrent": "2"},
        "max_concurrent-bool": {"max_concurrent": True},
        "rate-0": {"rate_numerator": 0, "rate_period": "second"},
        "rate-negative": {"rate_numerator": -5, "rate_period": "second"},
        "rate-huge": {"rate_numerator": 10**12, "rate_period": "second"},
        "denominator-0": {"rate_numerator": 1, "rate_denominator": 0, "rate_period": "second"},
        "denominator-huge": {"rate_numerator": 1, "rate_denominator": 10**9, "rate_period": "day"},
        "period-unknown": {"rate_numerator": 1, "rate_period": "fortnight"},
        "period-number": {"rate_numerator": 1, "rate_period": 60},
        "rate-without-period": {"rate_numerator": 5},
        "period-without-rate": {"rate_period": "second"},
    }
    for label, fields in limits.items():
        cases[f"queue-create-{label}"] = j(
            "POST", "/queues", {"name": "fresh", **fields}, 422, "body"
        )
        cases[f"queue-put-{label}"] = j("PUT", "/queues/q1", fields, 422, "body")
    cases["queue-create-max-concurrent-inf"] = raw(
        "POST", "/queues", b'{"name": "f", "max_concurrent": 1e400}', 422
    )
    cases["queue-create-max-concurrent-nan"] = raw(
        "POST", "/queues", b'{"name": "f", "max_concurrent": NaN}', 422
    )
    cases["queue-put-paused-field"] = j(
        "PUT", "/queues/q1", {"paused": True}, 422, "body", "paused"
    )
    cases["queue-put-other-name"] = j("PUT", "/queues/q1", {"name": "q2"}, 422, "body", "name")
    cases["queue-create-taken"] = j("POST", "/queues", {"name": "default"}, 409)
    cases["queue-delete-busy"] = Case("DELETE", "/queues/busy", 409)
    for action in ("pause", "resume", "purge"):
        cases[f"queue-{action}-unknown"] = Case("POST", f"/queues/nope/{action}", 404)
    cases["queue-delete-unknown"] = Case("DELETE", "/queues/nope", 404)

    # --- roles
    cases["role-create-unknown-queue"] = j(
        "POST", "/roles", {"name": "r9", "queues": ["nope"]}, 422
    )
    cases["role-create-257-queues"] = j(
        "POST", "/roles", {"name": "r9", "queues": ["q1"] * 257}, 422, "body", "queues"
    )
    cases["role-create-queues-text"] = j(
        "POST", "/roles", {"name": "r9", "queues": "q1"}, 422, "body", "queues"
    )
    cases["role-create-taken"] = j("POST", "/roles", {"name": "default", "queues": []}, 409)
    cases["role-put-unknown-queue"] = j("PUT", "/roles/r1", {"queues": ["nope"]}, 422)
    cases["role-put-other-name"] = j(
        "PUT", "/roles/r1", {"name": "r2", "queues": []}, 422, "body", "name"
    )
    cases["role-delete-unknown"] = Case("DELETE", "/roles/nope", 404)

    # --- dead-letter queue bulk verbs
    for verb, method, path in (
        ("resubmit", "POST", "/dead-letter-queue/resubmit"),
        ("delete", "DELETE", "/dead-letter-queue"),
    ):
        for label, limit in (
            ("0", 0),
            ("negative", -1),
            ("1001", 1001),
            ("huge", 10**20),
            ("text", "all"),
        ):
            cases[f"dlq-{verb}-limit-{label}"] = j(
                method, path, {"limit": limit}, 422, "body", "limit"
            )
        cases[f"dlq-{verb}-version-negative"] = j(
            method, path, {"task_version": -1}, 422, "body", "task_version"
        )
        cases[f"dlq-{verb}-version-text"] = j(
            method, path, {"task_version": "v1"}, 422, "body", "task_version"
        )
        cases[f"dlq-{verb}-ids-and-filter"] = j(
            method, path, {"task_ids": [UNKNOWN], "queue": "default"}, 422, "body", "task_ids"
        )
        cases[f"dlq-{verb}-1001-ids"] = j(
            method, path, {"task_ids": [UNKNOWN] * 1001}, 422, "body", "task_ids"
        )
    cases["dlq-resubmit-junk-ids"] = Case(
        "POST", "/dead-letter-queue/resubmit", 200, json={"task_ids": bulk_ids}, outcomes=per_id
    )
    cases["dlq-delete-junk-ids"] = Case(
        "DELETE", "/dead-letter-queue", 200, json={"task_ids": bulk_ids}
    )

    # --- the filters of the listings (reads, but the same rules)
    for label, query in {
        "status-unknown": "status=bogus",
        "status-upper": "status=SUBMITTED",
        "status-star": "status=*",
        "limit-0": "limit=0",
        "limit-negative": "limit=-1",
        "limit-1001": "limit=1001",
        "limit-huge": "limit=100000000000000000000000",
        "limit-text": "limit=all",
        "cursor-junk": "cursor=not-a-cursor",
        "cursor-huge": "cursor=" + "A" * 65,
    }.items():
        cases[f"task-list-{label}"] = Case("GET", f"/task-list?{query}", 422, loc=("query",))
    cases["task-list-unknown-queue"] = Case("GET", "/task-list?queue=nope", 404)
    cases["active-limit-negative"] = Case(
        "GET", "/active-tasks?limit=-5", 422, loc=("query", "limit")
    )
    cases["scheduled-limit-huge"] = Case(
        "GET", "/scheduled-tasks?limit=99999", 422, loc=("query", "limit")
    )
    cases["dlq-list-version-negative"] = Case(
        "GET", "/dead-letter-queue?task_version=-1", 422, loc=("query", "task_version")
    )
    for label, minutes in (("0", 0), ("121", 121), ("negative", -5), ("text", "ten")):
        cases[f"stats-minutes-{label}"] = Case(
            "GET", f"/stats?minutes={minutes}", 422, loc=("query", "minutes")
        )
    return [pytest.param(case, id=label) for label, case in cases.items()]


@pytest.fixture
async def seeded(state: StateManager, clean_redis: str) -> Seeded:
    """A waiting task, a dead-lettered one, a queue with work and a spare queue and role."""
    from tests.server.conftest import failure

    await state.create_queue(QueueConfig(name="q1"))
    await state.create_queue(QueueConfig(name="busy"))
    await state.create_role(Role(name="r1", queues=["q1"]))
    waiting = await state.submit_task(Task(name="noop", queue="busy"))
    doomed = await state.submit_task(Task(name="boom"))
    await state.register_worker("w-seed", 60_000, {"role": "default", "queues": "[]"})
    claimed = await state.claim("w-seed", "default", 1, {"boom@1": (0, 1, -1)})
    await state.fail(claimed.tasks[0].id, claimed.tasks[0].run_id, failure())
    await state.deregister_worker("w-seed")
    assert (await state.get_task(doomed.id)).in_dlq
    return Seeded(waiting=str(waiting.id), failed=str(doomed.id))


@pytest.fixture
async def api(state: StateManager, clean_redis: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real app on the seeded Redis."""
    async with client_for(make_app(clean_redis, state)) as client:
        yield client


def _fill(value: Any, seeded: Seeded) -> Any:
    """``value`` with the ``{waiting}`` and ``{failed}`` placeholders replaced by real ids."""
    if isinstance(value, str):
        return value.replace("{waiting}", seeded.waiting).replace("{failed}", seeded.failed)
    if isinstance(value, list):
        return [_fill(v, seeded) for v in value]
    if isinstance(value, dict):
        return {_fill(k, seeded): _fill(v, seeded) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", _cases())
async def test_bad_input_is_a_clear_4xx_and_stores_nothing(
    case: Case, seeded: Seeded, api: httpx.AsyncClient, clean_redis: str
) -> None:
    before = keyspace(clean_redis)
    path = _fill(case.path, seeded)
    if case.content is not None:
        headers = {"content-type": case.ctype}
        response = await api.request(case.method, path, content=case.content, headers=headers)
    elif case.json is not None:
        response = await api.request(case.method, path, json=_fill(case.json, seeded))
    else:
        response = await api.request(case.method, path)

    assert response.status_code == case.status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if case.status == 200:
        outcomes = body.get("results", {})
        for tid, outcome in _fill(case.outcomes or {}, seeded).items():
            assert outcomes[tid].startswith(outcome), body
    elif case.status == 422:
        assert isinstance(body["detail"], list) and body["detail"], body
        for error in body["detail"]:
            assert error["msg"] and error["type"] and isinstance(error["loc"], list), error
        if case.loc:
            assert any(tuple(e["loc"][: len(case.loc)]) == case.loc for e in body["detail"]), body
    else:
        assert isinstance(body["detail"], str) and body["detail"], body
    after = keyspace(clean_redis)
    assert len(after) == len(before)  # DBSIZE
    assert after == before

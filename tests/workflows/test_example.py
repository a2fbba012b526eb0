"""The README's three-step example (``examples/workflow.py`` + ``examples/workflow.json``)
runs to the end on a real worker, each step reading the one before it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from jobbers.registry import load_tasks_module
from tests.conftest import ROOT

from .test_dependencies import finished


async def test_the_three_step_example_completes(
    client: httpx.AsyncClient, start_worker: Callable[..., Any]
) -> None:
    load_tasks_module(str(ROOT / "examples" / "workflow.py"))
    graph = json.loads((ROOT / "examples" / "workflow.json").read_text())
    response = await client.post("/submit-workflow", json=graph)
    assert response.status_code == 201, response.text
    wf = response.json()
    await start_worker()
    assert (await finished(client, wf["id"]))["status"] == "completed"
    published = (await client.get(f"/task-status/{wf['tasks']['publish']}")).json()
    assert published["results"]["from"] == wf["tasks"]["transform"]
    assert published["results"]["text"] == "Oslo: 39 F; Lima: 66 F; Pune: 88 F"

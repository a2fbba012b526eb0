"""A three-step workflow: extract, then transform, then publish (``examples/workflow.json``).

Run it with ``jobbers dev examples/workflow.py``, then from another terminal::

    jobbers workflow submit examples/workflow.json --wait   # prints the ids, exit 0 when done
    jobbers workflow status ID                              # the graph as a tree with statuses
    jobbers status TASK_ID                                  # publish's results name its input

Each step reads what the steps before it returned through the task handle:
``task.parent_results`` maps each parent's id to its results, ``task.parents`` gives each
parent's status. Nothing is copied into the parameters.
"""

from __future__ import annotations

from typing import Any

from jobbers import task
from jobbers.registry import register_task


@register_task(name="extract", version=1, max_concurrent=None)
async def extract(**kwargs: Any) -> dict[str, Any]:
    """The first step: some rows from a (simulated) source."""
    rows = [{"city": c, "temp_c": t} for c, t in (("Oslo", 4), ("Lima", 19), ("Pune", 31))]
    return {"source": kwargs.get("source", "demo"), "rows": rows}


@register_task(name="transform", version=1, max_concurrent=None)
async def transform(**kwargs: Any) -> dict[str, Any]:
    """The second step: converts every row its parent extracted."""
    rows = [row for result in task.parent_results.values() for row in result["rows"]]
    unit = kwargs.get("unit", "F")
    return {"rows": [{**r, "temp_f": round(r["temp_c"] * 9 / 5 + 32)} for r in rows], "unit": unit}


@register_task(name="publish", version=1, max_concurrent=None)
async def publish(**kwargs: Any) -> dict[str, Any]:
    """The last step: publishes what the transform made (here: a one-line summary)."""
    ((parent_id, result),) = task.parent_results.items()
    lines = [f"{r['city']}: {r['temp_f']} F" for r in result["rows"]]
    return {
        "channel": kwargs.get("channel", "#weather"),
        "from": parent_id,
        "text": "; ".join(lines),
    }

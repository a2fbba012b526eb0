"""``jobbers status ID`` without Typer or pydantic, tried by the entry point first.

It takes the command line the Typer command documents, less ``--wait``/``--timeout``: one
ID, and ``--url``, ``-o/--output``, ``--json``, ``-q/--quiet`` in any order. It fetches the
task's JSON through ``jobbers.api.transport`` (the typed client's own plumbing) and prints it
with the command's renderer (``views.print_task``), so stdout, the ``error:`` line and the
exit status are the command's. Anything else, or an answer it cannot vouch for (a field
the model would reject), returns None before printing, and the Typer command takes over.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from .choices import Status
from .exit_codes import UsageProblem, exit_code_for, one_line
from .inputs import check_url
from .main import skip_httpx_cli
from .output import Mode, Output, RawJson
from .views import print_task

if TYPE_CHECKING:
    import httpx

# The fields of jobbers.models.task.Task and TaskError, and which of them are times; the
# models would reject any other field. tests/cli/test_quick_path.py compares with the models.
TASK_KEYS = frozenset(
    {
        "id", "name", "version", "queue", "parameters", "status", "results", "retry_attempt",
        "recoveries", "attempt_base", "submitted_at", "started_at", "heartbeat_at", "completed_at",
        "scheduled_for", "last_error", "errors", "worker_id", "progress", "progress_message",
        "max_heartbeat_interval", "cancel_requested", "in_dlq", "priority",
        "depends_on", "on_parent_failure", "children", "workflow_id",
    }
)  # fmt: skip
ERROR_KEYS = frozenset({"attempt", "at", "kind", "exc_type", "message", "traceback", "worker_id"})
TIME_KEYS = frozenset(
    {"submitted_at", "started_at", "heartbeat_at", "completed_at", "scheduled_for", "at"}
)
STATUSES = frozenset(s.value for s in Status)

_VALUED = {"--url": "url", "--output": "output", "-o": "output"}
_FLAGS = {"--json": "json", "--quiet": "quiet", "-q": "quiet"}
_MODES = {m.value: m for m in Mode}
# Crockford base32 after jobbers.api.schemas.canonical_ulid's aliases: no I, L, O or U.
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
_ALIASES = str.maketrans("ILOilo", "110110")


class StatusArgs(NamedTuple):
    """A ``jobbers status`` command line the quick path can answer."""

    task_id: str
    url: str | None
    mode: Mode | None


def run(
    args: Sequence[str],
    stdout: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int | None:
    """Answer ``jobbers status ARGS`` and return the exit status; None leaves it to Typer."""
    parsed = parse(args)
    if parsed is None:
        return None
    try:
        task_id = canonical_id(parsed.task_id)
        check_url(parsed.url)
        skip_httpx_cli()
        from jobbers.api.transport import RawClient

        with RawClient(parsed.url, transport=transport) as client:
            text = client.get(f"/task-status/{task_id}").text
    except Exception as exc:
        code = exit_code_for(exc)
        if code is None:
            raise
        sys.stderr.write(f"error: {one_line(exc)}\n")
        return int(code)
    task = task_record(text)
    if task is None:
        return None
    print_task(Output(parsed.mode, stdout), RawJson(text), task)
    return 0


def parse(args: Sequence[str]) -> StatusArgs | None:
    """The command line as click would read it, or None for anything the quick path leaves."""
    ids: list[str] = []
    values: dict[str, str] = {}
    flags: set[str] = set()
    rest = iter(args)
    for arg in rest:
        if arg in _FLAGS:
            flags.add(_FLAGS[arg])
            continue
        name, value = arg, None
        if arg.startswith("--") and "=" in arg:
            name, _, value = arg.partition("=")
        elif arg.startswith("-o") and len(arg) > 2:
            name, value = "-o", arg[2:]
        if name in _VALUED:
            value = next(rest, None) if value is None else value
            if value is None:
                return None
            values[_VALUED[name]] = value
        elif arg.startswith("-"):
            return None  # --wait, --help, "-", an unknown option: Typer's to answer
        else:
            ids.append(arg)
    output = values.get("output")
    if len(ids) != 1 or (output is not None and output not in _MODES):
        return None
    mode = Mode.QUIET if "quiet" in flags else Mode.JSON if "json" in flags else None
    return StatusArgs(ids[0], values.get("url"), mode or (_MODES[output] if output else None))


def canonical_id(value: str) -> str:
    """``jobbers.api.schemas.canonical_ulid`` without python-ulid; UsageProblem with its words."""
    if len(value) != 26:
        raise UsageProblem(f"{value!r} is not a ULID: expected 26 Crockford base32 characters")
    canonical = value.translate(_ALIASES).upper()
    if not _ULID.fullmatch(canonical):
        raise UsageProblem(
            f"{value!r} is not a ULID: expected 26 Crockford base32 characters, the first 0-7"
        )
    return canonical


def task_record(text: str) -> SimpleNamespace | None:
    """The task JSON read as the model would expose it (times as datetimes), or None.

    None when the document is not one the Task model would accept as it stands: the typed
    command then reports it (as an unexpected answer) in its own words.
    """
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or set(data) != TASK_KEYS:
            return None
        errors = data["errors"]
        if not isinstance(data["id"], str) or data["status"] not in STATUSES:
            return None
        if not isinstance(errors, list) or any(
            not isinstance(e, dict) or set(e) != ERROR_KEYS for e in errors
        ):
            return None
        record = _with_times(data)
        record["errors"] = [SimpleNamespace(**_with_times(e)) for e in errors]
        return SimpleNamespace(**record)
    except (ValueError, TypeError):
        return None


def _with_times(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its timestamps parsed, as pydantic gives them (aware UTC datetimes)."""
    return {
        k: dt.datetime.fromisoformat(v) if k in TIME_KEYS and v is not None else v
        for k, v in data.items()
    }

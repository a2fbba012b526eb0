"""Exit statuses of every ``jobbers`` command, and the one place errors become them.

======  ==================================================================
status  meaning
======  ==================================================================
0       success
1       the manager failed or refused (5xx, 503, 401)
2       usage error: bad option, parameter, JSON, id or ``--url`` (also a
        400/413/422), or a confirmation needed with no terminal to ask on
3       not found: no such task, queue or role
4       conflict: the current state does not allow it (409)
5       cannot reach the manager
6       ``--wait``: the task ended other than ``completed``
7       ``--wait --timeout``: the time ran out while the task was still
        waiting or running (it goes on; wait again with ``status --wait``)
8       declined: the user answered no to a confirmation; nothing changed
======  ==================================================================

A bulk command (several ids) exits with the status of its first failed id.
"""

from __future__ import annotations

import re
import sys
from enum import IntEnum
from typing import TYPE_CHECKING, TypeGuard

if TYPE_CHECKING:
    from pydantic_core import ValidationError


class ExitCode(IntEnum):
    """The documented exit statuses; scripts may rely on them."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    UNREACHABLE = 5
    NOT_COMPLETED = 6
    STILL_RUNNING = 7
    DECLINED = 8


class CliError(Exception):
    """Base class of the errors the CLI raises itself; ``code`` is its exit status."""

    code = ExitCode.FAILURE


class UsageProblem(CliError):
    """Raised when the command line or its input (stdin, a file) cannot be used."""

    code = ExitCode.USAGE


class Declined(CliError):
    """Raised when the user answers no to a confirmation: not a failure, so its own status."""

    code = ExitCode.DECLINED


class TaskNotCompleted(CliError):
    """Raised by ``--wait`` when the task ends otherwise than ``completed``."""

    code = ExitCode.NOT_COMPLETED


class StillRunning(CliError):
    """Raised by ``--wait --timeout`` when time runs out first: the task has not ended yet.

    Distinct from 6 so that a script can tell "it failed" from "wait longer".
    """

    code = ExitCode.STILL_RUNNING


class SomeFailed(CliError):
    """Raised after a bulk command printed its results, when some ids failed."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


def exit_code_for(error: BaseException) -> ExitCode | None:
    """The exit status for an error the CLI expects, or None for a bug (shown as a traceback)."""
    if isinstance(error, CliError):
        return error.code
    if _is_validation_error(error):
        return ExitCode.USAGE
    # Imported here so that `jobbers --help` loads no httpx.
    from jobbers.api import transport as client

    match error:
        case client.ManagerUnreachable():
            return ExitCode.UNREACHABLE
        case client.NotFound():
            return ExitCode.NOT_FOUND
        case client.Conflict():
            return ExitCode.CONFLICT
        case client.InvalidRequest() | client.PayloadTooLarge():
            return ExitCode.USAGE
        case client.ClientError():
            return ExitCode.FAILURE
    return None


def one_line(error: BaseException) -> str:
    """An expected error as the single line printed after ``error:`` on stderr.

    The manager's words are for API clients: where they point at a route, the line names
    the ``jobbers`` command instead. Control characters are dropped (``output.clean``).
    """
    if _is_validation_error(error):
        first = error.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        return f"{loc}: {first['msg']}" if loc else str(first["msg"])
    from .output import clean

    text = " ".join(clean(str(error)).split()) or type(error).__name__
    for route, command in _ROUTE_HINTS:
        text = route.sub(command, text)
    return text


# A hint of the manager's that names an HTTP route, and the command that does the same.
_ROUTE_HINTS = [
    (
        re.compile(r"queue '([^']+)' does not exist; create it first \(POST /queues\)"),
        r"queue '\1' does not exist; create it with: jobbers queues create \1",
    ),
]


def _is_validation_error(error: BaseException) -> TypeGuard[ValidationError]:
    """True for pydantic's ValidationError, without importing pydantic to find out.

    Such an error exists only once pydantic_core is loaded, so a command that never loads
    it (a help page, completion) need not pay ~100 ms to learn that its error is not one.
    """
    core = sys.modules.get("pydantic_core")
    return core is not None and isinstance(error, core.ValidationError)


_SUCCESSES = frozenset({"cancelled", "cancel_requested", "resubmitted"})
_FAILURES = {"not_found": ExitCode.NOT_FOUND, "invalid_id": ExitCode.USAGE}


def exit_code_for_outcome(outcome: str) -> ExitCode:
    """The exit status for one id's outcome in a bulk answer (``results`` of the API).

    The API's vocabulary: the outcome itself, ``not_found``, ``invalid_id``,
    ``conflict: <why>`` or ``error: <why>``.
    """
    if outcome in _SUCCESSES:
        return ExitCode.OK
    if outcome.startswith("conflict:"):
        return ExitCode.CONFLICT
    return _FAILURES.get(outcome, ExitCode.FAILURE)

"""Errors of the jobbers core.

::

    JobbersError
    ├── TaskDefinitionError      a @register_task call or a tasks module is invalid
    ├── TaskNotFound             no task has this id
    ├── QueueNotFound            no queue has this name
    ├── RoleNotFound             no role has this name
    ├── ScheduleNotFound         no schedule has this name
    ├── UnknownTask              (name, version) is not registered where it is needed
    ├── InvalidInput             well-formed, but names something that cannot be used
    │   └── InvalidDocument      parameters or results JSON cannot be stored and read back
    ├── Conflict                 the request clashes with the current state
    │   ├── InvalidTransition    the task's status does not allow the operation
    │   ├── DuplicateTask        the id exists with different content
    │   └── AlreadyExists        a queue or role of that name exists
    └── StoreUnavailable         Redis cannot be reached

The server maps each class to one HTTP status in one place (``server/errors.py``).
"""

from __future__ import annotations


class JobbersError(Exception):
    """Base class of every error the core raises on purpose."""


class TaskDefinitionError(JobbersError):
    """Raised when a task registration or a tasks module is invalid."""


class TaskNotFound(JobbersError):
    """Raised when no task has the given id."""


class QueueNotFound(JobbersError):
    """Raised when a queue name is not configured."""


class RoleNotFound(JobbersError):
    """Raised when a role name is not configured."""


class ScheduleNotFound(JobbersError):
    """Raised when a schedule name is not stored (issue 15 §2)."""


class UnknownTask(JobbersError):
    """Raised when (name, version) is not in the registry that must run it."""


class InvalidInput(JobbersError, ValueError):
    """Raised when a request is well-formed but refers to something that cannot be used.

    ``field`` names the offending field of a submitted task and ``item`` its position in a
    batch, so an API can point at it (a 422's ``loc``) rather than at the whole body.
    """

    def __init__(self, message: str, *, field: str | None = None, item: int | None = None):
        super().__init__(message)
        self.field = field
        self.item = item


class InvalidDocument(InvalidInput):
    """Raised when parameters or results hold a string UTF-8 cannot encode or nest too deep.

    Such JSON parses, but could not be sent back out: stored, it would break every read.
    """


class Conflict(JobbersError):
    """Raised when a request clashes with the current state."""


class InvalidTransition(Conflict):
    """Raised when a task's status does not allow the requested operation."""


class DuplicateTask(Conflict):
    """Raised when a submitted id exists with different content."""


class AlreadyExists(Conflict):
    """Raised when creating a queue or role whose name is taken."""


class StoreUnavailable(JobbersError):
    """Raised when Redis cannot be reached or answers with a connection error."""


class RunStopped(BaseException):
    """Raised in a plain ``def`` task, at its next ``task.heartbeat_sync()``, once its run
    was stopped (cancel, timeout, worker shutdown) while its thread went on.

    A BaseException, like ``asyncio.CancelledError``, so that the task's own
    ``except Exception`` does not swallow it.
    """

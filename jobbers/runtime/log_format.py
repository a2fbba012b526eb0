"""``JOBBERS_LOG_FORMAT=json``: one JSON object per log line, with the running task's ids.

Every line logged while a task runs (by the task, by a library it calls, by the worker
about that run, in a ``def`` task's thread too) carries ``task_id``, ``task_name``,
``task_version``, ``attempt`` (1 for the first run) and ``run_id``, read from the task
handle's context variable.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from jobbers.context import running_task


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        """The record's time, level, logger, process, message, task ids and exception."""
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "process": self.process,
            "message": record.getMessage(),
        }
        ctx = running_task()
        if ctx is not None:
            line.update(
                task_id=ctx.id,
                task_name=ctx.name,
                task_version=ctx.version,
                attempt=ctx.attempt + 1,  # 1 for the first run, as Sentry and OTel say
                run_id=ctx.run_id,
            )
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)

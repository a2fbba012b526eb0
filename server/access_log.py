"""The manager's access log: polls are debug lines, everything else stays at INFO.

``jobbers top`` polls several read endpoints every second, and the CLI's ``--wait`` polls a
task's status: at INFO their access lines drown out what an operator looks for (submits,
cancels, deletes, errors). A successful GET or HEAD is therefore logged at DEBUG, shown
only with ``JOBBERS_LOG_LEVEL=DEBUG``; every other method, and any answer of 400 or more,
keeps its INFO line.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

READS = frozenset({"GET", "HEAD"})


class QuietReads(logging.Filter):
    """Turns uvicorn's access record of a successful read into a debug one."""

    def __init__(self, show_debug: bool = False) -> None:
        super().__init__()
        self.show_debug = show_debug

    def filter(self, record: logging.LogRecord) -> bool:
        """False drops the record; uvicorn's args are (client, method, path, version, status)."""
        args = record.args
        if not (isinstance(args, tuple) and len(args) == 5 and args[1] in READS):
            return True
        status = args[4]
        if not isinstance(status, int) or status >= 400:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return self.show_debug


def log_config(show_debug: bool = False) -> dict[str, Any]:
    """uvicorn's own logging configuration, with ``QuietReads`` on the access handler.

    ``show_debug``: JOBBERS_LOG_LEVEL is DEBUG (``jobbers_manager`` reads it with its other
    variables, in ``ManagerEnv``), so the successful reads are shown too.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["quiet_reads"] = {"()": QuietReads, "show_debug": show_debug}
    config["handlers"]["access"]["filters"] = ["quiet_reads"]
    return config

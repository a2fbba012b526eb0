"""Child processes that do not outlive the process that started them.

``jobbers dev`` starts Redis, the manager and the workers. When it is killed with SIGKILL
it cannot stop them, and orphans would keep the manager's port and Redis' data folder
busy, so the next ``jobbers dev`` fails. On Linux the kernel can send each child a signal
when its parent dies (``PR_SET_PDEATHSIG``); elsewhere this is a no-op.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when this process dies."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()

    def arm() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), sig)

    return arm

"""CLI start-up: runs ``bench/cli_startup.py`` (its owner's method) and keeps its table."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from .cli_startup import BARE, goal_of
from .common import ROOT

__all__ = ["BARE", "goal_of", "run"]


def run(runs: int, warmup: int) -> dict[str, Any]:
    """The start-up table as printed, and each command's median in ms by label."""
    script = str(ROOT / "bench" / "cli_startup.py")
    out = subprocess.run(
        [sys.executable, script, "--runs", str(runs), "--warmup", str(warmup)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    table = [line for line in out.splitlines() if line.startswith("|")]
    medians: dict[str, float] = {}
    header = [c.strip() for c in table[0].strip("|").split("|")] if table else []
    col = header.index("median") if "median" in header else 2
    for line in table[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        medians[cells[0].strip("`")] = float(cells[col])
    return {"table": "\n".join(table), "medians": medians}

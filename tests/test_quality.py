"""The project's own rules: ruff, ruff format, mypy --strict, and no keyspace scans."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_check() -> None:
    out = _run("ruff", "check", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format() -> None:
    out = _run("ruff", "format", "--check", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict() -> None:
    out = _run("mypy")
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_keys_or_scan_in_product_code() -> None:
    pattern = re.compile(r"\.keys\(\s*['\"]|scan_iter\(|\.scan\(|'KEYS'|\"KEYS\"|'SCAN'|\"SCAN\"")
    offenders = []
    for folder in ("jobbers", "server", "cli", "tui"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".lua"} and pattern.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []

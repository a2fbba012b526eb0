"""The project's own rules: ruff, ruff format, mypy --strict, and no keyspace scans."""

from __future__ import annotations

import ast
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


# Where the environment may be read: the settings models (pydantic-settings, issue 17), the
# HTTP transport (the CLI and the TUI read JOBBERS_URL and JOBBERS_API_TOKEN there, where
# their start-up time matters more), and the dev tooling.
MAY_READ_THE_ENVIRONMENT = (
    "jobbers/dev/",
    "jobbers/store/settings.py",
    "jobbers/runtime/settings.py",
    "jobbers/api/transport.py",
    "server/settings.py",
)
_ENVIRONMENT_READS = {"environ", "environb", "getenv", "getenvb"}


def _environment_reads(source: str) -> list[int]:
    """Lines of ``source`` that read the environment: ``os.environ``, ``os.getenv`` and the
    like, or those names imported from ``os``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            read = node.value.id == "os" and node.attr in _ENVIRONMENT_READS
        elif isinstance(node, ast.ImportFrom):
            read = node.module == "os" and any(a.name in _ENVIRONMENT_READS for a in node.names)
        else:
            continue
        if read:
            lines.append(node.lineno)
    return lines


def test_only_the_settings_models_read_the_environment() -> None:
    """Every variable goes through a settings model, so each process's ``--help`` lists it
    and a bad value is one clear line, not a traceback from wherever it was read."""
    offenders = []
    for folder in ("jobbers", "server"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name.startswith(MAY_READ_THE_ENVIRONMENT):
                continue
            offenders += [f"{name}:{line}" for line in _environment_reads(path.read_text())]
    assert offenders == [], f"read these through a settings model: {offenders}"

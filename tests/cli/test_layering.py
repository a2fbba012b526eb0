"""The CLI and the client load only what a command needs; choices mirror the core enums."""

from __future__ import annotations

import subprocess
import sys

from jobbers.cli.choices import Period, Status

from jobbers.models.queue import RatePeriod
from jobbers.models.task import TaskStatus
from jobbers.redis_server import free_port

HEAVY = {"textual", "fastapi", "uvicorn", "starlette", "redis"}


def _loaded_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_importing_the_cli_loads_no_heavy_framework_nor_the_client() -> None:
    loaded = _loaded_after("import jobbers.cli.app")
    light = HEAVY | {"httpx", "rich", "pydantic", "jobbers.client", "jobbers.schemas"}
    assert not loaded & light, loaded & light


def test_help_loads_no_textual_fastapi_or_redis() -> None:
    code = (
        "from jobbers.cli.app import app\n"
        "try:\n    app(['--help'], prog_name='jobbers')\nexcept SystemExit:\n    pass"
    )
    loaded = _loaded_after(code)
    assert not loaded & (HEAVY | {"pydantic"}), loaded & HEAVY


def test_an_api_command_loads_the_client_but_no_server_or_tui() -> None:
    code = (
        "from jobbers.cli.app import app\n"
        f"try:\n    app(['status', '01JBKR2E5F3G4H5J6K7M8N9P0Q', '--url', "
        f"'http://127.0.0.1:{free_port()}'], prog_name='jobbers')\n"
        "except SystemExit as exc:\n    assert exc.code == 5, exc.code"
    )
    loaded = _loaded_after(code)
    assert "jobbers.client" in loaded and "httpx" in loaded
    assert not loaded & HEAVY, loaded & HEAVY
    # The blocking face needs no event loop, and httpx's own CLI (click, rich) stays unloaded.
    assert not loaded & {"asyncio", "rich", "click", "pygments"}, loaded


def test_the_client_imports_no_redis_server_cli_or_tui() -> None:
    loaded = _loaded_after("import jobbers.client")
    forbidden = {"redis", "fastapi", "typer", "textual", "jobbers.cli", "jobbers.server"}
    assert not loaded & forbidden, loaded & forbidden


def test_cli_choices_mirror_the_core_enums() -> None:
    assert [s.value for s in Status] == [s.value for s in TaskStatus]
    assert [p.value for p in Period] == [p.value for p in RatePeriod]

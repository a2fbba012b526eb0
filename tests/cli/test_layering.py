"""The CLI and the client load only what a command needs; choices mirror the core enums."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from jobbers.cli.choices import Period, Status, Strategy

from jobbers.dev.redis_server import free_port
from jobbers.models.queue import QueueStrategy, RatePeriod
from jobbers.models.task import TaskStatus
from tests.cli.conftest import run_entry_point

HEAVY = {"textual", "fastapi", "uvicorn", "starlette", "redis"}


def _loaded_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_importing_the_cli_loads_no_heavy_framework_nor_the_client() -> None:
    loaded = _loaded_after("import jobbers.cli.app")
    light = HEAVY | {"httpx", "rich", "pydantic", "jobbers.api.client", "jobbers.api.schemas"}
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
    assert "jobbers.api.client" in loaded and "httpx" in loaded
    assert not loaded & HEAVY, loaded & HEAVY
    # The blocking face needs no event loop, and httpx's own CLI (click, rich) stays unloaded.
    assert not loaded & {"asyncio", "rich", "click", "pygments"}, loaded


# What the entry point answers itself (jobbers.cli.main) must not pay for.
TYPER_AND_MODELS = {
    "typer", "click", "rich", "pydantic", "pydantic_core", "ulid", "asyncio",
    "jobbers.api.schemas", "jobbers.api.client", "jobbers.models", "jobbers.cli.app",
}  # fmt: skip


def test_the_entry_point_loads_no_typer_nor_models() -> None:
    loaded = _loaded_after("import jobbers.cli.main")
    assert not loaded & (TYPER_AND_MODELS | HEAVY | {"httpx"}), loaded & TYPER_AND_MODELS


def test_quick_status_loads_httpx_but_no_typer_models_or_rich(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    down, loaded = run_entry_point(tmp_path, "status", "01JBKR2E5F3G4H5J6K7M8N9P0Q", "--url", dead)
    assert down.returncode == 5 and down.stderr.startswith("error: cannot reach"), down
    assert "jobbers.api.transport" in loaded and "httpx" in loaded
    assert "httpcore" not in loaded  # one request goes over http.client (OneShotTransport)
    assert not loaded & (TYPER_AND_MODELS | HEAVY), loaded & (TYPER_AND_MODELS | HEAVY)
    bad, loaded = run_entry_point(tmp_path, "status", "xyz")
    assert bad.returncode == 2 and "is not a ULID" in bad.stderr
    assert not loaded & (TYPER_AND_MODELS | {"httpx"})
    # --wait is the Typer command's, and the listing does see what it loads:
    waited, loaded = run_entry_point(
        tmp_path, "status", "01JBKR2E5F3G4H5J6K7M8N9P0Q", "--wait", "--url", dead
    )
    assert waited.returncode == 5 and {"typer", "pydantic", "jobbers.api.client"} <= loaded


def test_the_client_core_has_no_models() -> None:
    loaded = _loaded_after("import jobbers.api.transport")
    forbidden = {"pydantic", "jobbers.api.schemas", "jobbers.models", "asyncio", "typer"}
    assert not loaded & (forbidden | HEAVY), loaded & (forbidden | HEAVY)


def test_the_client_imports_no_redis_server_cli_or_tui() -> None:
    loaded = _loaded_after("import jobbers.api.client")
    forbidden = {"redis", "fastapi", "typer", "textual", "jobbers.cli", "jobbers.server"}
    assert not loaded & forbidden, loaded & forbidden


def test_cli_choices_mirror_the_core_enums() -> None:
    assert [s.value for s in Status] == [s.value for s in TaskStatus]
    assert [p.value for p in Period] == [p.value for p in RatePeriod]
    assert [s.value for s in Strategy] == [s.value for s in QueueStrategy]

"""The CLI and the client load only what a command needs; the lazy table matches the commands."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from jobbers.cli import app as root

from jobbers.dev.redis_server import free_port
from tests.cli.conftest import run_entry_point

HEAVY = {"textual", "fastapi", "uvicorn", "starlette", "redis"}
COMMAND_MODULES = {
    f"jobbers.cli.commands.{lazy.target.split(':')[0]}" for lazy in root.COMMANDS.values()
}
CLIENT = {"httpx", "pydantic", "jobbers.api.client", "jobbers.api.schemas", "jobbers.models"}
MISSING = "01JBKR2E5F3G4H5J6K7M8N9P0Q"


def _loaded_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_importing_the_cli_loads_no_command_framework_nor_client() -> None:
    loaded = _loaded_after("import jobbers.cli.app")
    light = HEAVY | CLIENT | COMMAND_MODULES | {"rich"}
    assert not loaded & light, loaded & light


def test_root_help_and_version_load_no_command_module_nor_the_client(tmp_path: Path) -> None:
    page, loaded = run_entry_point(tmp_path, "--help", env={"COLUMNS": "200"})
    assert page.returncode == 0 and page.stderr == "", page.stderr
    unused = HEAVY | CLIENT | COMMAND_MODULES | {"jobbers.cli.session"}
    assert not loaded & unused, loaded & unused
    for name, lazy in root.COMMANDS.items():  # every command, with its one-line help
        assert f"│ {name.ljust(12)} {lazy.help}" in page.stdout, name
    version, loaded = run_entry_point(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("jobbers ")
    assert not loaded & (HEAVY | CLIENT | COMMAND_MODULES | {"rich"})


def test_an_api_command_loads_its_module_and_the_client_only(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    down, loaded = run_entry_point(tmp_path, "status", MISSING, "--url", dead)
    assert down.returncode == 5 and down.stderr.startswith("error: cannot reach"), down
    assert {"jobbers.api.client", "httpx", "jobbers.cli.commands.tasks"} <= loaded
    assert not loaded & HEAVY, loaded & HEAVY
    assert not loaded & (COMMAND_MODULES - {"jobbers.cli.commands.tasks"})
    # The blocking face needs no event loop, and httpx's own CLI (click, rich) stays unloaded.
    assert not loaded & {"asyncio", "rich", "click", "pygments"}, loaded
    bad, loaded = run_entry_point(tmp_path, "status", "xyz")
    assert bad.returncode == 2 and "is not a ULID" in bad.stderr, bad.stderr


@pytest.mark.parametrize(
    "args", [("status", "--help"), ("queues", "--help"), ("schedules", "create", "--help")]
)
def test_a_command_help_page_loads_no_pydantic_nor_the_client(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """A help page needs the command's module and its enums, not pydantic nor a model.

    Typer coerces every option it processes through pydantic; the groups' own options
    (``--url``, ``--help`` ...), processed before the page is drawn, are taken as parsed.
    """
    page, loaded = run_entry_point(tmp_path, *args, env={"COLUMNS": "200"})
    assert page.returncode == 0 and "Usage: jobbers " + " ".join(args[:-1]) in page.stdout
    client = {"pydantic", "httpx", "jobbers.api.client", "jobbers.api.schemas"}
    unused = HEAVY | client | {"jobbers.models.task"}
    assert not loaded & unused, loaded & unused


def test_the_api_models_are_built_at_first_use() -> None:
    """Importing the schemas builds no model (``defer_build``); validating one builds it."""
    script = (
        "from pydantic import BaseModel\n"
        "from jobbers.api import schemas\n"
        "models = [v for v in vars(schemas).values()\n"
        "          if isinstance(v, type) and issubclass(v, BaseModel) and v is not BaseModel\n"
        "          and not v.__pydantic_generic_metadata__['parameters']]\n"
        "print(len(models), sum(m.__pydantic_complete__ for m in models))\n"
        "schemas.Health.model_validate({'status': 'ok', 'redis': True, 'version': '1'})\n"
        "print(schemas.Health.__pydantic_complete__)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    counts, health = out.stdout.split("\n")[:2]
    models, built = map(int, counts.split())
    assert models > 40 and built == 0, counts
    assert health == "True"


@pytest.mark.parametrize("plugins", [None, ""])
def test_an_api_command_freezes_its_imports_and_looks_for_no_pydantic_plugin(
    plugins: str | None,
) -> None:
    """Once the client is loaded, the collector skips what is loaded (``gc.freeze``) and
    runs again; pydantic looks for no plugin unless the user set ``PYDANTIC_DISABLE_PLUGINS``
    (kept)."""
    script = (
        "import atexit, gc, os, sys\n"
        "atexit.register(lambda: print(gc.get_freeze_count(), gc.isenabled(),"
        " repr(os.environ.get('PYDANTIC_DISABLE_PLUGINS'))))\n"
        "from jobbers.cli.main import main\n"
        f"main(['status', '{MISSING}', '--url', 'http://127.0.0.1:{free_port()}'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if plugins is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = plugins
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 5, out.stderr  # manager unreachable
    frozen, collecting, setting = out.stdout.split()
    assert int(frozen) > 10_000 and collecting == "True"  # paused for the import only
    assert setting == ("'__all__'" if plugins is None else repr(plugins))


def test_completing_a_command_name_loads_no_command_module(tmp_path: Path) -> None:
    env = {"_JOBBERS_COMPLETE": "complete_bash", "COMP_WORDS": "jobbers qu", "COMP_CWORD": "1"}
    done, loaded = run_entry_point(tmp_path, env=env)
    assert done.stdout.split() == ["queues"], done
    unused = COMMAND_MODULES | CLIENT  # the root's options are taken as parsed: no pydantic
    assert not loaded & unused, loaded & unused


@pytest.mark.parametrize("name", list(root.COMMANDS))
def test_the_lazy_table_matches_each_command(name: str) -> None:
    """The table's panel and help are the command's own, as Typer would list them."""
    command = root.load(name)
    lazy = root.COMMANDS[name]
    assert command.name == name and command.rich_help_panel == lazy.panel
    first = inspect.cleandoc(command.help or "").split("\n\n")[0]
    assert " ".join(first.split()) == lazy.help, f"update COMMANDS[{name!r}] in cli/app.py"
    assert isinstance(command, typer.core.TyperGroup) == lazy.target.endswith(":app")


def test_the_command_modules_are_all_in_the_table() -> None:
    here = Path(root.__file__).with_name("commands")
    modules = {f"jobbers.cli.commands.{p.stem}" for p in here.glob("*.py") if p.stem != "__init__"}
    assert modules == COMMAND_MODULES


def test_the_client_core_has_no_models() -> None:
    loaded = _loaded_after("import jobbers.api.transport")
    forbidden = {"pydantic", "jobbers.api.schemas", "jobbers.models", "asyncio", "typer"}
    assert not loaded & (forbidden | HEAVY), loaded & (forbidden | HEAVY)


def test_the_client_imports_no_redis_server_cli_or_tui() -> None:
    loaded = _loaded_after("import jobbers.api.client")
    forbidden = {"redis", "fastapi", "typer", "textual", "jobbers.cli", "jobbers.server"}
    assert not loaded & forbidden, loaded & forbidden

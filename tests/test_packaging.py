"""Packaging: the faces install under the jobbers namespace, never as top-level names."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAPPED = {
    "jobbers": "jobbers",
    "jobbers.cli": "cli",
    "jobbers.tui": "tui",
    "jobbers.server": "server",
}


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_subpackage_is_listed() -> None:
    """A sub-package missing from `packages` imports in editable mode but not from a wheel."""
    setuptools = _pyproject()["tool"]["setuptools"]  # type: ignore[index]
    found = set()
    for package, folder in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *rel.parts]))
        # Folders of data files only (the Lua scripts) are packages too, or setuptools warns
        # on every build and a wheel may leave them out.
        for data in (ROOT / folder).rglob("*.lua"):
            rel = data.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *rel.parts]))
    assert found == set(setuptools["packages"])


def test_editable_install_maps_the_faces(tmp_path: Path) -> None:
    code = (
        "import importlib.util, jobbers.cli, jobbers.server, jobbers.tui;"
        "print(jobbers.cli.__file__); print(jobbers.server.__file__);"
        "print(importlib.util.find_spec('cli'), importlib.util.find_spec('server'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cli_file, server_file, generic = out.stdout.splitlines()
    assert Path(cli_file) == ROOT / "cli" / "__init__.py"
    assert Path(server_file) == ROOT / "server" / "__init__.py"
    assert generic == "None None"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("jobbers-*.whl")
    return built


def test_wheel_holds_only_the_jobbers_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"jobbers", next(t for t in tops if t.endswith(".dist-info"))}
    assert "jobbers/store/lua/claim.lua" in names
    assert "jobbers/cli/__init__.py" in names and "jobbers/server/__init__.py" in names
    assert "jobbers/tui/__init__.py" in names and "jobbers/py.typed" in names


def test_plain_install_into_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    # Dependencies come from this environment's site-packages, appended after the venv's.
    deps = sysconfig.get_paths()["purelib"]
    code = (
        f"import sys; sys.path.append({deps!r});"
        "import importlib.util, jobbers.cli, jobbers.server, jobbers.tui, jobbers.store.facade;"
        "print(jobbers.cli.__file__); print(importlib.util.find_spec('cli'))"
    )
    out = subprocess.run([str(python), "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cli_file, generic = out.stdout.splitlines()
    assert Path(cli_file).is_relative_to(env_dir)
    assert generic == "None"

"""Shell completion: the shipped scripts are current, and TAB gets the app's own words."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from jobbers.cli import completions
from jobbers.cli.app import app
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("shell", sorted(completions.FILES))
def test_shipped_scripts_are_up_to_date(shell: str) -> None:
    shipped = ROOT / "completions" / completions.FILES[shell]
    assert shipped.read_text() == completions.script(shell), (
        "completions/ is stale: run `python -m jobbers.cli.completions` from the repo root"
    )


def test_regenerating_writes_the_three_files(tmp_path: Path) -> None:
    written = completions.write(tmp_path)
    assert sorted(p.name for p in written) == sorted(completions.FILES.values())
    assert (tmp_path / "_jobbers").read_text().startswith("#compdef jobbers\n")


def complete_bash(line: str, **extra_env: str) -> list[str]:
    """What bash would offer for ``line`` (the word under the cursor is the last one)."""
    words = line.split(" ")
    env = {
        "_JOBBERS_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
        **extra_env,
    }
    result = CliRunner().invoke(app, [], env=env, prog_name="jobbers")
    return result.stdout.split()


def test_bash_completes_commands_subcommands_options_and_choices() -> None:
    assert complete_bash("jobbers qu") == ["queues"]
    assert {"submit", "status", "list", "dlq", "top", "dev"} <= set(complete_bash("jobbers "))
    assert complete_bash("jobbers queues p") == ["pause", "purge"]
    assert complete_bash("jobbers dlq re") == ["resubmit"]
    assert complete_bash("jobbers list --st") == ["--status"]
    assert complete_bash("jobbers list --status f") == ["failed"]
    assert complete_bash("jobbers stats -o j") == ["json"]


def test_zsh_and_fish_complete_too() -> None:
    env = {"_JOBBERS_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "jobbers dlq "}
    zsh = CliRunner().invoke(app, [], env=env, prog_name="jobbers").stdout
    assert "resubmit" in zsh and "history" in zsh
    env = {
        "_JOBBERS_COMPLETE": "complete_fish",
        "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        "_TYPER_COMPLETE_ARGS": "jobbers roles ",
    }
    fish = CliRunner().invoke(app, [], env=env, prog_name="jobbers").stdout
    assert "create" in fish and "set" in fish


def test_queue_names_complete_to_nothing_when_the_manager_is_down() -> None:
    assert complete_bash("jobbers queues get de", JOBBERS_URL="http://127.0.0.1:9") == []


def test_install_completion(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "jobbers.cli", "--install-completion", "bash"],
        capture_output=True, text=True, env=env, timeout=30,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    installed = list(tmp_path.rglob("*jobbers*"))
    assert installed, list(tmp_path.rglob("*"))
    assert "_JOBBERS_COMPLETE=complete_bash" in installed[0].read_text()

"""``jobbers dlq ...``: browse, history, resubmit and delete, by ids and by filter."""

from __future__ import annotations

import json
import subprocess

import pytest
from jobbers.cli.exit_codes import ExitCode

from tests.cli.conftest import Cli, poll


def dead_letters(cli: Cli, name: str, count: int) -> list[str]:
    """Submit ``count`` tasks that fail into the DLQ, and wait until they are all there."""
    ids = [cli.ok("submit", name, "-q").stdout.strip() for _ in range(count)]
    poll(lambda: len(cli.ok("dlq", "list", "-q").stdout.split()) >= count, 20, "the DLQ to fill")
    return ids


@pytest.fixture
def dlq_ids(cli: Cli, worker: subprocess.Popen[bytes]) -> list[str]:
    """Three ``boom`` tasks in the dead-letter queue (a real worker failed them)."""
    return dead_letters(cli, "boom", 3)


def test_list_and_history(cli: Cli, dlq_ids: list[str]) -> None:
    listed = cli.ok("dlq", "list", "-q").stdout.split()
    assert listed == list(reversed(dlq_ids)), "newest first"
    doc = cli.json("dlq", "list", "--task-name", "boom", "--limit", "2")
    assert (
        doc == cli.api("GET", "/dead-letter-queue", params={"task_name": "boom", "limit": 2}).json()
    )
    assert len(doc["items"]) == 2 and doc["next_cursor"]
    assert cli.ok("dlq", "list", "--task-name", "add", "-q").stdout == ""
    row = cli.ok("dlq", "list").stdout.splitlines()[0].split("\t")
    assert row[1] == "boom" and row[4] == "failed" and row[7] == "ValueError: unexpected failure"

    history = cli.json("dlq", "history", dlq_ids[0])
    assert history["task_id"] == dlq_ids[0] and history["task"]["in_dlq"] is True
    assert [(e["kind"], e["exc_type"]) for e in history["history"]] == [("error", "ValueError")]
    table = cli.ok("dlq", "history", dlq_ids[0], "-o", "table").stdout
    assert table.startswith("boom v1 on default: failed\nATTEMPT ") and "ValueError" in table
    missing = cli("dlq", "history", "01JBKR2E5F3G4H5J6K7M8N9P0Q")
    assert missing.exit_code == ExitCode.NOT_FOUND and "dead-letter queue" in missing.stderr


def test_resubmit_by_ids_asks_first(cli: Cli, dlq_ids: list[str]) -> None:
    declined = cli("dlq", "resubmit", dlq_ids[0], input="n\n", terminal=True)
    assert declined.exit_code == ExitCode.DECLINED
    assert "Resubmit 1 dead-lettered task?" in declined.stderr
    result = cli.ok("dlq", "resubmit", dlq_ids[0], "--reset-retry-count", "--yes")
    assert result.stdout == f"{dlq_ids[0]}\tresubmitted\n"
    status = cli.json("status", dlq_ids[0])
    assert status["in_dlq"] is False or status["status"] in ("submitted", "started", "failed")


def test_resubmit_from_stdin_needs_yes(cli: Cli, dlq_ids: list[str]) -> None:
    ids = cli.ok("dlq", "list", "-q").stdout
    refused = cli("dlq", "resubmit", "-", input=ids)
    assert refused.exit_code == ExitCode.USAGE and "needs --yes" in refused.stderr
    done = cli.ok("dlq", "resubmit", "-", "--yes", "--json", input=ids)
    doc = json.loads(done.stdout)
    assert doc["resubmitted"] == 3 and set(doc["results"]) == set(dlq_ids)


def test_resubmit_by_filter_in_batches(cli: Cli, worker: subprocess.Popen[bytes]) -> None:
    dead_letters(cli, "boom", 3)
    cli.ok("queues", "create", "side")
    doc = json.loads(
        cli.ok("dlq", "resubmit", "--task-name", "boom", "--limit", "2", "-y", "--json").stdout
    )
    assert doc["resubmitted"] == 2 and list(doc["results"].values()) == ["resubmitted"] * 2
    nothing = cli.ok("dlq", "resubmit", "--queue", "side", "--yes")
    assert nothing.stdout == "" and "no dead-lettered task matches" in nothing.stderr


def test_resubmit_errors(cli: Cli, dlq_ids: list[str]) -> None:
    assert cli("dlq", "resubmit", "--yes").exit_code == ExitCode.USAGE
    both = cli("dlq", "resubmit", dlq_ids[0], "--task-name", "boom", "--yes")
    assert both.exit_code == ExitCode.USAGE and "not both" in both.stderr
    mixed = cli("dlq", "resubmit", dlq_ids[0], "01JBKR2E5F3G4H5J6K7M8N9P0Q", "not-an-id", "--yes")
    assert mixed.exit_code == ExitCode.NOT_FOUND
    outcomes = dict(line.split("\t") for line in mixed.stdout.splitlines())
    assert outcomes[dlq_ids[0]] == "resubmitted" and outcomes["not-an-id"] == "invalid_id"
    assert outcomes["01JBKR2E5F3G4H5J6K7M8N9P0Q"] == "not_found"


def test_delete_by_ids_and_all(cli: Cli, dlq_ids: list[str]) -> None:
    one = cli.ok("dlq", "delete", dlq_ids[0], "--yes", "--json")
    assert json.loads(one.stdout) == {"removed": 1, "task_ids": [dlq_ids[0]]}
    assert cli.json("status", dlq_ids[0])["status"] == "failed", "the task itself stays"
    declined = cli("dlq", "delete", "--all", input="n\n", terminal=True)
    assert declined.exit_code == ExitCode.DECLINED and "Remove 2 tasks" in declined.stderr
    no_terminal = cli("dlq", "delete", "--all")
    assert no_terminal.exit_code == ExitCode.USAGE and no_terminal.stdout == ""
    assert "Remove 2 tasks from the dead-letter queue? needs --yes" in no_terminal.stderr
    rest = cli.ok("dlq", "delete", "--all", "--yes")
    assert rest.stdout == "removed 2 tasks from the dead-letter queue\n"
    assert cli.ok("dlq", "list", "-q").stdout == ""

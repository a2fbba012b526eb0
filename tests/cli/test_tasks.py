"""Task commands end to end: CliRunner -> client -> manager app -> Redis (-> a real worker)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from jobbers.cli.exit_codes import ExitCode

from tests.cli.conftest import Cli

ULID_RE = r"^[0-9A-HJKMNP-TV-Z]{26}$"
MISSING = "01JBKR2E5F3G4H5J6K7M8N9P0Q"


def submit_id(cli: Cli, *args: str) -> str:
    """Submit with -q and return the id it printed."""
    out = cli.ok("submit", *args, "-q").stdout
    assert out.count("\n") == 1, out
    return out.strip()


def test_submit_prints_the_task_and_generates_a_ulid(cli: Cli) -> None:
    result = cli.ok("submit", "add", "-p", "a:=1", "-p", "b:=2", "-p", "label=x")
    rows = dict(line.split("\t", 1) for line in result.stdout.splitlines())
    assert rows["name"] == "add" and rows["status"] == "submitted" and rows["queue"] == "default"
    assert json.loads(rows["parameters"]) == {"a": 1, "b": 2, "label": "x"}
    assert len(rows["id"]) == 26
    assert result.stderr == ""


def test_submit_json_is_the_api_answer(cli: Cli) -> None:
    tid = "01JBKR2E5F3G4H5J6K7M8N9P0A"
    doc = cli.json("submit", "add", "--id", tid, "--params", '{"a": 1, "b": 2}')
    assert doc["message"] == "Task submitted successfully"
    assert doc["task"]["id"] == tid and doc["task"]["parameters"] == {"a": 1, "b": 2}
    api = cli.api("GET", f"/task-status/{tid}").json()
    assert doc["task"] == api


def test_submit_is_idempotent_on_its_id(cli: Cli) -> None:
    tid = submit_id(cli, "add", "-p", "a:=1", "-p", "b:=2")
    assert submit_id(cli, "add", "--id", tid, "-p", "a:=1", "-p", "b:=2") == tid
    clash = cli("submit", "add", "--id", tid, "-p", "a:=5", "-p", "b:=2")
    assert clash.exit_code == ExitCode.CONFLICT
    assert clash.stdout == ""
    assert clash.stderr.startswith("error: ") and "different content" in clash.stderr
    assert clash.stderr.count("\n") == 1


def test_submit_with_a_priority_shows_it_and_compares_it(cli: Cli) -> None:
    """Priorities (issue 15 part 3): the priority is part of the idempotent body."""
    tid = "01JBKR2E5F3G4H5J6K7M8N9P0B"
    doc = cli.json("submit", "add", "--id", tid, "--priority", "8")
    assert doc["task"]["priority"] == 8
    assert cli.api("GET", f"/task-status/{tid}").json()["priority"] == 8
    assert cli.json("submit", "add", "--id", tid, "--priority", "8")["task"]["id"] == tid
    assert cli("submit", "add", "--id", tid).exit_code == ExitCode.CONFLICT
    rows = dict(line.split("\t", 1) for line in cli.ok("status", tid).stdout.splitlines())
    assert rows["priority"] == "8"
    assert cli("submit", "add", "--priority", "10").exit_code == ExitCode.USAGE
    refused = cli.api("POST", "/submit-task", json={"name": "add", "priority": 10})
    assert refused.status_code == 422 and "priority" in refused.text
    assert cli.api("POST", "/submit-task", json={"name": "add", "priority": "9"}).status_code == 422


def test_submit_params_from_file_and_stdin(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "params.json"
    path.write_text('{"a": 10, "b": 5}')
    doc = cli.json("submit", "add", "--params", f"@{path}", "-p", "b:=7")
    assert doc["task"]["parameters"] == {"a": 10, "b": 7}
    result = cli.ok("submit", "add", "--params", "-", "--json", input='{"a": 1, "b": 1}')
    assert json.loads(result.stdout)["task"]["parameters"] == {"a": 1, "b": 1}


def test_bad_input_is_one_line_and_exit_2(cli: Cli, tmp_path: Path) -> None:
    cases = [
        (["submit", "add", "-p", "novalue"], "expected key=value"),
        (["submit", "add", "-p", "n:={oops"], "invalid JSON"),
        (["submit", "add", "--params", "[1, 2]"], "expected a JSON object"),
        (["submit", "add", "--params", f"@{tmp_path / 'nope.json'}"], "No such file"),
        (["submit", "add", "--id", "not-a-ulid"], "is not a ULID"),
        (["submit", "Bad Name!"], "invalid name"),
        (["submit", "not_registered"], "not registered"),
        (["submit", "add", "--queue", "nosuchqueue"], "does not exist"),
        (["status", "xyz"], "is not a ULID"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == ExitCode.USAGE, (args, result.stdout, result.stderr)
        assert result.stdout == ""
        assert message in result.stderr, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_status_of_a_missing_task_exits_3(cli: Cli) -> None:
    result = cli("status", MISSING)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.stderr == f"error: task {MISSING} not found\n"


def test_status_and_wait_until_completed(cli: Cli, worker: subprocess.Popen[bytes]) -> None:
    doc = json.loads(
        cli.ok(
            "submit", "add", "-p", "a:=2", "-p", "b:=3", "--wait", "--timeout", "20", "--json"
        ).stdout
    )
    assert doc["status"] == "completed" and doc["results"] == {"sum": 5}
    status = cli.ok("status", doc["id"]).stdout
    assert "status\tcompleted" in status and 'results\t{"sum":5}' in status


def test_wait_on_a_failing_task_exits_6(cli: Cli, worker: subprocess.Popen[bytes]) -> None:
    tid = submit_id(cli, "boom")
    result = cli("status", tid, "--wait", "--timeout", "20")
    assert result.exit_code == ExitCode.NOT_COMPLETED
    assert "status\tfailed" in result.stdout
    assert result.stderr == f"error: task {tid} ended failed: ValueError: unexpected failure\n"


def test_wait_timeout_exits_7_while_the_task_is_still_waiting(cli: Cli) -> None:
    result = cli("submit", "add", "-p", "a:=1", "-p", "b:=1", "--wait", "--timeout", "0.3")
    assert result.exit_code == ExitCode.STILL_RUNNING
    assert "is still submitted after 0.3s" in result.stderr


def test_list_filters_and_json_matches_the_api(cli: Cli) -> None:
    ids = [submit_id(cli, "add", "-p", f"a:={i}", "-p", "b:=0") for i in range(3)]
    cli.ok("queues", "create", "other")
    other = submit_id(cli, "noop", "--queue", "other")
    assert cli.ok("list", "--status", "submitted", "--queue", "default", "-q").stdout.split() == ids
    assert cli.ok("list", "--queue", "other", "-q").stdout.split() == [other]
    doc = cli.json("list", "--status", "submitted")
    assert doc == cli.api("GET", "/task-list", params={"status": "submitted"}).json()
    assert [t["id"] for t in doc["items"]] == [*ids, other]


def test_list_filters_by_task_name(cli: Cli) -> None:
    adds = [submit_id(cli, "add", "-p", "a:=1", "-p", "b:=1") for _ in range(2)]
    noop = submit_id(cli, "noop")
    cli.ok("cancel", *adds, noop)
    assert cli.ok("list", "--name", "add", "-q").stdout.split() == adds[::-1]
    assert cli.ok("list", "--name", "noop", "--status", "cancelled", "-q").stdout.split() == [noop]
    bad = cli("list", "--name", "a:b")
    assert bad.exit_code == ExitCode.USAGE and "name" in bad.stderr


def test_list_json_rows_leave_out_parameters_and_results(cli: Cli) -> None:
    tid = submit_id(cli, "add", "-p", "a:=1", "-p", "b:=2")
    doc = cli.json("list")
    assert [t["id"] for t in doc["items"]] == [tid]
    assert "parameters" not in doc["items"][0] and doc["items"][0]["name"] == "add"
    assert cli.json("status", tid)["parameters"] == {"a": 1, "b": 2}


def test_list_pages_with_a_cursor(cli: Cli) -> None:
    ids = [submit_id(cli, "noop") for _ in range(3)]
    first = cli.ok("list", "--status", "submitted", "--limit", "2", "-q")
    assert first.stdout.split() == ids[:2]
    cursor = first.stderr.split("--cursor ")[1].strip()
    second = cli.ok("list", "--status", "submitted", "--limit", "2", "--cursor", cursor, "-q")
    assert second.stdout.split() == ids[2:] and second.stderr == ""


def test_list_rows_are_tab_separated_in_a_pipe(cli: Cli) -> None:
    tid = submit_id(cli, "add", "-p", "a:=1", "-p", "b:=2")
    row = cli.ok("list").stdout.splitlines()
    assert len(row) == 1
    fields = row[0].split("\t")
    assert fields[:7] == [tid, "add", "1", "default", "submitted", "1", fields[6]]
    assert fields[6].endswith("Z") and fields[7] == ""
    assert "\x1b[" not in cli.ok("list").stdout


def test_table_output_for_people(cli: Cli) -> None:
    tid = submit_id(cli, "add", "-p", "a:=1", "-p", "b:=2")
    table = cli("list", "-o", "table", env={"COLUMNS": "120"}).stdout
    header, row = table.splitlines()
    assert header.split() == [
        "ID", "NAME", "VERSION", "QUEUE", "STATUS", "ATTEMPT", "AGE", "LAST_ERROR"
    ]  # fmt: skip
    assert row.split()[:5] == [tid, "add", "1", "default", "submitted"]
    assert "\x1b[" not in table, "no colour when stdout is not a terminal"
    empty = cli.ok("list", "--status", "failed", "-o", "table")
    assert empty.stdout == "" and empty.stderr == "(none)\n"


def test_cancel_one_task(cli: Cli) -> None:
    tid = submit_id(cli, "noop")
    assert cli.ok("cancel", tid).stdout == f"{tid}\tcancelled\n"
    doc = cli.json("status", tid)
    assert doc["status"] == "cancelled"
    again = cli("cancel", tid)
    assert again.exit_code == ExitCode.CONFLICT and "cannot be cancelled" in again.stderr
    assert cli("cancel", MISSING).exit_code == ExitCode.NOT_FOUND


def test_cancel_many_reports_each_id_and_exits_with_the_first_failure(cli: Cli) -> None:
    a, b = submit_id(cli, "noop"), submit_id(cli, "noop")
    result = cli("cancel", a, MISSING, b)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.stdout.splitlines() == [
        f"{a}\tcancelled",
        f"{MISSING}\tnot_found",
        f"{b}\tcancelled",
    ]
    assert result.stderr == "error: 1 of 3 ids failed\n"
    again = cli("cancel", a, b, "--json")
    assert again.exit_code == ExitCode.CONFLICT
    conflict = "conflict: task {} is cancelled and cannot be cancelled"
    assert json.loads(again.stdout) == {"results": {t: conflict.format(t) for t in (a, b)}}


def test_quiet_pipeline_list_then_cancel_from_stdin(cli: Cli) -> None:
    ids = [submit_id(cli, "noop") for _ in range(3)]
    listed = cli.ok("list", "--status", "submitted", "-q").stdout
    result = cli.ok("cancel", "-", "-q", input=listed)
    assert result.stdout.split() == ids
    assert cli.ok("list", "--status", "cancelled", "-q").stdout.split() == list(reversed(ids))


def test_quiet_pipeline_list_failed_then_retry(cli: Cli, worker: subprocess.Popen[bytes]) -> None:
    ids = [submit_id(cli, "boom") for _ in range(2)]
    for tid in ids:
        assert cli("status", tid, "--wait", "--timeout", "20").exit_code == ExitCode.NOT_COMPLETED
    failed = cli.ok("list", "--status", "failed", "-q").stdout
    assert sorted(failed.split()) == sorted(ids)
    retried = cli.ok("retry", "-", "--reset-retry-count", "-q", input=failed)
    assert sorted(retried.stdout.split()) == sorted(ids)
    for tid in ids:  # they fail again: boom always raises
        assert cli("status", tid, "--wait", "--timeout", "20").exit_code == ExitCode.NOT_COMPLETED
        assert len(cli.json("status", tid)["errors"]) == 2


def test_retry_errors(cli: Cli) -> None:
    tid = submit_id(cli, "noop")
    result = cli("retry", tid)
    assert result.exit_code == ExitCode.CONFLICT and "can be retried" in result.stderr
    many = cli("retry", tid, MISSING, "--json")
    assert many.exit_code == ExitCode.CONFLICT
    assert json.loads(many.stdout) == []
    assert many.stderr.splitlines() == [
        f"error: {tid}: task {tid} is submitted; "
        "only failed, stalled or cancelled tasks can be retried",
        f"error: {MISSING}: task {MISSING} not found",
        "error: some tasks were not retried",
    ]
    assert cli("retry", "-", input="").exit_code == ExitCode.USAGE


def test_active_and_scheduled(cli: Cli, worker: subprocess.Popen[bytes]) -> None:
    running = submit_id(cli, "forever", "-p", "mark=cli")
    retrying = submit_id(cli, "flaky_delayed")

    def both_visible() -> bool:
        active = cli.ok("active", "-q").stdout.split()
        sched = cli.ok("scheduled", "-q").stdout.split()
        return active == [running] and sched == [retrying]

    from tests.cli.conftest import poll

    poll(both_visible, 20, "one running and one scheduled task")
    page = cli.json("active")
    assert page["items"][0]["elapsed_s"] >= 0 and page["items"][0]["worker_id"]
    assert cli.json("scheduled")["items"][0]["due_in_s"] is not None
    row = cli.ok("active").stdout.split("\t")
    assert row[:3] == [running, "forever", "default"]
    assert cli.ok("active", "--queue", "default", "-o", "table").stdout.startswith("ID ")
    assert cli("active", "--queue", "nosuch").exit_code == ExitCode.NOT_FOUND
    assert cli.ok("active", "--name", "forever", "-q").stdout.split() == [running]
    assert cli.ok("active", "--name", "add", "-q").stdout == ""
    cancel = cli.ok("cancel", running)
    assert cancel.stdout == f"{running}\tcancel_requested\n"
    ended = cli("status", running, "--wait", "--timeout", "20")
    assert ended.exit_code == ExitCode.NOT_COMPLETED and "ended cancelled" in ended.stderr

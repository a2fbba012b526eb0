"""``jobbers submit-many``: JSON Lines in, 1,000 tasks per request, one document out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from jobbers.cli.exit_codes import ExitCode

from tests.cli.conftest import Cli


def lines(*tasks: Mapping[str, object]) -> str:
    return "".join(json.dumps(task) + "\n" for task in tasks)


def test_stdin_json_lines_with_defaults_print_one_id_per_task(cli: Cli) -> None:
    text = lines({"parameters": {"a": 1, "b": 2}}, {"parameters": {"a": 3, "b": 4}})
    ids = cli.ok("submit-many", "-", "--name", "add", "-q", input=text).stdout.split()
    assert len(ids) == 2
    for tid, a in zip(ids, (1, 3), strict=True):
        task = cli.api("GET", f"/task-status/{tid}").json()
        assert task["name"] == "add" and task["parameters"]["a"] == a


def test_a_file_of_2500_tasks_goes_in_three_requests_and_one_json_document(
    cli: Cli, tmp_path: Path
) -> None:
    source = tmp_path / "tasks.jsonl"
    source.write_text(lines(*({"name": "add", "parameters": {"a": i}} for i in range(2500))))
    doc = cli.json("submit-many", str(source))
    assert doc["created"] == 2500 and doc["existing"] == 0 and len(doc["tasks"]) == 2500
    stats = cli.api("GET", "/stats").json()
    assert stats["statuses"]["submitted"] == 2500


def test_a_json_array_with_ids_is_idempotent(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "tasks.json"
    tasks = [{"id": f"01JBKR2E5F3G4H5J6K7M8N9P{n}", "name": "add"} for n in range(10, 13)]
    source.write_text(json.dumps(tasks))
    assert "submitted 3 tasks" in cli.ok("submit-many", str(source)).stdout
    again = cli.ok("submit-many", str(source)).stdout
    assert "submitted 0 tasks (3 were already stored)" in again


def test_bad_input_names_the_line_and_sends_nothing(cli: Cli, tmp_path: Path) -> None:
    cases = {
        '{"name": "add"}\n{"name": "add", "version": -1}\n': "stdin:2: version",
        '{"name": "add"}\nnot json\n': "stdin:2: not JSON",
        '{"name": "add"}\n[1]\n': "stdin:2: expected a JSON object",
        "\n\n": "stdin: no tasks",
        '{"name": "add", "surprise": 1}\n': "stdin:1: surprise",
    }
    for text, message in cases.items():
        result = cli("submit-many", "-", input=text)
        assert result.exit_code == ExitCode.USAGE, (text, result.stderr)
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert result.stdout == ""
    missing = cli("submit-many", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == ExitCode.USAGE and "No such file" in missing.stderr
    assert cli.api("GET", "/stats").json()["statuses"].get("submitted", 0) == 0


def test_a_rejected_request_reports_what_was_stored_before_it(cli: Cli) -> None:
    good = [{"name": "add", "parameters": {"a": i}} for i in range(1000)]
    text = lines(*good, {"name": "no_such_task"})
    result = cli("submit-many", "-", input=text)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "the first 1000 tasks were stored; the 1 after them were not" in result.stderr
    assert "no_such_task" in result.stderr
    assert cli.api("GET", "/stats").json()["statuses"]["submitted"] == 1000

"""Workflow commands end to end: CliRunner -> client -> manager app -> Redis (-> a real
worker): ``submit --after``, ``workflow submit|status|cancel|list`` (issue 16)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from jobbers.cli.exit_codes import ExitCode

from tests.cli.conftest import Cli

DIAMOND = {
    "tasks": [
        {"key": "fetch", "name": "step", "parameters": {"value": 1}},
        {"key": "left", "name": "step", "depends_on": ["fetch"]},
        {"key": "right", "name": "step", "depends_on": ["fetch"]},
        {"key": "notify", "name": "step", "depends_on": ["left", "right"]},
    ]
}


def test_submit_after_makes_the_task_wait_for_its_parents(cli: Cli) -> None:
    first = cli.json("submit", "step")["task"]["id"]
    second = cli.json("submit", "step")["task"]["id"]
    child = cli.json("submit", "step", "--after", first, "--after", second)["task"]
    assert child["status"] == "waiting"
    assert sorted(child["depends_on"]) == sorted([first, second])
    listed = cli.ok("list", "--status", "waiting", "-q").stdout.split()
    assert listed == [child["id"]]


def test_submit_after_an_unknown_task_names_it(cli: Cli) -> None:
    ghost = "01JBKR2E5F3G4H5J6K718M9N0P"
    result = cli("submit", "step", "--after", ghost)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert ghost in result.stderr


def test_workflow_submit_wait_status_and_list(
    cli: Cli, tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps(DIAMOND))
    result = cli.ok("workflow", "submit", str(graph), "--wait", "--timeout", "60")
    rows = dict(line.split("\t") for line in result.stdout.splitlines())
    assert set(rows) == {"workflow", "fetch", "left", "right", "notify"}
    assert "completed" in result.stderr
    wid = rows["workflow"]
    tree = cli.ok("workflow", "status", wid, "-o", "table").stdout
    assert f"workflow {wid} completed" in tree
    assert tree.count("completed") >= 5
    assert tree.index("fetch") < tree.index("left") < tree.index("notify")
    tsv = cli.ok("workflow", "status", wid).stdout.splitlines()
    assert [line.split("\t")[0] for line in tsv] == ["fetch", "left", "right", "notify"]
    listed = cli.ok("workflow", "list").stdout.splitlines()
    assert listed[0].split("\t")[:3] == [wid, "completed", "4"]


def test_workflow_wait_exits_6_when_it_fails(cli: Cli, worker: subprocess.Popen[bytes]) -> None:
    graph = {"tasks": [{"key": "a", "name": "boom"}, {"key": "b", "name": "step",
                                                       "depends_on": ["a"]}]}  # fmt: skip
    result = cli("workflow", "submit", "-", "--wait", "--timeout", "60", input=json.dumps(graph))
    assert result.exit_code == ExitCode.NOT_COMPLETED, (result.stdout, result.stderr)
    assert "failed" in result.stderr


def test_workflow_cancel_and_bad_graphs(cli: Cli, tmp_path: Path) -> None:
    submitted = cli.ok("workflow", "submit", "-", "--json", input=json.dumps(DIAMOND))
    wid = json.loads(submitted.stdout)["id"]
    result = cli.ok("workflow", "cancel", wid)
    assert "4 cancelled" in result.stdout
    nodes = cli.json("workflow", "status", wid)["nodes"]
    assert {n["status"] for n in nodes} == {"cancelled"}
    cycle = {"tasks": [{"key": "a", "name": "step", "depends_on": ["b"]},
                       {"key": "b", "name": "step", "depends_on": ["a"]}]}  # fmt: skip
    bad = cli("workflow", "submit", "-", input=json.dumps(cycle))
    assert bad.exit_code == ExitCode.USAGE and "cycle" in bad.stderr, bad.stderr
    missing = cli("workflow", "submit", str(tmp_path / "nope.json"))
    assert missing.exit_code == ExitCode.USAGE
    assert cli("workflow", "status", "01JBKR2E5F3G4H5J6K718M9N0P").exit_code == ExitCode.NOT_FOUND

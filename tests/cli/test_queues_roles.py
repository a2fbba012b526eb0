"""``jobbers queues ...`` and ``jobbers roles ...`` against the real manager."""

from __future__ import annotations

import json

from jobbers.cli.exit_codes import ExitCode

from tests.cli.conftest import Cli


def test_queue_lifecycle(cli: Cli) -> None:
    created = cli.json(
        "queues", "create", "reports", "--max-concurrent", "5",
        "--rate-numerator", "100", "--rate-denominator", "1", "--rate-period", "hour",
    )  # fmt: skip
    assert created == {
        "name": "reports",
        "max_concurrent": 5,
        "rate_numerator": 100,
        "rate_denominator": 1,
        "rate_period": "hour",
        "paused": False,
    }
    assert cli.json("queues", "get", "reports") == created
    assert cli.ok("queues", "list", "-q").stdout.split() == ["default", "reports"]
    assert cli.json("queues", "list") == cli.api("GET", "/queues").json()

    taken = cli("queues", "create", "reports")
    assert taken.exit_code == ExitCode.CONFLICT and "already exists" in taken.stderr

    # update changes what is given and keeps the rest (the rate limit here)
    updated = cli.json("queues", "update", "reports", "--max-concurrent", "2")
    assert updated["max_concurrent"] == 2 and updated["rate_numerator"] == 100
    cleared = cli.json("queues", "update", "reports", "--no-rate-limit", "--unlimited")
    assert cleared["rate_numerator"] is None and cleared["max_concurrent"] is None

    assert cli.json("queues", "pause", "reports")["paused"] is True
    assert cli.ok("queues", "get", "reports").stdout.splitlines()[1] == "paused\ttrue"
    assert cli.json("queues", "resume", "reports")["paused"] is False

    assert cli.ok("queues", "delete", "reports").stdout == "queue 'reports' deleted\n"
    assert cli("queues", "get", "reports").exit_code == ExitCode.NOT_FOUND
    assert cli("queues", "delete", "reports").exit_code == ExitCode.NOT_FOUND


def test_update_creates_a_missing_queue_with_create(cli: Cli) -> None:
    doc = cli.json("queues", "update", "fresh", "--max-concurrent", "3", "--create")
    assert doc["name"] == "fresh" and doc["max_concurrent"] == 3


def test_queue_input_errors_exit_2(cli: Cli) -> None:
    half_rate = cli("queues", "create", "q1", "--rate-numerator", "5")
    assert half_rate.exit_code == ExitCode.USAGE
    assert "rate_numerator needs rate_period" in half_rate.stderr
    bad_name = cli("queues", "create", "no spaces")
    assert bad_name.exit_code == ExitCode.USAGE and "invalid name" in bad_name.stderr
    bad_period = cli("queues", "create", "q2", "--rate-numerator", "1", "--rate-period", "week")
    assert bad_period.exit_code == ExitCode.USAGE


def test_delete_a_busy_queue_conflicts_then_purge(cli: Cli) -> None:
    cli.ok("queues", "create", "busy")
    ids = [cli.ok("submit", "noop", "--queue", "busy", "-q").stdout.strip() for _ in range(3)]
    busy = cli("queues", "delete", "busy")
    assert busy.exit_code == ExitCode.CONFLICT and "3 waiting" in busy.stderr

    declined = cli("queues", "purge", "busy", input="n\n", terminal=True)
    assert declined.exit_code == ExitCode.DECLINED
    assert "Cancel every waiting task of queue 'busy'?" in declined.stderr
    assert declined.stderr.endswith("error: nothing changed\n")
    assert cli.ok("list", "--queue", "busy", "--status", "submitted", "-q").stdout.split() == ids

    no_answer = cli("queues", "purge", "busy")  # no terminal, as in a script without --yes
    assert no_answer.exit_code == ExitCode.USAGE, no_answer.stderr

    purged = cli.ok("queues", "purge", "busy", "--yes", "--json")
    assert json.loads(purged.stdout) == {"queue": "busy", "cancelled": 3}
    # (CliRunner echoes the typed answer to stdout, as a terminal would show it)
    answered = cli("queues", "purge", "busy", input="y\n", terminal=True)
    assert answered.exit_code == 0, answered.stderr
    yes = answered.stdout
    assert yes.splitlines()[-1] == "cancelled 0 waiting tasks of queue 'busy'"
    assert cli.ok("queues", "delete", "busy", "-q").stdout == "busy\n"


def test_role_lifecycle(cli: Cli) -> None:
    cli.ok("queues", "create", "reports")
    cli.ok("queues", "create", "exports")
    role = cli.json("roles", "create", "heavy", "reports", "exports")
    assert role == {
        "name": "heavy",
        "queues": ["reports", "exports"],
        "strategy": "round_robin",
        "weights": {},
    }
    assert cli.json("roles", "get", "heavy") == role
    assert cli.ok("roles", "list", "-q").stdout.split() == ["default", "heavy"]
    assert cli.json("roles", "list") == cli.api("GET", "/roles").json()
    assert cli.ok("roles", "list").stdout.splitlines()[1] == "heavy\treports,exports\tround_robin"

    assert cli("roles", "create", "heavy").exit_code == ExitCode.CONFLICT
    unknown = cli("roles", "create", "odd", "nosuchqueue")
    assert unknown.exit_code == ExitCode.USAGE and "unknown queues" in unknown.stderr

    assert cli.json("roles", "set", "heavy", "exports")["queues"] == ["exports"]
    assert cli.json("roles", "set", "light", "reports")["name"] == "light"

    assert cli.ok("roles", "delete", "heavy").stdout == "role 'heavy' deleted\n"
    assert cli("roles", "get", "heavy").exit_code == ExitCode.NOT_FOUND
    assert cli("roles", "delete", "heavy").exit_code == ExitCode.NOT_FOUND


def test_a_role_gets_a_strategy_and_weights(cli: Cli) -> None:
    cli.ok("queues", "create", "reports")
    role = cli.json("roles", "create", "ops", "default", "reports", "--strategy", "strict")
    assert role["strategy"] == "strict"
    weighted = cli.json(
        "roles",
        "set",
        "ops",
        "default",
        "reports",
        "--strategy",
        "weighted",
        "--weight",
        "reports=3",
    )
    assert (weighted["strategy"], weighted["weights"]) == ("weighted", {"reports": 3})
    assert cli.api("GET", "/roles/ops").json() == weighted
    assert cli.ok("roles", "get", "ops").stdout.splitlines()[-1] == (
        "strategy\tweighted default=1,reports=3"
    )
    bad = cli("roles", "set", "ops", "default", "--weight", "reports=3", "--strategy", "weighted")
    assert bad.exit_code == ExitCode.USAGE and "does not have: reports" in bad.stderr
    assert cli("roles", "set", "ops", "default", "--weight", "default").exit_code == ExitCode.USAGE
    assert cli("roles", "create", "x", "--strategy", "fastest").exit_code == ExitCode.USAGE
    assert cli.json("roles", "get", "ops") == weighted  # nothing stored by the refused calls
    # update changes what it is given and keeps the rest.
    kept = cli.json("roles", "update", "ops", "--weight", "reports=5")
    assert (kept["queues"], kept["strategy"], kept["weights"]) == (
        ["default", "reports"],
        "weighted",
        {"reports": 5},
    )
    strict = cli.json("roles", "update", "ops", "--strategy", "strict")
    assert (strict["queues"], strict["strategy"], strict["weights"]) == (
        ["default", "reports"],
        "strict",
        {},
    )
    assert cli.json("roles", "update", "ops", "reports")["strategy"] == "strict"
    assert cli("roles", "update", "nosuchrole", "--strategy", "strict").exit_code == (
        ExitCode.NOT_FOUND
    )
    # The API takes the same body and refuses the same errors with a 422.
    put = cli.api("PUT", "/roles/ops", json={"queues": ["default"], "strategy": "strict"})
    assert put.status_code == 200 and put.json()["strategy"] == "strict"
    bad_put = cli.api("PUT", "/roles/ops", json={"queues": ["default"], "weights": {"default": 2}})
    assert bad_put.status_code == 422 and "weights need strategy" in bad_put.text


def test_deleting_a_queue_drops_it_from_roles(cli: Cli) -> None:
    cli.ok("queues", "create", "gone")
    cli.ok("roles", "set", "default", "default", "gone")
    cli.ok("queues", "delete", "gone")
    assert cli.json("roles", "get", "default")["queues"] == ["default"]


def test_group_without_a_subcommand_shows_help(cli: Cli) -> None:
    result = cli("queues")
    assert "purge" in result.stdout and result.exit_code in (0, 2)

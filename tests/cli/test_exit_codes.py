"""Every expected error maps to one documented exit status, in one place."""

from __future__ import annotations

import pytest
from jobbers.cli.exit_codes import (
    Declined,
    ExitCode,
    SomeFailed,
    StillRunning,
    TaskNotCompleted,
    UsageProblem,
    exit_code_for,
    exit_code_for_outcome,
)
from jobbers.cli.main import main
from pydantic import ValidationError

from jobbers.api import client
from jobbers.api.schemas import QueueConfig
from jobbers.dev.redis_server import free_port


def _validation_error() -> ValidationError:
    try:
        QueueConfig(name="bad name")
    except ValidationError as exc:
        return exc
    raise AssertionError("expected a ValidationError")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (client.ManagerUnreachable("http://x", "connection refused"), ExitCode.UNREACHABLE),
        (client.NotFound(404, "nope"), ExitCode.NOT_FOUND),
        (client.Conflict(409, "taken"), ExitCode.CONFLICT),
        (client.InvalidRequest(422, []), ExitCode.USAGE),
        (client.PayloadTooLarge(413, "big"), ExitCode.USAGE),
        (client.Unauthorized(401, "token"), ExitCode.FAILURE),
        (client.ServiceUnavailable(503, "redis"), ExitCode.FAILURE),
        (client.ServerError(500, "boom"), ExitCode.FAILURE),
        (client.ApiError(418, "teapot"), ExitCode.FAILURE),
        (client.UnexpectedResponse("skew"), ExitCode.FAILURE),
        (_validation_error(), ExitCode.USAGE),
        (UsageProblem("bad --param"), ExitCode.USAGE),
        (Declined("no"), ExitCode.DECLINED),
        (StillRunning("still started"), ExitCode.STILL_RUNNING),
        (TaskNotCompleted("failed"), ExitCode.NOT_COMPLETED),
        (SomeFailed("1 of 2", ExitCode.CONFLICT), ExitCode.CONFLICT),
        (RuntimeError("a bug"), None),
    ],
)
def test_exit_code_for(error: BaseException, code: ExitCode | None) -> None:
    assert exit_code_for(error) == code


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        ("cancelled", ExitCode.OK),
        ("cancel_requested", ExitCode.OK),
        ("resubmitted", ExitCode.OK),
        ("not_found", ExitCode.NOT_FOUND),
        ("conflict: task 01X is completed and cannot be cancelled", ExitCode.CONFLICT),
        (
            "conflict: task 01X is started; only failed, stalled or cancelled tasks",
            ExitCode.CONFLICT,
        ),
        ("invalid_id", ExitCode.USAGE),
        ("error: task 01X belongs to queue 'q', which no longer exists", ExitCode.FAILURE),
        ("something new", ExitCode.FAILURE),
    ],
)
def test_exit_code_for_outcome(outcome: str, code: ExitCode) -> None:
    assert exit_code_for_outcome(outcome) == code


def test_codes_are_the_documented_ones() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status"], "Missing argument 'ID'. (see 'jobbers status --help')"),
        (["status", "01JBKR2E5F3G4H5J6K7M8N9P0Q", "--bogus"], "No such option: --bogus (see"),
        (["nosuch"], "No such command 'nosuch'. (see 'jobbers --help')"),
        (["list", "--limit", "0"], "Invalid value for '--limit' / '-n': Input should be"),
        (["stats", "-o", "yaml"], "Invalid value for '--output' / '-o': Value error, 'yaml'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == ExitCode.USAGE
    out = capsys.readouterr()
    assert out.err.startswith(f"error: {message}") and out.err.count("\n") == 1, out.err
    assert out.out == "" and "╭" not in out.err


def test_typer_exits_keep_their_status_through_the_entry_point(
    capsys: pytest.CaptureFixture[str],
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for args, code in (
        (["status", "01JBKR2E5F3G4H5J6K7M8N9P0Q", "--wait", "--url", dead], ExitCode.UNREACHABLE),
        (["queues"], ExitCode.USAGE),  # no sub-command: the group's help, as Typer does
        (["queues", "--help"], ExitCode.OK),
    ):
        with pytest.raises(SystemExit) as exited:
            main(args)
        assert exited.value.code == code, args
    assert "pause" in capsys.readouterr().out

"""The plumbing every API command shares: options, the client session, and error exits.

A command is written as ``def status(s: Session, task_id: ...)`` under ``@api_command``: the
decorator hides ``s`` from Typer, adds ``--url``, ``--json``, ``-o`` and ``-q`` to the
command, opens the client on first use, and turns expected errors into one line on stderr
and the exit status ``exit_code_for`` chooses. Commands stay parse, call, render.
"""

from __future__ import annotations

import functools
import gc
import inspect
import os
import sys
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from .exit_codes import Declined, UsageProblem, exit_code_for, one_line
from .inputs import URL_ENV, check_url
from .output import Mode, Output

if TYPE_CHECKING:
    import httpx

    from jobbers.api.client import JobbersClient, SyncJobbersClient

T = TypeVar("T")


@dataclass
class CliConfig:
    """What the root context carries: the root ``--url``, and what tests inject.

    Tests inject a transport to reach an in-process app, and ``terminal`` to say whether
    stdin is a terminal one can ask on (CliRunner's stdin never is).
    """

    transport_factory: Callable[[], httpx.BaseTransport] | None = None
    url: str | None = None
    terminal: bool | None = None

    def stdin_is_terminal(self) -> bool:
        """Whether a confirmation can be asked: stdin is a terminal (or a test says so)."""
        return sys.stdin.isatty() if self.terminal is None else self.terminal


class Session:
    """One command's client (opened on first use) and its output."""

    def __init__(self, url: str | None, out: Output, config: CliConfig) -> None:
        self.url = url
        self.out = out
        self._config = config
        self._sync: SyncJobbersClient | None = None

    @property
    def api(self) -> JobbersClient:
        """The async client; pass its coroutines to ``call``."""
        return self._client().api

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run one client call and return its answer."""
        return self._client().run(coroutine)

    def iterate(self, stream: AsyncGenerator[T]) -> Iterator[T]:
        """The items of one of the client's async generators (``events``), blocking on each."""
        return self._client().iterate(stream)

    def _client(self) -> SyncJobbersClient:
        if self._sync is None:
            # Pydantic looks for plugins (the entry points of every installed package, ~5 ms)
            # when it builds its first model; a command's answers need none. Its documented
            # switch, unless the user set it: PYDANTIC_DISABLE_PLUGINS= (empty) keeps them.
            os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
            # What is loaded by the end of this import (Typer, pydantic, httpx, the schemas:
            # some 40,000 objects) lives until the process exits, so the collector has nothing
            # to find in it: it is paused for the import, and what is loaded is frozen, which
            # the collector then skips, in the command's collections and in those the
            # interpreter runs at exit (about 45 ms of a command's 240). What the command makes
            # from here on is collected as before.
            collecting = gc.isenabled()
            gc.disable()
            try:
                from jobbers.api.client import SyncJobbersClient
            finally:
                gc.freeze()
                if collecting:
                    gc.enable()

            factory = self._config.transport_factory
            self._sync = SyncJobbersClient(self.url, transport=factory() if factory else None)
        return self._sync

    def close(self) -> None:
        """Close the client if it was opened."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    def confirm(self, question: str, yes: bool, stdin_used: bool = False) -> None:
        """Ask before a destructive action unless ``--yes``; Declined (exit 8) on no.

        Only a terminal is asked: a script's stdin holds no answer (or holds the ids), so
        without ``--yes`` it is a usage error (exit 2), before anything is printed or changed.
        """
        if yes:
            return
        if stdin_used:
            raise UsageProblem(f"{question} needs --yes: stdin holds the ids, not an answer")
        if not self._config.stdin_is_terminal():
            raise UsageProblem(f"{question} needs --yes when not run from a terminal")
        if not typer.confirm(question, default=False, err=True):
            raise Declined("nothing changed")


def config_of(ctx: typer.Context) -> CliConfig:
    """The CliConfig of the root context (a default one unless a test injected its own)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliConfig):
        root.obj = CliConfig()
    return root.obj


def command_url(ctx: typer.Context, url: str | None, param: str) -> str | None:
    """The manager URL a command uses, checked (UsageProblem if it cannot be one).

    ``--url`` after the command, else before it (``jobbers --url URL list``, which the
    root help promises), else JOBBERS_URL (which Typer has put in ``url``), else None for
    the client's default.
    """
    given = getattr(ctx.get_parameter_source(param), "name", None) == "COMMANDLINE"
    root = config_of(ctx).url
    if root and not given:
        url, given = root, True
    check_url(url, "--url" if given else URL_ENV)
    return url


def fail(error: BaseException) -> typer.Exit:
    """Print an expected error as one line on stderr and return the Exit to raise; re-raise bugs."""
    code = exit_code_for(error)
    if code is None:
        raise error
    sys.stderr.write(f"error: {one_line(error)}\n")
    return typer.Exit(int(code))


def _common(name: str, kind: Any, default: Any, *decls: str, **settings: Any) -> inspect.Parameter:
    """One option every API command takes, listed under its own panel in the help."""
    option = typer.Option(*decls, rich_help_panel="Output and connection", **settings)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, option]
    )


_COMMON: list[inspect.Parameter] = [
    _common(
        "opt_url",
        str | None,
        None,
        "--url",
        envvar="JOBBERS_URL",
        help="Manager URL [default: http://127.0.0.1:8000]",
        show_default=False,
    ),
    _common(
        "opt_output",
        Mode | None,
        None,
        "--output",
        "-o",
        help="table (terminal default), tsv (pipe default), json or quiet",
        show_default=False,
    ),
    _common(
        "opt_json",
        bool,
        False,
        "--json",
        help="Print the API's JSON, nothing else (same as -o json)",
    ),
    _common("opt_quiet", bool, False, "--quiet", "-q", help="Print ids only, one per line"),
    inspect.Parameter("opt_ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
]


def api_command(fn: Callable[..., None]) -> Callable[..., None]:
    """Make ``fn(s: Session, ...)`` a Typer command with the shared options and error exits."""
    signature = inspect.signature(fn, eval_str=True)
    own = list(signature.parameters.values())[1:]  # the first one is the Session

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        ctx: typer.Context = kwargs.pop("opt_ctx")
        url, output = kwargs.pop("opt_url"), kwargs.pop("opt_output")
        as_json, quiet = kwargs.pop("opt_json"), kwargs.pop("opt_quiet")
        mode = Mode.QUIET if quiet else Mode.JSON if as_json else output
        config = config_of(ctx)
        session = Session(None, Output(mode), config)
        try:
            session.url = command_url(ctx, url, "opt_url")
            fn(session, *args, **kwargs)
        except typer.Exit:
            raise
        except Exception as exc:
            raise fail(exc) from None
        finally:
            session.close()

    wrapper.__signature__ = signature.replace(parameters=[*own, *_COMMON])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *_COMMON]}
    return wrapper

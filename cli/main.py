"""The ``jobbers`` entry point: the commands people run most, answered without Typer.

``jobbers``, ``jobbers --help``, ``jobbers --version`` (or ``version``) and ``jobbers status
ID`` are served here from the standard library, httpx and the CLI's own renderers; every
other command line goes to the Typer app (``app.py``) unchanged. Typer loads pydantic and
rich before it parses anything, a few hundred milliseconds on a small VM that these
commands do not need (``bench/cli_startup.py``). The quick answers are held to the Typer ones by
``tests/cli/test_quick_path.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

PROG = "jobbers"
COMPLETE_VAR = "_JOBBERS_COMPLETE"  # set when a shell asks the app for completions


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point of ``jobbers``."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = quick(args)
        if code is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader left early (``jobbers --help | head -1``): no traceback about it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code if code is not None else run_typer(args))


def quick(args: Sequence[str]) -> int | None:
    """Answer ``args`` without Typer and return the exit status, or None to leave it to Typer."""
    if COMPLETE_VAR in os.environ:
        return None
    match args:
        case [] | ["--help"]:
            from . import root_help

            root_help.show()
            return 2 if not args else 0  # Typer's no_args_is_help exits 2 after the page
        case ["--version"] | ["version"]:
            from jobbers import __version__

            sys.stdout.write(f"{PROG} {__version__}\n")
            return 0
        case ["status", *rest]:
            from . import quick_status

            return quick_status.run(rest)
    return None


def run_typer(args: Sequence[str]) -> int:
    """Run the Typer app on ``args`` and return its exit status.

    Typer would draw a usage error (missing argument, unknown option, bad value) as a
    boxed panel under the usage line; here it is one line on stderr, like every other
    ``jobbers`` error, pointing at the command's ``--help``. Exit status 2 either way.
    """
    import typer

    from .app import app

    try:
        code = app(args, prog_name=PROG, standalone_mode=False)
    except typer.TyperException as error:  # the base of click's ClickException in Typer
        context = getattr(error, "ctx", None)
        if type(error).__name__ != "NoArgsIsHelpError":  # Typer has printed the help page
            where = f" (see '{context.command_path} --help')" if context else ""
            message = " ".join(error.format_message().split())
            sys.stderr.write(f"error: {message}{where}\n")
        return int(error.exit_code)
    except typer.Abort:
        sys.stderr.write("Aborted.\n")
        return 1
    return code if isinstance(code, int) else 0


def skip_httpx_cli() -> None:
    """Keep ``import httpx`` from loading httpx's own command-line tool (click, rich, pygments).

    httpx imports ``httpx._main`` eagerly, some 60-150 ms that ``jobbers status`` never uses.
    A None entry in sys.modules makes that import fail, and httpx answers with the stub it
    has for installs without its ``cli`` extra. Only done before httpx is first imported.
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

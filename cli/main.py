"""The ``jobbers`` entry point: the Typer app (``app.py``), with errors in the CLI's words.

Every command line, ``--help`` and ``status`` included, goes through the one Typer app; it
starts fast because the app imports each command's module only when that command runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

PROG = "jobbers"


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point of ``jobbers``."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = run_typer(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left early (``jobbers --help | head -1``): no traceback about it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code)


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

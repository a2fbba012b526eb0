"""The wire contract of the manager's HTTP API: its schemas, the transport core and the
typed client that the CLI and the TUI use. Imports neither FastAPI nor Typer.

Importing httpx also imports its optional command-line tool (``httpx._main``: click, rich
and pygments, ~45 ms of CPU, a quarter of a bare Typer app's start) whenever those are
installed, as they are beside Typer and Textual. No client here uses that tool, so the
package leaves it out before httpx is first imported: a None entry in sys.modules makes
httpx take the stub it has for installs without its ``cli`` extra. A process that imported
httpx before this package keeps the tool.
"""

import sys

if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

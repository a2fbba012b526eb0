"""The wire contract of the manager's HTTP API: its schemas, the transport core and the
typed client that the CLI and the TUI use. Imports neither FastAPI nor Typer."""

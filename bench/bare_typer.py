"""The CLI start-up yardstick: a bare two-command Typer app, nothing imported but Typer.

``bench/cli_startup.py`` times ``python bench/bare_typer.py --help`` in the same run as every
``jobbers`` command and states each as a multiple of it (issue 17 §5: every command within
1.3x, ``jobbers --help`` within 1.15x).
"""

import typer

app = typer.Typer()


@app.command()
def hello(name: str) -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


@app.command()
def bye() -> None:
    """Say bye."""
    typer.echo("bye")


if __name__ == "__main__":
    app()

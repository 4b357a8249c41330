"""The `polymm` command: the root Typer app, its callback, and the one place errors become exit codes."""

from __future__ import annotations

import sys

import typer

from polymm_cli.cli import exchange
from polymm_cli.errors import EXIT_INTERRUPTED, PolymmError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(exchange.app, name="exchange")


@app.callback()
def root() -> None:
    """polymm: a market maker for Polymarket CLOB V2."""


def main() -> None:
    """Run the CLI; expected failures become one line on stderr and their exit code."""
    try:
        app(standalone_mode=False)
    except PolymmError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # click's usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise

"""The `polymm` command: the root Typer app, its callback, and the one place errors become exit codes."""

from __future__ import annotations

import logging
import sys

import typer

from polymm_cli.cli import backtest, doctor, exchange, inventory, recording, reporting, status, trading
from polymm_cli.errors import EXIT_INTERRUPTED, PolymmError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(exchange.app, name="exchange")
app.add_typer(reporting.markets_app, name="markets")
app.command("run")(trading.run)
app.command("quote")(trading.quote)
app.command("cancel-all")(trading.cancel_all)
app.command("status")(status.status)
app.command("pnl")(reporting.pnl)
app.command("seed")(inventory.seed)
app.command("split", help="Alias of seed.")(inventory.seed)
app.command("merge")(inventory.merge)
app.command("redeem")(inventory.redeem)
app.command("liquidate")(inventory.liquidate)
app.command("halt")(inventory.halt)
app.command("resume")(inventory.resume)
app.command("record")(recording.record)
app.command("import-capture")(recording.import_capture)
app.command("backtest")(backtest.backtest)
app.command("doctor")(doctor.doctor)


@app.callback()
def root() -> None:
    """polymm: a market maker for Polymarket CLOB V2."""


def main() -> None:
    """Run the CLI; expected failures become one line on stderr and their exit code (errors.py)."""
    # What the engine warns about (halts, feed losses) is on the dashboard or in the headless
    # decision lines already; stderr stays for the one line a failure ends with.
    logging.basicConfig(level=logging.ERROR, format="polymm: %(message)s")
    try:
        app()  # click reports its own usage errors (exit 2)
    except PolymmError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)

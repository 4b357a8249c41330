"""Service for `polymm backtest`: what the CLI may reach of polymm_cli/backtest (cli never imports it).

`BacktestResult` is re-exported as the views' type (as services/reporting.py does for `PnlReport`);
`write_report` writes a session's HTML report.
"""

from __future__ import annotations

from pathlib import Path

from polymm_cli.backtest.result import BacktestResult as BacktestResult  # re-exported: the views' type
from polymm_cli.backtest.result import rank as rank


def write_report(result: BacktestResult, path: Path) -> Path:
    """The session's charts as one self-contained HTML file (polymm_cli/backtest/report.py)."""
    from polymm_cli.backtest.report import render_html  # plotly is imported only when a report is asked for

    return render_html(result, path)

"""`--report FILE.html`: a backtest's charts as one self-contained HTML file (plotly, works offline).

Four panels on one time axis (UTC): the mid with our bid and ask and our fills (bid fills and ask
fills apart), net position with the limit, cumulative P&L, and drawdown below the running peak;
above them a table of the headline figures. plotly.js is written into the file (no network needed
to open it). A long session is thinned to at most `MAX_POINTS` samples, keeping in each stretch
its first sample and those where P&L, net position and drawdown reach their extremes (so no
trough or peak of the figures disappears from the charts); every fill is kept.

Must not: compute a figure of its own (the drawdown drawn is result.py's `drawdowns`); read a clock.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from polymm_cli.backtest.result import BacktestResult, FillPoint, Sample, drawdowns
from polymm_cli.files import write_atomic

MAX_POINTS = 20_000
WEBGL_ABOVE = 5_000  # points in one trace past which it is drawn with WebGL (scattergl)
_PER_BUCKET = 6  # the first sample and five extremes
BID_COLOUR, ASK_COLOUR, MID_COLOUR = "#2ca02c", "#d62728", "#7f7f7f"
POSITION_COLOUR, PNL_COLOUR = "#1f77b4", "#9467bd"


def keep_indices(
    samples: Sequence[Sample], falls: Sequence[Decimal], max_points: int = MAX_POINTS
) -> list[int]:
    """Which samples to draw: all when there are at most `max_points`, else per stretch the first and
    the extremes of P&L, net position and drawdown (`falls`), plus the last sample."""
    n = len(samples)
    if n <= max_points:
        return list(range(n))
    buckets = max(1, (max_points - 1) // _PER_BUCKET)
    size = -(-n // buckets)
    keep = {n - 1}
    for start in range(0, n, size):
        stretch = range(start, min(n, start + size))
        keep.add(start)
        keep.add(min(stretch, key=lambda i: samples[i].pnl))
        keep.add(max(stretch, key=lambda i: samples[i].pnl))
        keep.add(min(stretch, key=lambda i: samples[i].net_position))
        keep.add(max(stretch, key=lambda i: samples[i].net_position))
        keep.add(max(stretch, key=lambda i: falls[i]))
    return sorted(keep)


def render_html(result: BacktestResult, path: Path, *, max_points: int = MAX_POINTS) -> Path:
    """Write the report of `result` to `path` (atomically, mode 0600) and return the path."""
    figure = build_figure(result, max_points=max_points)
    charts = figure.to_html(full_html=False, include_plotlyjs=True, config={"displaylogo": False})
    title = f"polymm backtest — {result.question or result.market_id}"
    page = _PAGE.format(title=html.escape(title), header=header_table(result), charts=charts)
    write_atomic(path, page)
    return path


def build_figure(result: BacktestResult, *, max_points: int = MAX_POINTS) -> go.Figure:
    """The four panels, sharing the time axis."""
    falls = drawdowns(result.samples)
    kept = keep_indices(result.samples, falls, max_points)
    samples = [result.samples[i] for i in kept]
    times = [_utc(s.t) for s in samples]
    figure = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        row_heights=[0.43, 0.19, 0.22, 0.16],
        subplot_titles=(
            "mid, our quotes and fills (YES price)",
            "net position (YES − NO)",
            "cumulative P&L (pUSD)",
            "drawdown below the running peak (pUSD)",
        ),
    )
    for trace in _quote_traces(times, samples):
        figure.add_trace(trace, row=1, col=1)
    for trace in _fill_traces(result.fill_points):
        figure.add_trace(trace, row=1, col=1)
    figure.add_trace(
        _line(times, [s.net_position for s in samples], "net position", POSITION_COLOUR), row=2, col=1
    )
    for level in (result.position_limit, -result.position_limit):
        figure.add_hline(y=float(level), line_dash="dot", line_color=ASK_COLOUR, opacity=0.6, row=2, col=1)
    figure.add_trace(
        _line(times, [s.pnl for s in samples], "cumulative P&L", PNL_COLOUR, step=False), row=3, col=1
    )
    fall = _line(times, [-falls[i] for i in kept], "drawdown", ASK_COLOUR, step=False)
    fall.update(fill="tozeroy", fillcolor="rgba(214,39,40,0.25)")
    figure.add_trace(fall, row=4, col=1)
    figure.update_layout(
        height=1000,
        template="plotly_white",
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
    )
    figure.update_xaxes(title_text="time (UTC)", row=4, col=1)
    return figure


def _quote_traces(times: list[str], samples: Sequence[Sample]) -> list[Any]:
    return [
        _line(times, [s.mid for s in samples], "mid", MID_COLOUR, dash="dot"),
        _line(times, [s.bid for s in samples], "our bid", BID_COLOUR),
        _line(times, [s.ask for s in samples], "our ask", ASK_COLOUR),
    ]


def _fill_traces(fills: Sequence[FillPoint]) -> list[Any]:
    traces = []
    for is_bid, name, colour, symbol in (
        (True, "bid fills", BID_COLOUR, "triangle-up"),
        (False, "ask fills", ASK_COLOUR, "triangle-down"),
    ):
        mine = [f for f in fills if f.is_bid is is_bid]
        kind = go.Scattergl if len(mine) > WEBGL_ABOVE else go.Scatter
        traces.append(
            kind(
                x=[_utc(f.t) for f in mine],
                y=[float(f.yes_price) for f in mine],
                mode="markers",
                name=name,
                marker={"color": colour, "symbol": symbol, "size": 9, "line": {"width": 1, "color": "black"}},
                text=[f"{f.liquidity.lower()} {f.size} @ {f.yes_price}" for f in mine],
                hovertemplate="%{text}<extra>" + name + "</extra>",
            )
        )
    return traces


def _line(
    times: list[str],
    values: Sequence[Decimal | None],
    name: str,
    colour: str,
    *,
    step: bool = True,
    dash: str = "solid",
) -> Any:
    """A line over the samples; None leaves a gap (no quote resting, no book)."""
    kind = go.Scattergl if len(times) > WEBGL_ABOVE else go.Scatter
    return kind(
        x=times,
        y=[None if v is None else float(v) for v in values],
        mode="lines",
        name=name,
        line={"color": colour, "dash": dash, "shape": "hv" if step else "linear"},
        connectgaps=False,
    )


def _utc(t: float) -> str:
    """Unix seconds as plotly reads a time: ISO, UTC, no offset (plotly.js ignores offsets)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _duration(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m{rest % 60:02d}s" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _money(value: Decimal | None, signed: bool = True) -> str:
    if value is None:
        return "n/a"
    q = value.quantize(Decimal("0.01"))
    return f"{q:+,.2f}" if signed else f"{q:,.2f}"


def header_rows(r: BacktestResult) -> list[tuple[str, str]]:
    """The headline figures as (label, value) text, in the order the table shows them."""
    std = "n/a" if r.pnl_per_hour_std is None else _money(r.pnl_per_hour_std, signed=False)
    rows = [
        ("market", r.slug or r.market_id),
        ("duration", _duration(r.duration_s)),
        ("events replayed", f"{r.events:,}"),
        ("total P&L", _money(r.total)),
        (
            "realised / unrealised / fees",
            f"{_money(r.realised)} / {_money(r.unrealised)} / {_money(-r.fees)}",
        ),
        ("P&L per hour ± std", f"{_money(r.pnl_per_hour)} ± {std}"),
        ("max drawdown", _money(-r.max_drawdown)),
        (
            "fills / maker volume",
            f"{r.fills:,} / {r.maker_volume.normalize():f} ({_money(r.maker_notional, False)} pUSD)",
        ),
        ("inventory std", f"{r.inventory_std.quantize(Decimal('0.01'))}"),
        (f"time at limit (±{r.position_limit.normalize():f})", f"{r.time_at_limit:.1%}"),
        ("est. liquidity reward", _money(r.estimated_reward)),
    ]
    return rows + [(key, value) for key, value in r.params.items()]


def header_table(r: BacktestResult) -> str:
    cells = "\n".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in header_rows(r)
    )
    return f'<table class="figures">\n{cells}\n</table>'


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
h1 {{ font-size: 1.3em; margin: 0 0 0.6em; }}
table.figures {{ border-collapse: collapse; font-size: 0.92em; margin-bottom: 1em; }}
table.figures th {{ text-align: left; font-weight: normal; color: #555; padding: 2px 1.5em 2px 0; }}
table.figures td {{ text-align: right; font-variant-numeric: tabular-nums; padding: 2px 0; }}
</style>
</head>
<body>
<h1>{title}</h1>
{header}
{charts}
</body>
</html>
"""

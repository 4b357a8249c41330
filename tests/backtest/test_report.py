"""The HTML report: one self-contained file (plotly.js inside), every chart there, large series thinned."""

from __future__ import annotations

import re
import stat
from decimal import Decimal
from pathlib import Path

from polymm_cli.backtest.report import MAX_POINTS, build_figure, keep_indices, render_html
from polymm_cli.backtest.result import BacktestResult, FillPoint, Sample, drawdowns, flat_pnl, summarize
from polymm_cli.exchange.markets import sample_markets

FED = sample_markets()[0]
D = Decimal
T0 = 1_780_000_000.0
TRACES = ("mid", "our bid", "our ask", "bid fills", "ask fills", "net position", "cumulative P&L", "drawdown")


def small_result(n: int = 120, fills: int = 6) -> BacktestResult:
    samples = [
        Sample(
            t=T0 + i,
            mid=D("0.50") + D(i % 7) / 100,
            bid=D("0.48") if i % 5 else None,
            ask=D("0.53"),
            net_position=D((i * 7) % 41 - 20),
            pnl=D((i * 13) % 29 - 10) / 10,
        )
        for i in range(n)
    ]
    points = [
        FillPoint(
            t=T0 + 3 * k, is_bid=k % 2 == 0, yes_price=D("0.48") + D(k % 2) / 20, size=D(5), liquidity="MAKER"
        )
        for k in range(fills)
    ]
    return summarize(
        FED,
        samples,
        points,
        flat_pnl(FED),
        limit=D(20),
        events=n * 3,
        params={"spread": "0.04", "queue": "risk-averse"},
    )


def test_the_report_is_one_self_contained_html_file(tmp_path: Path) -> None:
    path = render_html(small_result(), tmp_path / "report.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    # plotly.js is inside: no script, stylesheet or font is fetched from anywhere
    assert not re.search(r"<script[^>]*\bsrc=", text)
    assert not re.search(r"<link[^>]*\bhref=", text)
    assert "Plotly.newPlot" in text and len(text) > 1_000_000  # the bundle itself (~4.7 MB)
    for name in TRACES:
        assert f'"name":"{name}"' in text, name
    assert "Will the Fed cut rates" in text and "risk-averse" in text and "time at limit" in text
    assert "time (UTC)" in text and "<td>1m59s</td>" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_header_is_escaped(tmp_path: Path) -> None:
    r = small_result()
    hostile = BacktestResult.from_json({**r.to_json(), "question": "<script>alert(1)</script>"})
    text = render_html(hostile, tmp_path / "r.html").read_text()
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_rewriting_a_report_replaces_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("old")
    render_html(small_result(), path)
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temp file left behind


def test_times_are_utc_on_one_shared_axis() -> None:
    figure = build_figure(small_result())
    mid = next(t for t in figure.data if t.name == "mid")
    assert mid.x[0] == "2026-05-28 20:26:40.000000"  # 1_780_000_000 s in UTC
    axes = {t.xaxis for t in figure.data}
    assert axes == {"x", "x2", "x3", "x4"}
    assert (figure.layout.xaxis.matches, figure.layout.xaxis2.matches, figure.layout.xaxis3.matches) == (
        "x4",
    ) * 3


def test_a_long_session_is_thinned_but_keeps_every_fill_and_every_extreme() -> None:
    n = 3 * MAX_POINTS
    r = small_result(n=n, fills=2_000)
    # a single deep trough and a single inventory spike in the middle of a long stretch
    trough, spike = n // 2 + 17, n // 3 + 5
    samples = list(r.samples)
    samples[trough] = Sample(
        t=samples[trough].t, mid=None, bid=None, ask=None, net_position=D(0), pnl=D(-500)
    )
    samples[spike] = Sample(t=samples[spike].t, mid=None, bid=None, ask=None, net_position=D(99), pnl=D(0))
    kept = keep_indices(samples, drawdowns(samples))
    assert len(kept) <= MAX_POINTS
    assert {0, n - 1, trough, spike} <= set(kept)
    assert kept == sorted(set(kept))

    figure = build_figure(summarize(FED, samples, list(r.fill_points), flat_pnl(FED), limit=D(20)))
    lengths = {t.name: len(t.x) for t in figure.data}
    assert lengths["bid fills"] + lengths["ask fills"] == 2_000
    assert lengths["mid"] == len(kept) <= MAX_POINTS
    pnl = next(t for t in figure.data if t.name == "cumulative P&L")
    assert min(pnl.y) == -500


def test_a_short_session_is_drawn_whole() -> None:
    r = small_result(n=50)
    assert keep_indices(r.samples, drawdowns(r.samples)) == list(range(50))

"""The dashboard as the user sees it: `views.dashboard(snapshot)` rendered at a fixed width, no colour.

Snapshots are built by hand (the engine's `snapshot()` has its own tests): one quoting market with a
book, our two quotes, inventory and fills, and the same engine halted.
"""

from __future__ import annotations

import dataclasses
import io
import re
from dataclasses import replace
from decimal import Decimal

from rich.console import Console

from polymm_cli.cli import views
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.model import (
    EngineSnapshot,
    FillView,
    HealthSnapshot,
    MarketSnapshot,
    PriceLevel,
    QuoteOrderView,
    Side,
    TradeStatus,
)

FED = sample_markets()[0]  # 0.01 tick
D = Decimal


def render(snapshot: EngineSnapshot) -> str:
    console = Console(width=140, record=True, color_system=None, file=io.StringIO())
    console.print(views.dashboard(snapshot))
    return console.export_text()


def line_with(text: str, screen: str) -> str:
    [line] = [ln for ln in screen.splitlines() if text in ln]
    return line


def quoting_snapshot() -> EngineSnapshot:
    """Quoting FED around 0.50: our YES bid at 0.48 and our ask as a NO bid at 0.48 (YES 0.52)."""
    # Long on purpose: one literal snapshot, every field the dashboard draws, readable in one place.
    market = MarketSnapshot(
        market=FED,
        bids=(PriceLevel(D("0.49"), D("120")), PriceLevel(D("0.48"), D("25"))),
        asks=(PriceLevel(D("0.51"), D("80")), PriceLevel(D("0.52"), D("30"))),
        mid=D("0.50"),
        orders=(
            QuoteOrderView(
                order_id="0xbid",
                token_id=FED.yes_token,
                outcome="Yes",
                side=Side.BUY,
                price=D("0.48"),
                yes_price=D("0.48"),
                remaining=D("10"),
                tag="bid",
            ),
            QuoteOrderView(
                order_id="0xask",
                token_id=FED.no_token,
                outcome="No",
                side=Side.BUY,
                price=D("0.48"),
                yes_price=D("0.52"),
                remaining=D("7.5"),
                tag="ask",
            ),
        ),
        yes_position=D("12"),
        no_position=D("5"),
        position_limit=D("100"),
        realized_pnl=D("1.25"),
        unrealized_pnl=D("-0.40"),
        fees=D("0.03"),
        total_pnl=D("0.82"),
        fills=(
            FillView(
                ts=1.0,
                outcome="Yes",
                side=Side.BUY,
                price=D("0.47"),
                size=D("12"),
                liquidity="MAKER",
                status=TradeStatus.CONFIRMED,
            ),
            FillView(
                ts=0.5,
                outcome="No",
                side=Side.BUY,
                price=D("0.46"),
                size=D("5"),
                liquidity="MAKER",
                status=TradeStatus.MATCHED,
            ),
        ),
        status="quoting",
        last_decision="ask size cut 10 -> 7.5: YES held",
    )
    return EngineSnapshot(
        ts=1_700_000_000.0,
        venue="local",
        address="0x1234567890abcdef1234567890abcdef12345678",
        markets=(market,),
        health=HealthSnapshot(
            market_feed=True,
            feed_age_s=0.3,
            user_stream=True,
            heartbeat=True,
            heartbeat_age_s=2.0,
            last_error="",
            halted=None,
        ),
        decisions=42,
        orders_placed=17,
        orders_canceled=15,
        fills=2,
        latency_p50_us=850.0,
        latency_p99_us=4200.0,
    )


def test_the_header_shows_the_three_health_lights_the_wallet_and_the_total_pnl() -> None:
    # Arrange
    snapshot = quoting_snapshot()

    # Act
    screen = render(snapshot)

    # Assert
    assert "polymm — local — wallet 0x1234…5678" in screen
    health = line_with("market feed", screen)
    assert "market feed 0.3s ago" in health
    assert "user stream" in health
    assert "heartbeat 2.0s ago" in health
    assert "HALTED" not in screen
    totals = line_with("P&L +0.82", screen)
    assert "fills 2" in totals and "placed 17" in totals and "cancelled 15" in totals
    assert "decisions 42" in totals
    assert "p50 850µs p99 4,200µs" in totals


def test_the_market_panel_shows_the_book_with_our_orders_marked() -> None:
    # Arrange
    snapshot = quoting_snapshot()

    # Act
    screen = render(snapshot)

    # Assert
    assert f"{FED.question}  [{FED.slug}]  tick 0.01" in screen
    assert "book (YES)" in screen
    lines = screen.splitlines()

    def row(pattern: str) -> int:
        [index] = [i for i, ln in enumerate(lines) if re.search(pattern, ln)]
        return index

    # asks above the mid above the bids, best prices next to the mid; our orders marked with ◀ size
    order = [
        row(r"ask\s+0\.52\s+30\s+◀ 7\.5\s"),  # our ask: BUY NO 7.5 @ 0.48 = YES 0.52
        row(r"ask\s+0\.51\s+80\s{2,}[^◀]"),
        row(r"mid 0\.50\s"),  # at the tick's precision, as the levels
        row(r"bid\s+0\.49\s+120\s{2,}[^◀]"),
        row(r"bid\s+0\.48\s+25\s+◀ 10\s"),  # our bid: BUY YES 10 @ 0.48
    ]
    assert order == sorted(order)


def test_book_prices_read_at_the_tick_and_adopted_orders_are_marked_on_their_own_side() -> None:
    # Arrange: a 0.50 bid level holding an adopted order (no tag) of ours: BUY YES 6 @ 0.50
    snapshot = quoting_snapshot()
    m = snapshot.markets[0]
    adopted = QuoteOrderView(
        order_id="0xold",
        token_id=FED.yes_token,
        outcome="Yes",
        side=Side.BUY,
        price=D("0.50"),
        yes_price=D("0.50"),
        remaining=D("6"),
        tag="",
    )
    book = replace(
        m,
        bids=(PriceLevel(D("0.5"), D("6")), *m.bids),
        asks=(PriceLevel(D("0.51"), D("80")),),
        mid=D("0.505"),
        orders=(adopted,),
    )

    # Act
    screen = render(replace(snapshot, markets=(book,)))

    # Assert
    assert re.search(r"bid\s+0\.50\s+6\s+◀ 6\s", screen)
    assert re.search(r"ask\s+0\.51\s+80\s{2,}[^◀]", screen)
    assert "mid 0.505" in screen


def test_the_market_panel_shows_inventory_against_the_limit_and_every_pnl_line() -> None:
    # Arrange
    snapshot = quoting_snapshot()

    # Act
    screen = render(snapshot)

    # Assert
    assert "inventory and P&L" in screen
    assert re.search(r"YES\s+12\b", screen)
    assert re.search(r"NO\s+5\b", screen)
    assert re.search(r"net / limit\s+7 / ±100", screen)
    assert re.search(r"realized\s+\+1\.25", screen)
    assert re.search(r"unrealized\s+-0\.40", screen)
    assert re.search(r"fees\s+-0\.03", screen)
    assert re.search(r"total\s+\+0\.82", screen)


def test_the_pnl_panel_shows_the_three_kinds_of_income_apart() -> None:
    # Arrange: of the +0.82, the venue paid 0.0347 in rewards and 0.0021 in maker rebates
    snapshot = quoting_snapshot()
    market = dataclasses.replace(snapshot.markets[0], rewards=D("0.0347"), rebates=D("0.0021"))
    snapshot = dataclasses.replace(snapshot, markets=(market,))

    # Act
    screen = render(snapshot)

    # Assert: spread capture is what is left of the total
    assert re.search(r"from spread\s+\+0\.78", screen)
    assert re.search(r"rewards\s+\+0\.0347", screen)
    assert re.search(r"rebates\s+\+0\.0021", screen)
    assert re.search(r"total\s+\+0\.82", screen)


def test_the_limit_gauge_fills_with_the_share_of_the_limit_in_use() -> None:
    # Arrange: net +75 of a 100 limit
    snapshot = quoting_snapshot()
    long = replace(snapshot, markets=(replace(snapshot.markets[0], yes_position=D("80")),))

    # Act
    screen = render(long)

    # Assert
    assert re.search(r"net / limit\s+75 / ±100", screen)
    assert "███████░░░" in screen


def test_the_market_panel_lists_the_last_fills_and_the_status_line() -> None:
    # Arrange
    snapshot = quoting_snapshot()

    # Act
    screen = render(snapshot)

    # Assert
    assert "last fills" in screen
    assert re.search(r"BUY\s+Yes\s+0\.47\s+12\s+maker\s+CONFIRMED", screen)
    assert re.search(r"BUY\s+No\s+0\.46\s+5\s+maker\s+MATCHED", screen)
    assert "status: quoting   last decision: ask size cut 10 -> 7.5: YES held" in screen


def test_a_market_without_fills_says_so() -> None:
    # Arrange
    snapshot = quoting_snapshot()
    quiet = replace(snapshot, markets=(replace(snapshot.markets[0], fills=()),), fills=0)

    # Act
    screen = render(quiet)

    # Assert
    assert "no fills yet" in screen


def test_a_halted_engine_shows_halted_in_the_header_and_the_market_status() -> None:
    # Arrange
    snapshot = quoting_snapshot()
    reason = "cancel-all from another terminal"
    halted = replace(
        snapshot,
        health=replace(snapshot.health, halted=reason, last_error="user stream: closed"),
        markets=(replace(snapshot.markets[0], orders=(), status=f"halted: {reason}"),),
    )

    # Act
    screen = render(halted)

    # Assert
    assert f"HALTED: {reason}" in line_with("market feed", screen)
    assert f"status: halted: {reason}" in screen
    assert "last error: user stream: closed" in screen
    assert "◀" not in screen  # every quote pulled


def test_a_resolved_market_says_so_with_its_winner_and_a_closed_one_says_closed() -> None:
    snapshot = quoting_snapshot()
    market = snapshot.markets[0]
    resolved = replace(
        market,
        market=market.market.resolved_with(market.market.yes_token),
        orders=(),
        status="resolved: Yes won",
    )
    closed = replace(market, orders=(), status="closed: the venue no longer accepts orders in this market")

    resolved_screen = render(replace(snapshot, markets=(resolved,)))
    closed_screen = render(replace(snapshot, markets=(closed,)))

    assert "RESOLVED: Yes won" in resolved_screen and "status: resolved: Yes won" in resolved_screen
    assert "CLOSED" in closed_screen and "status: closed: the venue no longer accepts" in closed_screen
    assert "RESOLVED" not in render(snapshot) and "CLOSED" not in render(snapshot)


def test_an_unhealthy_feed_and_a_missing_book_render_without_numbers_we_do_not_have() -> None:
    # Arrange
    snapshot = quoting_snapshot()
    blind = replace(
        snapshot,
        health=replace(snapshot.health, market_feed=False, feed_age_s=None),
        markets=(
            replace(
                snapshot.markets[0],
                bids=(),
                asks=(),
                mid=None,
                orders=(),
                unrealized_pnl=None,
                status="paused: market feed unhealthy",
            ),
        ),
        latency_p50_us=None,
        latency_p99_us=None,
    )

    # Act
    screen = render(blind)

    # Assert
    assert "market feed never" in screen
    assert "no book" in screen
    assert re.search(r"unrealized\s+n/a", screen)
    assert "status: paused: market feed unhealthy" in screen
    assert "latency" not in screen


def test_the_header_says_what_reward_fitting_may_do_to_the_quotes() -> None:
    snapshot = replace(
        quoting_snapshot(), reward_fit="band (default; --no-reward-band keeps quotes at the spread)"
    )

    assert "reward fitting: band (default; --no-reward-band keeps quotes at the spread)" in render(snapshot)


def test_the_header_says_which_width_is_in_force_and_why() -> None:
    shown = render(replace(quoting_snapshot(), width="0.04 as set (--spread)"))
    assert "width: 0.04 as set (--spread)" in shown
    assert "width:" not in render(quoting_snapshot())


def test_the_markets_table_names_markets_by_slug_and_fits_a_narrow_terminal() -> None:
    from rich.console import Console

    from polymm_cli.cli.views import markets_table
    from polymm_cli.exchange.markets import sample_markets
    from polymm_cli.services.markets import MarketRow

    rows = [
        MarketRow(
            market=m,
            mid=D("0.495"),
            spread=D("0.01"),
            best_bid=None,
            best_ask=None,
            liquidity=D(0),
            volume=D(1234),
            est_reward=D("1.5"),
        )
        for m in sample_markets()
    ]
    for width, shows_ends in ((80, False), (140, True)):
        out = io.StringIO()
        Console(file=out, width=width, color_system=None).print(markets_table(rows, width))
        text = out.getvalue()
        assert all(m.slug in text for m in sample_markets()), text  # whole, never folded to nothing
        assert max(len(line) for line in text.splitlines()) <= width
        assert ("2026-12-31" in text) is shows_ends


def test_a_paper_run_says_paper_first_in_the_title_and_that_nothing_is_sent() -> None:
    # Arrange
    snapshot = replace(quoting_snapshot(), venue="paper", address="0x" + "0" * 40)

    # Act
    screen = render(snapshot)

    # Assert: the first line of the screen, the panel's title, leads with PAPER
    title = screen.splitlines()[0]
    assert title.index("PAPER") < title.index("polymm"), title
    assert "paper trading: simulated fills, nothing is sent — paper wallet 0x0000…0000" in title
    assert "polymm — local" not in screen
    assert "PAPER" not in render(quoting_snapshot())  # a real run never says it

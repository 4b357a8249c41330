"""Behaviour of the quoter: seed 000's quoting floor, seed 004's skew table and post-mortem, our rules."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from polymm_cli.model import ONE, TICK_SIZES, ZERO, Market, RewardParams, Side
from polymm_cli.quoter import (
    NO_BOOK_REASON,
    QuoteDecision,
    QuoteInput,
    QuoteParams,
    QuoteSide,
    TargetQuote,
    _decimals,
    needs_requote,
    quote,
    round_down_to_tick,
    round_up_to_tick,
)

D = Decimal


def market(tick: str = "0.01", min_size: str = "5", **overrides: object) -> Market:
    fields: dict[str, object] = {
        "condition_id": "0xcond",
        "question": "Will it rain?",
        "slug": "rain",
        "yes_token": "YES",
        "no_token": "NO",
        "tick_size": D(tick),
        "min_order_size": D(min_size),
    }
    fields.update(overrides)
    return Market(**fields)  # type: ignore[arg-type]


def params(spread: str = "0.04", size: str = "10", limit: str = "50", **overrides: object) -> QuoteParams:
    """The quoter's params for a rule's test: the skew starts at seed 004's 0.3 of the limit (the
    table below), whatever polymm's default is."""
    overrides.setdefault("skew_start", D("0.3"))
    return QuoteParams(spread=D(spread), size=D(size), position_limit=D(limit), **overrides)  # type: ignore[arg-type]


def book(
    mkt: Market,
    bid: str | None = "0.49",
    ask: str | None = "0.51",
    yes: str = "0",
    no: str = "0",
    **overrides: object,
) -> QuoteInput:
    return QuoteInput(
        market=mkt,
        best_bid=None if bid is None else D(bid),
        best_ask=None if ask is None else D(ask),
        yes_position=D(yes),
        no_position=D(no),
        **overrides,  # type: ignore[arg-type]
    )


def both(decision: QuoteDecision) -> tuple[TargetQuote, TargetQuote]:
    bid, ask = decision.bid, decision.ask
    assert bid is not None, decision
    assert ask is not None, decision
    return bid, ask


# -- seed 000: the tutorial bot's floor ---------------------------------------------------------


def test_mid_050_with_spread_004_quotes_048_and_052() -> None:
    mkt = market("0.01")

    decision = quote(book(mkt, "0.49", "0.51"), params("0.04"))

    bid, ask = both(decision)
    assert decision.mid == D("0.50")
    assert bid.yes_price == D("0.48")
    assert ask.yes_price == D("0.52")
    assert decision.skipped == ()


def test_requote_only_when_the_mid_moved_at_least_the_threshold() -> None:
    threshold = D("0.02")

    assert not needs_requote(D("0.50"), D("0.51"), threshold)
    assert needs_requote(D("0.50"), D("0.53"), threshold)
    assert needs_requote(D("0.50"), D("0.52"), threshold)  # "at least"
    assert needs_requote(D("0.50"), D("0.48"), threshold)  # either direction


def test_first_quote_always_requotes_and_no_mid_never_does() -> None:
    assert needs_requote(None, D("0.50"), D("0.02"))
    assert not needs_requote(D("0.50"), None, D("0.02"))
    assert not needs_requote(None, None, D("0.02"))


def test_long_at_the_limit_skips_the_buying_side() -> None:
    mkt = market()

    decision = quote(book(mkt, yes="50"), params(limit="50"))

    assert decision.bid is None
    assert decision.ask is not None
    reason = decision.skip_reason("bid")
    assert reason is not None and "position limit" in reason
    assert any("position limit" in n for n in decision.notes)


def test_short_at_the_limit_skips_the_selling_side() -> None:
    mkt = market()

    decision = quote(book(mkt, no="50"), params(limit="50"))

    assert decision.ask is None
    assert decision.bid is not None
    reason = decision.skip_reason("ask")
    assert reason is not None and "position limit" in reason


def test_beyond_the_limit_still_quotes_the_reducing_side() -> None:
    mkt = market()

    decision = quote(book(mkt, no="80"), params(limit="50"))

    assert decision.ask is None
    assert decision.bid is not None


@pytest.mark.parametrize(
    ("bid", "ask"),
    [(None, "0.51"), ("0.49", None), (None, None)],
    ids=["no-bids", "no-asks", "empty"],
)
def test_no_two_sided_book_means_no_quote_at_all(bid: str | None, ask: str | None) -> None:
    decision = quote(book(market(), bid, ask), params())

    assert decision.mid is None
    assert decision.quotes == ()
    assert [(s.side, s.reason) for s in decision.skipped] == [
        ("bid", NO_BOOK_REASON),
        ("ask", NO_BOOK_REASON),
    ]


def test_a_crossed_book_is_not_quoted() -> None:
    decision = quote(book(market(), "0.52", "0.50"), params())

    assert decision.quotes == ()
    assert decision.mid is None
    assert all("crossed" in s.reason for s in decision.skipped)


def test_mid_override_quotes_without_a_book() -> None:
    decision = quote(book(market(), None, None, mid_override=D("0.50")), params())

    bid, ask = both(decision)
    assert (bid.yes_price, ask.yes_price) == (D("0.48"), D("0.52"))
    assert any("override" in n for n in decision.notes)


# -- seed 004 Phase 2: the skew table, exactly --------------------------------------------------

SKEW_TABLE = [
    # e, bid, ask (None = blocked by the limit)
    (0, "0.480", "0.520"),
    (-3, "0.483", "0.523"),
    (-7, "0.487", "0.527"),
    (-10, "0.490", None),
    (3, "0.477", "0.517"),
    (7, "0.473", "0.513"),
    (10, None, "0.510"),
]


@pytest.mark.parametrize(
    ("e", "want_bid", "want_ask"), SKEW_TABLE, ids=[f"e={row[0]:+d}" for row in SKEW_TABLE]
)
@pytest.mark.parametrize("held_as", ["inventory", "mixed"])
def test_inventory_skew_matches_the_seed_table(
    e: int, want_bid: str | None, want_ask: str | None, held_as: str
) -> None:
    mkt = market("0.001", min_size="1")
    base = 20 if held_as == "mixed" else 0  # the same net exposure held as YES and NO on top of each other
    yes, no = base + max(e, 0), base + max(-e, 0)
    inp = book(mkt, "0.499", "0.501", yes=str(yes), no=str(no))

    decision = quote(inp, params("0.04", size="2", limit="10"))

    assert decision.mid == D("0.500")
    got_bid = decision.bid.yes_price if decision.bid else None
    got_ask = decision.ask.yes_price if decision.ask else None
    assert got_bid == (None if want_bid is None else D(want_bid))
    assert got_ask == (None if want_ask is None else D(want_ask))
    if want_ask is None:
        assert "position limit" in (decision.skip_reason("ask") or "")
    if want_bid is None:
        assert "position limit" in (decision.skip_reason("bid") or "")


def test_skew_reason_names_the_rule_that_made_the_quote() -> None:
    mkt = market("0.001", min_size="1")

    decision = quote(book(mkt, "0.499", "0.501", no="3"), params("0.04", size="2", limit="10"))

    bid, ask = both(decision)
    assert bid.reason.startswith("bid = mid 0.500 - 0.017 (skew 0.003 toward reducing NO exposure)")
    assert ask.reason.startswith("ask = mid 0.500 + 0.023 (skew 0.003 away")
    assert any(n.startswith("inventory skew 0.003") for n in decision.notes)


def test_no_skew_below_the_start_fraction() -> None:
    mkt = market("0.001", min_size="1")

    decision = quote(book(mkt, "0.499", "0.501", no="2"), params("0.04", size="2", limit="10"))

    bid, ask = both(decision)
    assert (bid.yes_price, ask.yes_price) == (D("0.480"), D("0.520"))
    assert not any("skew" in n for n in decision.notes)


def test_skew_can_be_switched_off() -> None:
    mkt = market("0.001", min_size="1")

    decision = quote(
        book(mkt, "0.499", "0.501", no="7"), params("0.04", size="2", limit="10", skew_enabled=False)
    )

    bid, ask = both(decision)
    assert (bid.yes_price, ask.yes_price) == (D("0.480"), D("0.520"))


def test_exposure_beyond_the_limit_skews_like_the_limit() -> None:
    mkt = market("0.001", min_size="1")

    decision = quote(book(mkt, "0.499", "0.501", no="20"), params("0.04", size="2", limit="10"))

    assert decision.bid is not None and decision.bid.yes_price == D("0.490")
    assert decision.ask is None


# -- the 2026-01-16 post-mortem: one fill must never overshoot the limit -------------------------


def test_size_20_on_a_limit_of_10_is_cut_to_10_so_one_fill_cannot_overshoot() -> None:
    mkt = market("0.01", min_size="5")

    decision = quote(book(mkt), params(size="20", limit="10"))

    bid, ask = both(decision)
    assert bid.size == D("10")
    assert ask.size == D("10")
    assert sum("size cut 20 -> 10" in n for n in decision.notes) == 2


def test_size_is_cut_to_the_room_left_before_the_limit() -> None:
    mkt = market("0.01", min_size="1")

    decision = quote(book(mkt, no="7"), params(size="20", limit="10", skew_enabled=False))

    bid, ask = both(decision)
    assert ask.size == D("3")  # e = -7: one BUY NO fill of 3 ends at -10
    assert bid.size == D("7")  # the bid SELLs the 7 NO held (room 17)


def test_a_side_whose_cut_size_falls_below_the_minimum_is_skipped() -> None:
    mkt = market("0.01", min_size="5")

    decision = quote(book(mkt, no="7"), params(size="5", limit="10"))

    assert decision.ask is None
    assert "3 (cut by the position limit) below the market minimum 5" in (decision.skip_reason("ask") or "")


# -- inventory vs collateral ---------------------------------------------------------------------


def test_collateral_only_quotes_buy_yes_and_buy_no_at_the_complement() -> None:
    mkt = market()

    bid, ask = both(quote(book(mkt), params()))

    assert (bid.token_id, bid.order_side, bid.price) == ("YES", Side.BUY, D("0.48"))
    assert (ask.token_id, ask.order_side, ask.price, ask.yes_price) == ("NO", Side.BUY, D("0.48"), D("0.52"))
    assert "BUY NO with collateral" in ask.reason


def test_held_inventory_is_sold_instead_of_buying_the_complement() -> None:
    mkt = market()

    bid, ask = both(quote(book(mkt, yes="100", no="100"), params()))

    assert (ask.token_id, ask.order_side, ask.price, ask.size) == ("YES", Side.SELL, D("0.52"), D("10"))
    assert (bid.token_id, bid.order_side, bid.price, bid.yes_price) == ("NO", Side.SELL, D("0.52"), D("0.48"))


def test_a_sell_never_exceeds_what_is_held() -> None:
    mkt = market(min_size="5")

    decision = quote(book(mkt, yes="7.239"), params(size="10"))

    ask = decision.ask
    assert ask is not None
    assert (ask.order_side, ask.size) == (Side.SELL, D("7.23"))


def test_unsettled_shares_count_for_exposure_but_are_not_sold() -> None:
    mkt = market(min_size="5")
    inp = book(mkt, yes="10", no="10", sellable_yes=D("0"), sellable_no=D("6"))

    bid, ask = both(quote(inp, params(size="10")))

    assert (ask.token_id, ask.order_side, ask.size) == ("NO", Side.BUY, D("10"))  # no settled YES
    assert (bid.token_id, bid.order_side, bid.size) == ("NO", Side.SELL, D("6"))


def test_inventory_below_the_minimum_falls_back_to_collateral() -> None:
    mkt = market(min_size="5")

    decision = quote(book(mkt, yes="3"), params(size="10"))

    ask = decision.ask
    assert ask is not None
    assert (ask.token_id, ask.order_side, ask.size) == ("NO", Side.BUY, D("10"))


# -- min size, rounding and clamps ----------------------------------------------------------------


def test_a_configured_size_below_the_market_minimum_is_never_placed() -> None:
    decision = quote(book(market(min_size="5")), params(size="3"))

    assert decision.quotes == ()
    assert all("below the market minimum 5" in s.reason for s in decision.skipped)


def test_sizes_are_cut_to_two_decimals() -> None:
    bid, ask = both(quote(book(market(min_size="1")), params(size="7.789")))

    assert bid.size == D("7.78")
    assert ask.size == D("7.78")


def test_bid_rounds_down_and_ask_rounds_up_so_they_never_touch() -> None:
    mkt = market("0.01")

    bid, ask = both(quote(book(mkt, "0.50", "0.51"), params("0.002")))  # mid 0.505, half-width 0.001

    assert (bid.yes_price, ask.yes_price) == (D("0.50"), D("0.51"))


def test_an_off_grid_mid_rounds_away_from_itself() -> None:
    bid, ask = both(quote(book(market("0.01"), "0.48", "0.53"), params("0.04")))  # mid 0.505

    assert (bid.yes_price, ask.yes_price) == (D("0.48"), D("0.53"))


def test_prices_are_clamped_to_tick_and_one_minus_tick() -> None:
    mkt = market("0.01", min_size="1")

    low = quote(book(mkt, None, None, mid_override=D("0.01")), params("0.04"))
    high = quote(book(mkt, None, None, mid_override=D("0.995")), params("0.04"))

    assert low.bid is not None and low.bid.yes_price == D("0.01")
    assert any("minimum price 0.01" in n for n in low.notes)
    assert high.ask is not None and high.ask.yes_price == D("0.99")
    assert any("maximum price 0.99" in n for n in high.notes)


@pytest.mark.parametrize(
    ("mid", "kept", "price", "dropped"),
    [("0.999", "bid", "0.99", "ask"), ("0.001", "ask", "0.01", "bid")],
    ids=["ask-clamped-down", "bid-clamped-up"],
)
def test_a_clamp_that_would_touch_our_own_quote_drops_the_clamped_side(
    mid: str, kept: QuoteSide, price: str, dropped: QuoteSide
) -> None:
    mkt = market("0.01", min_size="1")

    decision = quote(book(mkt, None, None, mid_override=D(mid)), params("0.002"))

    assert [(q.side, q.yes_price) for q in decision.quotes] == [(kept, D(price))]
    assert "would cross or touch" in (decision.skip_reason(dropped) or "")


@pytest.mark.parametrize(
    ("touch_bid", "touch_ask", "expected"),
    [
        (None, None, ("0.48", "0.52")),  # no dust: the real top is the touch
        (None, "0.48", ("0.47", "0.52")),  # a dust ask at 0.48: the bid stays a tick short of it
        ("0.52", None, ("0.48", "0.53")),  # a dust bid at 0.52: the ask stays a tick above it
        ("0.45", "0.55", ("0.48", "0.52")),  # raw levels outside the real ones change nothing
    ],
)
def test_post_only_stays_short_of_the_raw_touch_dust_included(
    touch_bid: str | None, touch_ask: str | None, expected: tuple[str, str]
) -> None:
    inp = book(
        market("0.01"),
        "0.47",
        "0.53",
        touch_bid=None if touch_bid is None else D(touch_bid),
        touch_ask=None if touch_ask is None else D(touch_ask),
    )

    decision = quote(inp, params("0.04"))

    assert decision.mid == D("0.50")  # dust never moves the mid
    assert decision.bid is not None and decision.ask is not None
    assert (decision.bid.yes_price, decision.ask.yes_price) == (D(expected[0]), D(expected[1]))


def test_an_override_never_crosses_the_book_post_only() -> None:
    mkt = market("0.01")

    up = quote(book(mkt, "0.48", "0.52", mid_override=D("0.70")), params("0.04"))
    down = quote(book(mkt, "0.48", "0.52", mid_override=D("0.30")), params("0.04"))

    assert up.bid is not None and up.bid.yes_price == D("0.51")
    assert any("post-only" in n for n in up.notes)
    assert down.ask is not None and down.ask.yes_price == D("0.49")
    assert any("post-only" in n for n in down.notes)


def test_a_mid_outside_zero_one_is_not_quoted() -> None:
    decision = quote(book(market(), None, None, mid_override=D("1.2")), params())

    assert decision.quotes == ()
    assert "outside (0, 1)" in (decision.skip_reason("bid") or "")


def test_a_closed_market_is_not_quoted() -> None:
    decision = quote(book(market(accepting_orders=False)), params())

    assert decision.quotes == ()
    assert decision.mid == D("0.50")


def test_microprice_leans_toward_the_thinner_side() -> None:
    mkt = market("0.01")
    inp = book(mkt, "0.48", "0.52", best_bid_size=D("300"), best_ask_size=D("100"))

    decision = quote(inp, params("0.04", use_microprice=True))

    bid, ask = both(decision)
    assert decision.mid == D("0.51")
    assert (bid.yes_price, ask.yes_price) == (D("0.49"), D("0.53"))


def test_microprice_without_sizes_falls_back_to_the_plain_mid() -> None:
    decision = quote(book(market(), "0.48", "0.52"), params(use_microprice=True))

    assert decision.mid == D("0.50")
    assert any("plain mid" in n for n in decision.notes)


@pytest.mark.parametrize(
    ("price", "tick", "down", "up"),
    [
        ("0.483", "0.01", "0.48", "0.49"),
        ("0.48", "0.01", "0.48", "0.48"),
        ("0.4830", "0.0025", "0.4825", "0.4850"),
        ("0.5031", "0.005", "0.500", "0.505"),
        ("-0.001", "0.01", "-0.01", "0.00"),
    ],
)
def test_tick_rounding_helpers(price: str, tick: str, down: str, up: str) -> None:
    assert round_down_to_tick(D(price), D(tick)) == D(down)
    assert round_up_to_tick(D(price), D(tick)) == D(up)


@pytest.mark.parametrize(
    "bad",
    [
        {"spread": D("0")},
        {"size": D("0")},
        {"position_limit": D("-1")},
        {"skew_factor": D("1.5")},
        {"skew_start": D("-0.1")},
    ],
)
def test_params_reject_nonsense(bad: dict[str, Decimal]) -> None:
    fields: dict[str, object] = {"spread": D("0.04"), "size": D("10"), "position_limit": D("50")}
    fields.update(bad)

    with pytest.raises(ValueError):
        QuoteParams(**fields)  # type: ignore[arg-type]


# -- invariants for any book, inventory and parameters -------------------------------------------


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[QuoteInput, QuoteParams]:
    tick = draw(st.sampled_from(TICK_SIZES))
    steps = int(ONE / tick)
    min_size = draw(st.sampled_from([D("0"), D("1"), D("5"), D("15")]))
    mkt = market(str(tick), str(min_size))
    bid_i = draw(st.integers(1, steps - 2))
    ask_i = draw(st.integers(bid_i + 1, steps - 1))
    best_bid: Decimal | None = bid_i * tick
    best_ask: Decimal | None = ask_i * tick
    if draw(st.integers(0, 9)) == 0:
        best_bid = None
    if draw(st.integers(0, 9)) == 0:
        best_ask = None
    touch_bid = touch_ask = None  # sometimes dust inside the real levels
    if best_bid is not None and best_ask is not None and draw(st.integers(0, 2)) == 0:
        touch_bid_i = draw(st.integers(bid_i, ask_i - 1))
        touch_bid, touch_ask = touch_bid_i * tick, draw(st.integers(touch_bid_i + 1, ask_i)) * tick
    override = draw(st.none() | st.integers(1, 9999).map(lambda i: D(i) / 10000))
    cents = st.integers(0, 20000).map(lambda i: D(i) / 100)
    inp = QuoteInput(
        market=mkt,
        best_bid=best_bid,
        best_ask=best_ask,
        best_bid_size=draw(st.none() | cents),
        best_ask_size=draw(st.none() | cents),
        touch_bid=touch_bid,
        touch_ask=touch_ask,
        yes_position=(yes := draw(cents)),
        no_position=(no := draw(cents)),
        sellable_yes=draw(st.none() | st.integers(0, int(yes * 100)).map(lambda i: D(i) / 100)),
        sellable_no=draw(st.none() | st.integers(0, int(no * 100)).map(lambda i: D(i) / 100)),
        mid_override=override,
    )
    p = QuoteParams(
        spread=draw(st.integers(1, 300).map(lambda i: D(i) / 1000)),
        size=draw(st.integers(1, 10000).map(lambda i: D(i) / 100)),
        position_limit=draw(st.integers(1, 20000).map(lambda i: D(i) / 100)),
        use_microprice=draw(st.booleans()),
        skew_enabled=draw(st.booleans()),
        skew_factor=draw(st.integers(0, 100).map(lambda i: D(i) / 100)),
        skew_start=draw(st.integers(0, 100).map(lambda i: D(i) / 100)),
    )
    return inp, p


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_any_quote_is_valid_never_crosses_and_never_overshoots_the_limit(
    scenario: tuple[QuoteInput, QuoteParams],
) -> None:
    inp, p = scenario
    mkt = inp.market
    e = inp.yes_position - inp.no_position

    decision = quote(inp, p)

    sides = sorted([q.side for q in decision.quotes] + [s.side for s in decision.skipped])
    assert sides == ["ask", "bid"]  # each side quoted or skipped, exactly once
    for q in decision.quotes:
        _a_valid_post_only_order(inp, q)
        if q.order_side is Side.SELL:
            if q.token_id == mkt.yes_token:
                held = inp.yes_position if inp.sellable_yes is None else inp.sellable_yes
            else:
                held = inp.no_position if inp.sellable_no is None else inp.sellable_no
            assert q.size <= held
        if q.side == "bid":
            assert e + q.size <= p.position_limit
        else:
            assert e - q.size >= -p.position_limit
    if decision.bid is not None and decision.ask is not None:
        assert decision.bid.yes_price < decision.ask.yes_price
    if decision.mid is None:
        assert decision.quotes == ()


# -- levels ---------------------------------------------------------------------------------------


def ladder(decision: QuoteDecision) -> list[tuple[QuoteSide, Decimal, Decimal]]:
    return [(q.side, q.yes_price, q.size) for q in decision.quotes]


def test_one_level_is_the_default_and_changes_nothing() -> None:
    mkt = market()

    decision = quote(book(mkt), params())

    assert ladder(decision) == [("bid", D("0.48"), D("10")), ("ask", D("0.52"), D("10"))]


def test_levels_step_out_from_level_0_bids_first_then_asks_best_first() -> None:
    mkt = market("0.01", min_size="5")

    decision = quote(book(mkt), params(levels=3, level_spacing_ticks=2, level_size=D("6")))

    assert ladder(decision) == [
        ("bid", D("0.48"), D("10")),
        ("bid", D("0.46"), D("6")),
        ("bid", D("0.44"), D("6")),
        ("ask", D("0.52"), D("10")),
        ("ask", D("0.54"), D("6")),
        ("ask", D("0.56"), D("6")),
    ]
    assert decision.bid is not None and decision.bid.yes_price == D("0.48")  # the best level
    assert decision.ask is not None and decision.ask.yes_price == D("0.52")
    deeper = decision.quotes[2]
    assert (deeper.token_id, deeper.order_side, deeper.price) == ("YES", Side.BUY, D("0.44"))
    assert deeper.reason == "bid level 2 = level 0 0.48 - 4 ticks; BUY YES with collateral"
    far_ask = decision.quotes[5]
    assert (far_ask.token_id, far_ask.order_side, far_ask.price) == ("NO", Side.BUY, D("0.44"))


def test_levels_follow_a_skewed_and_post_only_clamped_level_0() -> None:
    mkt = market("0.01")

    decision = quote(book(mkt, "0.48", "0.52", mid_override=D("0.70")), params(levels=2))

    bids = [q.yes_price for q in decision.quotes if q.side == "bid"]
    assert bids == [D("0.51"), D("0.50")]  # level 0 capped below the best ask, level 1 a tick under it


def test_levels_beyond_the_price_range_are_dropped_with_a_note() -> None:
    mkt = market("0.01", min_size="1")

    decision = quote(book(mkt, None, None, mid_override=D("0.04")), params(levels=4))

    assert [q.yes_price for q in decision.quotes if q.side == "bid"] == [D("0.02"), D("0.01")]
    assert "bid levels 2-3 dropped: below the minimum price 0.01" in decision.notes
    assert [q.yes_price for q in decision.quotes if q.side == "ask"] == [
        D("0.06"),
        D("0.07"),
        D("0.08"),
        D("0.09"),
    ]


def test_the_position_limit_cut_is_cumulative_across_a_sides_levels() -> None:
    mkt = market("0.01", min_size="1")

    decision = quote(book(mkt, no="5"), params(size="10", limit="25", levels=4, skew_enabled=False))

    # e = -5: the bid may add 30 before +L (10 + 10 + 10), the ask 20 before -L (10 + 10).
    assert [q.size for q in decision.quotes if q.side == "bid"] == [D("5"), D("10"), D("10"), D("5")]
    assert [q.size for q in decision.quotes if q.side == "ask"] == [D("10"), D("10")]
    assert (
        "ask levels 2-3 dropped: size 0 (cut by the position limit) below the market minimum 1"
        in decision.notes
    )


def test_a_level_cut_below_the_market_minimum_is_dropped() -> None:
    mkt = market("0.01", min_size="5")

    decision = quote(book(mkt), params(size="10", limit="22", levels=3))

    assert [q.size for q in decision.quotes if q.side == "bid"] == [D("10"), D("10")]
    assert (
        "bid level 2 dropped: size 2 (cut by the position limit) below the market minimum 5" in decision.notes
    )


def test_a_level_size_below_the_market_minimum_drops_every_deeper_level() -> None:
    mkt = market("0.01", min_size="5")

    decision = quote(book(mkt), params(levels=3, level_size=D("3")))

    assert ladder(decision) == [("bid", D("0.48"), D("10")), ("ask", D("0.52"), D("10"))]
    assert "ask levels 1-2 dropped: size 3 below the market minimum 5" in decision.notes


def test_a_side_without_level_0_has_no_levels() -> None:
    decision = quote(book(market(min_size="5")), params(size="3", levels=3, level_size=D("8")))

    assert decision.quotes == ()
    assert all("below the market minimum 5" in s.reason for s in decision.skipped)


def test_inventory_covers_the_levels_in_order_then_collateral_takes_over() -> None:
    mkt = market("0.01", min_size="5")

    decision = quote(book(mkt, yes="17"), params(size="10", limit="50", levels=3))

    asks = [(q.token_id, q.order_side, q.yes_price, q.size) for q in decision.quotes if q.side == "ask"]
    assert asks == [
        ("YES", Side.SELL, D("0.52"), D("10")),
        ("YES", Side.SELL, D("0.53"), D("7")),  # what is left of the 17 held
        ("NO", Side.BUY, D("0.54"), D("10")),
    ]
    assert "ask level 1 size cut 10 -> 7: YES held" in decision.notes


def test_inventory_left_below_the_minimum_is_not_sold_by_deeper_levels() -> None:
    mkt = market("0.01", min_size="5")

    decision = quote(book(mkt, no="13"), params(size="10", limit="50", levels=2, skew_enabled=False))

    bids = [(q.token_id, q.order_side, q.price, q.size) for q in decision.quotes if q.side == "bid"]
    assert bids == [("NO", Side.SELL, D("0.52"), D("10")), ("YES", Side.BUY, D("0.47"), D("10"))]


@pytest.mark.parametrize(
    "bad",
    [{"levels": 0}, {"level_spacing_ticks": 0}, {"level_size": D("0")}, {"level_size": D("-1")}],
)
def test_params_reject_nonsense_levels(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {"spread": D("0.04"), "size": D("10"), "position_limit": D("50")}
    fields.update(bad)

    with pytest.raises(ValueError):
        QuoteParams(**fields)  # type: ignore[arg-type]


# -- volatility widening and blocked sides --------------------------------------------------------


def test_the_spread_multiplier_widens_the_base_offset_exactly() -> None:
    mkt = market("0.01")

    decision = quote(book(mkt, spread_multiplier=D("1.5")), params("0.04"))

    bid, ask = both(decision)
    assert (bid.yes_price, ask.yes_price) == (D("0.47"), D("0.53"))
    assert "spread x1.5 (volatility, decided upstream): base offset 0.02 -> 0.03" in decision.notes
    assert bid.reason.startswith("bid = mid 0.50 - 0.03;")


def test_the_spread_multiplier_scales_the_skew_with_the_base() -> None:
    mkt = market("0.001", min_size="1")

    decision = quote(
        book(mkt, "0.499", "0.501", no="7", spread_multiplier=D("2")), params("0.04", size="2", limit="10")
    )

    bid, ask = both(decision)
    assert (bid.yes_price, ask.yes_price) == (D("0.474"), D("0.554"))  # base 0.04, skew 0.7 x 0.5 x 0.04


def test_a_non_positive_spread_multiplier_quotes_nothing() -> None:
    decision = quote(book(market(), spread_multiplier=ZERO), params())

    assert decision.quotes == ()
    assert decision.mid == D("0.50")
    assert "spread multiplier 0 must be > 0" in (decision.skip_reason("bid") or "")


def test_a_blocked_side_is_skipped_with_its_reason_and_the_other_side_quotes() -> None:
    mkt = market()

    decision = quote(book(mkt, blocked=(("ask", "jump cool-down (0.04 in 2s)"),)), params())

    assert ladder(decision) == [("bid", D("0.48"), D("10"))]
    assert decision.skip_reason("ask") == "jump cool-down (0.04 in 2s)"
    assert "ask blocked: jump cool-down (0.04 in 2s)" in decision.notes


def test_a_blocked_side_is_skipped_before_any_other_rule_looks_at_it() -> None:
    mkt = market()

    decision = quote(book(mkt, yes="50", blocked=(("bid", "stop-loss"),)), params(limit="50", levels=3))

    assert decision.skip_reason("bid") == "stop-loss"  # not the position limit
    assert not any("position limit" in n for n in decision.notes)
    assert [q.side for q in decision.quotes] == ["ask", "ask", "ask"]


def test_both_sides_blocked_quote_nothing_but_report_the_mid() -> None:
    mkt = market()
    blocked: tuple[tuple[QuoteSide, str], ...] = (
        ("bid", "trend filter: falling"),
        ("ask", "after-fill cool-down"),
        ("bid", "jump cool-down"),
    )

    decision = quote(book(mkt, blocked=blocked), params())

    assert decision.quotes == ()
    assert decision.mid == D("0.50")
    assert decision.skip_reason("bid") == "trend filter: falling; jump cool-down"
    assert decision.skip_reason("ask") == "after-fill cool-down"


def test_market_level_reasons_still_come_first_for_blocked_sides() -> None:
    decision = quote(book(market(), None, None, blocked=(("bid", "stop-loss"),)), params())

    assert decision.mid is None
    assert [(s.side, s.reason) for s in decision.skipped] == [
        ("bid", NO_BOOK_REASON),
        ("ask", NO_BOOK_REASON),
    ]


# -- reward-aware quoting -------------------------------------------------------------------------


def rewarded(
    tick: str = "0.01",
    min_size: str = "5",
    max_spread: str = "3.5",
    reward_min: str = "20",
    rate: str = "100",
) -> Market:
    return market(
        tick,
        min_size,
        rewards=RewardParams(max_spread_cents=D(max_spread), min_size=D(reward_min), daily_rate=D(rate)),
    )


def test_reward_fitting_pulls_a_too_wide_quote_inside_the_band_and_sizes_it_to_score() -> None:
    mkt = rewarded("0.01", max_spread="3.5", reward_min="20")

    decision = quote(book(mkt), params("0.10", size="10", reward_band=True, reward_size=True))

    bid, ask = both(decision)
    assert (bid.yes_price, bid.size) == (D("0.47"), D("20"))  # 3c from 0.50, strictly inside 3.5c
    assert (ask.yes_price, ask.size, ask.price) == (D("0.53"), D("20"), D("0.47"))
    assert "inside the reward band (max spread 3.5c): bid 0.45 -> 0.47" in decision.notes
    assert "inside the reward band (max spread 3.5c): ask 0.55 -> 0.53" in decision.notes
    assert "bid size 10 -> 20: the reward min size, so it scores" in decision.notes
    assert "pulled inside the reward band (max spread 3.5c)" in bid.reason


def test_a_quote_exactly_at_the_max_spread_is_pulled_one_tick_in() -> None:
    mkt = rewarded("0.005", max_spread="3.5", reward_min="5")

    decision = quote(book(mkt, "0.505", "0.515"), params("0.07", reward_band=True, reward_size=True))

    bid, ask = both(decision)
    assert (bid.yes_price, ask.yes_price) == (D("0.48"), D("0.54"))
    assert "inside the reward band (max spread 3.5c): bid 0.475 -> 0.48" in decision.notes


def test_levels_step_out_from_the_pulled_level_0() -> None:
    mkt = rewarded("0.01", max_spread="3", reward_min="5")

    decision = quote(book(mkt), params("0.10", levels=2, reward_band=True, reward_size=True))

    assert [q.yes_price for q in decision.quotes] == [D("0.48"), D("0.47"), D("0.52"), D("0.53")]


def test_reward_fitting_leaves_an_in_band_price_alone_but_raises_its_size() -> None:
    mkt = rewarded("0.01", max_spread="3.5", reward_min="20")

    decision = quote(book(mkt), params("0.04", size="10", reward_band=True, reward_size=True))

    assert ladder(decision) == [("bid", D("0.48"), D("20")), ("ask", D("0.52"), D("20"))]
    assert not any("inside the reward band" in n for n in decision.notes)


def test_reward_fitting_does_nothing_when_the_market_pays_no_rewards() -> None:
    mkt = rewarded(rate="0")
    inp = book(mkt)

    aware = quote(inp, params("0.10", reward_band=True, reward_size=True))

    assert aware == quote(inp, params("0.10"))
    assert ladder(aware) == [("bid", D("0.45"), D("10")), ("ask", D("0.55"), D("10"))]


def test_reward_fitting_is_off_by_default_in_the_quoter() -> None:
    decision = quote(book(rewarded()), params("0.10"))

    assert ladder(decision) == [("bid", D("0.45"), D("10")), ("ask", D("0.55"), D("10"))]


def test_reward_fitting_never_pulls_a_side_the_skew_moved_away() -> None:
    mkt = rewarded("0.001", min_size="1", max_spread="3", reward_min="5")

    # e = +7 of L 10: the bid moved away (would add YES), the ask moved closer.
    decision = quote(
        book(mkt, "0.499", "0.501", yes="7"),
        params("0.06", size="2", limit="10", reward_band=True, reward_size=True),
    )

    bid, ask = both(decision)
    assert bid.yes_price == D("0.459")  # 0.50 - 0.03 - 0.0105 skew: 4.1c out, left there
    assert bid.size == D("2")  # no raise to the reward min either
    assert "bid 0.459 outside the reward band (max spread 3c): left there (skewed away)" in decision.notes
    assert ask.yes_price == D("0.520")  # 0.50 + 0.0195: inside the band already
    assert ask.size == D("5")  # the reducing side is sized to score


def test_reward_fitting_pulls_the_reducing_side_when_it_is_still_too_wide() -> None:
    mkt = rewarded("0.01", min_size="1", max_spread="3", reward_min="5")

    decision = quote(
        book(mkt, no="4"), params("0.10", size="5", limit="10", reward_band=True, reward_size=True)
    )

    bid, ask = both(decision)
    assert bid.yes_price == D("0.48")  # 0.50 - 0.04 = 0.46 (skew 0.01 closer), pulled to 2c
    assert ask.yes_price == D("0.56")  # moved away by the skew: left there
    assert "ask 0.56 outside the reward band (max spread 3c): left there (skewed away)" in decision.notes


def test_reward_fitting_does_nothing_when_the_spread_is_widened() -> None:
    mkt = rewarded("0.01", max_spread="3.5", reward_min="20")

    decision = quote(
        book(mkt, spread_multiplier=D("2")), params("0.04", size="10", reward_band=True, reward_size=True)
    )

    assert ladder(decision) == [("bid", D("0.46"), D("10")), ("ask", D("0.54"), D("10"))]
    assert (
        "bid 0.46 outside the reward band (max spread 3.5c): left there (spread widened x2)" in decision.notes
    )


def test_reward_fitting_never_quotes_at_the_mid_to_get_inside_a_narrow_band() -> None:
    mkt = rewarded("0.01", max_spread="1", reward_min="5")

    decision = quote(book(mkt), params("0.04", reward_band=True, reward_size=True))

    bid, ask = both(decision)
    assert (bid.yes_price, ask.yes_price) == (D("0.48"), D("0.52"))
    assert any("not pulled (no on-grid price inside the band below the mid)" in n for n in decision.notes)


def test_reward_fitting_never_touches_the_book_post_only() -> None:
    mkt = rewarded("0.01", max_spread="3", reward_min="5")

    # Override mid 0.60 over a 0.40 / 0.58 book: the band wants the bid at 0.58, the best ask.
    decision = quote(
        book(mkt, "0.40", "0.58", mid_override=D("0.60")), params("0.08", reward_band=True, reward_size=True)
    )

    bid = decision.bid
    assert bid is not None and bid.yes_price == D("0.56")
    assert any("post-only: 0.58 would cross or touch the best ask 0.58" in n for n in decision.notes)


def test_the_reward_size_raise_never_exceeds_the_position_limit() -> None:
    mkt = rewarded("0.01", max_spread="3.5", reward_min="20")

    decision = quote(
        book(mkt, yes="3"), params("0.04", size="10", limit="15", reward_band=True, reward_size=True)
    )

    bid, ask = both(decision)
    assert bid.size == D("10")  # room 12 < 20: no raise
    assert ask.size == D("10")  # 18 left before -L: room enough? no, 18 < 20
    assert "bid size 10 left below the reward min size 20: position-limit room 12" in decision.notes


def test_inventory_too_small_to_score_gives_way_to_a_collateral_order() -> None:
    mkt = rewarded("0.01", max_spread="3.5", reward_min="20")

    decision = quote(
        book(mkt, yes="12"),
        params("0.04", size="10", limit="50", skew_enabled=False, reward_band=True, reward_size=True),
    )

    ask = decision.ask
    assert ask is not None
    assert (ask.token_id, ask.order_side, ask.size) == ("NO", Side.BUY, D("20"))
    assert "ask: YES held 12 is below the reward min size 20: BUY NO with collateral so the order scores" in (
        decision.notes
    )


# -- invariants with levels, widening, blocks and rewards ----------------------------------------


@st.composite
def leveled_scenarios(draw: st.DrawFn) -> tuple[QuoteInput, QuoteParams]:
    inp, p = draw(scenarios())
    rewards = RewardParams(
        max_spread_cents=draw(st.sampled_from([D("0"), D("0.5"), D("1"), D("3"), D("3.5"), D("4.5")])),
        min_size=draw(st.sampled_from([D("0"), D("5"), D("20"), D("100")])),
        daily_rate=draw(st.sampled_from([D("0"), D("50")])),
    )
    sides: list[QuoteSide] = ["bid", "ask"]
    blocked = tuple((side, f"{side} pulled") for side in sides if draw(st.integers(0, 5)) == 0)
    inp = replace(
        inp,
        market=replace(inp.market, rewards=rewards),
        spread_multiplier=draw(st.sampled_from([ONE, ONE, D("0.5"), D("1.5"), D("3")])),
        blocked=blocked,
    )
    p = replace(
        p,
        levels=draw(st.integers(1, 4)),
        level_spacing_ticks=draw(st.integers(1, 3)),
        level_size=draw(st.none() | st.integers(1, 10000).map(lambda i: D(i) / 100)),
        reward_band=draw(st.booleans()),
        reward_size=draw(st.booleans()),
    )
    return inp, p


@settings(max_examples=500, deadline=None)
@given(leveled_scenarios())
def test_any_ladder_is_valid_never_crosses_and_never_takes_e_past_the_limit_if_all_fills(
    scenario: tuple[QuoteInput, QuoteParams],
) -> None:
    inp, p = scenario
    mkt = inp.market
    e = inp.yes_position - inp.no_position

    decision = quote(inp, p)

    bids = [q for q in decision.quotes if q.side == "bid"]
    asks = [q for q in decision.quotes if q.side == "ask"]
    assert list(decision.quotes) == bids + asks  # bid levels first, then ask levels
    _each_side_quoted_or_skipped_once(inp, p, decision, bids, asks)
    assert [q.yes_price for q in bids] == sorted({q.yes_price for q in bids}, reverse=True)  # best first
    assert [q.yes_price for q in asks] == sorted({q.yes_price for q in asks})
    if bids and asks:
        assert bids[0].yes_price < asks[0].yes_price  # all bids below all asks
    for q in decision.quotes:
        _a_valid_post_only_order(inp, q)
    if bids:  # every bid level filling must not take e past +L
        assert e + sum((q.size for q in bids), ZERO) <= p.position_limit
    if asks:  # nor every ask level past -L
        assert e - sum((q.size for q in asks), ZERO) >= -p.position_limit
    sellable = {
        mkt.yes_token: inp.yes_position if inp.sellable_yes is None else inp.sellable_yes,
        mkt.no_token: inp.no_position if inp.sellable_no is None else inp.sellable_no,
    }
    for token in sellable:
        assert (
            sum((q.size for q in decision.quotes if q.order_side is Side.SELL and q.token_id == token), ZERO)
            <= (sellable[token])
        )
    if decision.mid is None:
        assert decision.quotes == ()


def _each_side_quoted_or_skipped_once(
    inp: QuoteInput, p: QuoteParams, decision: QuoteDecision, bids: list[TargetQuote], asks: list[TargetQuote]
) -> None:
    for side, quoted in (("bid", bids), ("ask", asks)):
        skips = [s for s in decision.skipped if s.side == side]
        assert len(skips) == (0 if quoted else 1)  # each side quoted or skipped, exactly once
        assert len(quoted) <= p.levels
    market_level_skip = (
        decision.mid is None
        or not ZERO < decision.mid < ONE
        or not inp.market.accepting_orders
        or inp.spread_multiplier <= ZERO
    )
    for side, why in inp.blocked:  # a blocked side is never quoted, and says why unless the market did
        assert decision.skip_reason(side) == (why if not market_level_skip else decision.skipped[0].reason)


def _a_valid_post_only_order(inp: QuoteInput, q: TargetQuote) -> None:
    """On the tick, inside (0, 1), at least the market minimum, the right token, never reaching the
    other side of the book (dust included)."""
    mkt, tick = inp.market, inp.market.tick_size
    assert q.yes_price % tick == ZERO and q.price % tick == ZERO
    assert tick <= q.yes_price <= ONE - tick
    assert q.price == (q.yes_price if q.token_id == mkt.yes_token else ONE - q.yes_price)
    assert q.size > ZERO and q.size >= mkt.min_order_size
    assert q.size == q.size.quantize(D("0.01"))
    if q.side == "bid":
        assert q.token_id == (mkt.yes_token if q.order_side is Side.BUY else mkt.no_token)
        for other in (inp.best_ask, inp.touch_ask):
            assert other is None or q.yes_price < other
    else:
        assert q.token_id == (mkt.yes_token if q.order_side is Side.SELL else mkt.no_token)
        for other in (inp.best_bid, inp.touch_bid):
            assert other is None or q.yes_price > other


def test_band_fitting_alone_pulls_the_price_but_never_raises_the_size() -> None:
    mkt = rewarded("0.01", max_spread="3.5", reward_min="20")

    decision = quote(book(mkt), params("0.10", size="10", reward_band=True))

    assert ladder(decision) == [("bid", D("0.47"), D("10")), ("ask", D("0.53"), D("10"))]
    assert not any("reward min size" in n for n in decision.notes)


def test_size_fitting_alone_raises_an_in_band_quote_but_never_moves_its_price() -> None:
    mkt = rewarded("0.01", max_spread="3.5", reward_min="20")

    wide = quote(book(mkt), params("0.10", size="10", reward_size=True))
    tight = quote(book(mkt), params("0.04", size="10", reward_size=True))

    assert ladder(wide) == [("bid", D("0.45"), D("10")), ("ask", D("0.55"), D("10"))]
    assert "bid 0.45 outside the reward band (max spread 3.5c): left there (reward band fitting is off)" in (
        wide.notes
    )
    assert ladder(tight) == [("bid", D("0.48"), D("20")), ("ask", D("0.52"), D("20"))]


# -- the two sides are mirror images ---------------------------------------------------------------

_OTHER_SIDE: dict[QuoteSide, QuoteSide] = {"bid": "ask", "ask": "bid"}


def _flip(price: Decimal | None) -> Decimal | None:
    return None if price is None else ONE - price


def seen_from_no(inp: QuoteInput) -> QuoteInput:
    """The same market read from the NO token: a YES price p is 1 - p, the book's bid and ask swap
    (with their sizes), and so do the YES and NO holdings and the blocked sides."""
    return replace(
        inp,
        best_bid=_flip(inp.best_ask),
        best_ask=_flip(inp.best_bid),
        best_bid_size=inp.best_ask_size,
        best_ask_size=inp.best_bid_size,
        touch_bid=_flip(inp.touch_ask),
        touch_ask=_flip(inp.touch_bid),
        yes_position=inp.no_position,
        no_position=inp.yes_position,
        sellable_yes=inp.sellable_no,
        sellable_no=inp.sellable_yes,
        mid_override=_flip(inp.mid_override),
        blocked=tuple((_OTHER_SIDE[side], why) for side, why in inp.blocked),
    )


@settings(max_examples=300, deadline=None)
@given(leveled_scenarios())
def test_the_ask_is_the_bid_seen_from_the_no_token(scenario: tuple[QuoteInput, QuoteParams]) -> None:
    """Every rule is written once for both sides, so quoting the mirrored market gives the mirrored
    quotes: same order sides, prices and sizes, the complement token, YES price 1 - p. The two rules
    that break the symmetry on purpose are left out: when clamps make our own quotes meet, the bid
    yields; and the bid is pulled into the reward band first, so the ask's pull is checked against it."""
    inp, p = scenario
    mkt = inp.market

    decision = quote(inp, p)
    mirror = quote(seen_from_no(inp), p)

    own_cross = "would cross or touch our"
    assume(not any(own_cross in n for n in decision.notes + mirror.notes))
    bids = [q for q in decision.quotes if q.side == "bid"]
    asks = [q for q in decision.quotes if q.side == "ask"]
    expected = [
        (_OTHER_SIDE[q.side], ONE - q.yes_price, q.price, q.size, q.order_side, mkt.complement(q.token_id))
        for q in asks + bids
    ]
    got = [(q.side, q.yes_price, q.price, q.size, q.order_side, q.token_id) for q in mirror.quotes]
    assert got == expected
    assert sorted(_OTHER_SIDE[s.side] for s in decision.skipped) == sorted(s.side for s in mirror.skipped)
    assert mirror.mid == _flip(decision.mid)


# -- display helpers: fast paths that must match the slow forms exactly ---------------------------------

_any_decimal = st.decimals(allow_nan=False, allow_infinity=False) | st.tuples(
    st.integers(-(10**9), 10**9), st.integers(-12, 4)
).map(lambda digits_exponent: Decimal(digits_exponent[0]).scaleb(digits_exponent[1]))


@given(_any_decimal | st.sampled_from(TICK_SIZES))
def test_tick_decimals_are_the_exponent_of_the_tick_as_written(tick: Decimal) -> None:
    assert _decimals(tick) == max(0, -int(tick.as_tuple().exponent))


@given(_any_decimal)
def test_str_is_the_fixed_point_form_whenever_it_has_no_exponent(value: Decimal) -> None:
    # `_fmt` relies on it: it formats with str() and falls back to f"{value:f}" only for an exponent.
    text = str(value)
    if "E" not in text and "e" not in text:
        assert text == f"{value:f}"


# -- volatility in the skew, toxic sides, the reward gate ----------------------------------------------


def test_the_skew_grows_with_volatility() -> None:
    mkt = market("0.001")
    p = params("0.04", limit="100", skew_start=D("0.3"), skew_gamma=D("0.1"), skew_horizon_s=D(60))
    calm = quote(book(mkt, "0.49", "0.51", yes="20", volatility=D("0.001")), p)  # 20% of L: below the start
    busy = quote(book(mkt, "0.49", "0.51", yes="20", volatility=D("0.004")), p)
    calm_bid, calm_ask = both(calm)
    busy_bid, busy_ask = both(busy)
    # |e| 20 x 0.1 x sigma^2 x 60: 0.000012 calm (rounds away), 0.000192 x ... = 0.00192 busy
    assert (calm_bid.yes_price, calm_ask.yes_price) == (D("0.479"), D("0.520"))
    assert (busy_bid.yes_price, busy_ask.yes_price) == (D("0.478"), D("0.519"))  # long YES: sell cheaper
    expected = "volatility skew 0.00192 = |e| 20 x gamma 0.1 x vol 0.004^2 x 60s"
    assert any(n.startswith(expected) for n in busy.notes)


def test_the_volatility_skew_adds_to_the_seed_skew_and_is_capped_at_the_base_offset() -> None:
    mkt = market("0.001")
    p = params("0.04", limit="100", skew_gamma=D("0.1"), skew_horizon_s=D(60))
    seed_only = quote(book(mkt, "0.49", "0.51", yes="70"), p)
    wild = quote(book(mkt, "0.49", "0.51", yes="70", volatility=D("0.05")), p)
    assert both(seed_only)[1].yes_price == D("0.513")  # 0.7 x 0.5 x 0.02 = 0.007 closer
    assert both(wild)[1].yes_price == D("0.500")  # capped: the reducing ask quotes at the mid
    assert any("capped at the base offset 0.020" in n for n in wild.notes)
    # the skew's note adds up: the linear part's arithmetic, then what the volatility term added
    expected = "inventory skew 0.020 = |e|/L 70% x factor 0.5 x base 0.020 (0.007) + volatility term 0.013"
    assert any(n.startswith(expected) for n in wild.notes), wild.notes


def test_no_volatility_skew_when_the_skew_is_off_or_gamma_is_zero() -> None:
    mkt = market("0.001")
    inp = book(mkt, "0.49", "0.51", yes="20", volatility=D("0.01"))
    flat = both(quote(inp, params("0.04", limit="100", skew_enabled=False, skew_gamma=D("0.1"))))
    none = both(quote(inp, params("0.04", limit="100", skew_gamma=D(0))))
    assert [q.yes_price for q in flat] == [q.yes_price for q in none] == [D("0.480"), D("0.520")]


def test_a_toxic_side_is_widened_alone_with_the_reason() -> None:
    from polymm_cli.quoter import SideRisk

    mkt = market("0.001")
    toxic = SideRisk(widen=D("1.5"), note="toxic flow: bid fills lost 1.20x their edge")
    decision = quote(book(mkt, "0.49", "0.51", bid_risk=toxic), params("0.04"))
    bid, ask = both(decision)
    assert (bid.yes_price, ask.yes_price) == (D("0.470"), D("0.520"))
    expected = "bid base offset 0.020 x1.5 -> 0.030 (toxic flow: bid fills lost 1.20x their edge)"
    assert expected in decision.notes


def test_reward_fitting_is_refused_when_the_adverse_cost_outweighs_the_reward() -> None:
    from polymm_cli.quoter import SideRisk

    mkt = rewarded("0.01", max_spread="3.5", reward_min="20", rate="50")
    p = params("0.10", size="10", reward_band=True, reward_size=True)
    # the bid's fills: 0.2 shares/s, the mid runs 4c against each: far more than 50/day can pay
    run_over = SideRisk(adverse=D("0.04"), fill_rate=D("0.2"))
    decision = quote(book(mkt, bid_risk=run_over), p)
    bid, ask = both(decision)
    assert (bid.yes_price, bid.size) == (D("0.45"), D("10"))  # left wide, not sized up
    assert (ask.yes_price, ask.size) == (D("0.53"), D("20"))  # the ask has no cost measured: fitted
    assert any(n.startswith("bid: reward fitting refused: estimated reward") for n in decision.notes)
    assert "left there (the reward does not pay for the risk)" in " ".join(decision.notes)


def test_reward_fitting_goes_ahead_when_the_reward_pays_for_the_measured_cost() -> None:
    from polymm_cli.quoter import SideRisk

    mkt = rewarded("0.01", max_spread="3.5", reward_min="20", rate="5000")
    p = params("0.10", size="10", reward_band=True, reward_size=True)
    mild = SideRisk(adverse=D("0.03"), fill_rate=D("0.01"))  # 0.01 x 0.01 net loss: 0.0001/s
    bid, _ = both(quote(book(mkt, bid_risk=mild), p))
    assert (bid.yes_price, bid.size) == (D("0.47"), D("20"))
    ungated = replace(p, reward_gate=False)
    bid, _ = both(quote(book(mkt, bid_risk=SideRisk(adverse=D("0.04"), fill_rate=D("0.2"))), ungated))
    assert (bid.yes_price, bid.size) == (D("0.47"), D("20"))  # the gate off: fitted whatever it costs


def test_a_pulled_toxic_side_is_skipped_unless_it_reduces_exposure() -> None:
    from polymm_cli.quoter import SideRisk

    mkt = market("0.01")
    pulled = SideRisk(widen=D("2"), note="toxic", pulled="toxic flow: bid pulled for 30s")
    flat = quote(book(mkt, bid_risk=pulled), params("0.04"))
    assert flat.bid is None and flat.skip_reason("bid") == "toxic flow: bid pulled for 30s"
    assert flat.ask is not None
    long_no = quote(book(mkt, no="20", bid_risk=pulled), params("0.04"))  # the bid sells the NO held
    assert long_no.bid is not None and long_no.bid.yes_price == D("0.46")  # kept, widened x2
    assert any(
        n.startswith("bid kept despite toxic flow: it reduces exposure (e -20)") for n in long_no.notes
    )


# -- the width polymm chooses when --spread was not set -------------------------------------------


def adaptive(spread: str = "0.04", **overrides: object) -> QuoteParams:
    return params(spread, adaptive_spread=True, **overrides)


def test_an_adaptive_width_joins_the_touch_of_a_one_tick_book() -> None:
    """Book 0.50 / 0.51: a configured 2c spread would sit a tick behind each touch (0.49 / 0.52);
    the adaptive width joins it."""
    mkt = market("0.01")
    bid, ask = both(quote(book(mkt, "0.50", "0.51"), adaptive("0.02")))
    assert (bid.yes_price, ask.yes_price) == (D("0.50"), D("0.51"))
    fixed_bid, fixed_ask = both(quote(book(mkt, "0.50", "0.51"), params("0.02")))
    assert (fixed_bid.yes_price, fixed_ask.yes_price) == (D("0.49"), D("0.52"))


def test_an_adaptive_width_improves_the_touch_by_a_tick_on_a_wide_book() -> None:
    mkt = market("0.001")
    decision = quote(book(mkt, "0.300", "0.310"), adaptive())
    bid, ask = both(decision)
    assert (bid.yes_price, ask.yes_price) == (D("0.301"), D("0.309"))
    assert any("a tick inside the touch 0.3 / 0.31" in n for n in decision.notes), decision.notes


def test_an_adaptive_width_joins_a_three_tick_book_rather_than_leave_one_tick_between_our_sides() -> None:
    bid, ask = both(quote(book(market("0.01"), "0.16", "0.19"), adaptive()))
    assert (bid.yes_price, ask.yes_price) == (D("0.16"), D("0.19"))
    bid, ask = both(quote(book(market("0.01"), "0.16", "0.20"), adaptive()))
    assert (bid.yes_price, ask.yes_price) == (D("0.17"), D("0.19"))


def test_an_explicit_spread_is_quoted_as_set_whatever_the_book() -> None:
    """adaptive_spread off (the settings' answer when --spread was set): 0.04 on a 1c book is 0.48 / 0.53."""
    bid, ask = both(quote(book(market("0.01"), "0.50", "0.51"), params("0.04")))
    assert (bid.yes_price, ask.yes_price) == (D("0.48"), D("0.53"))


def test_an_adaptive_width_never_sits_inside_the_adverse_move_measured_on_our_fills() -> None:
    """A 3c markout after our fills on a 1c book: the offset is 3c, not the half-cent touch."""
    from polymm_cli.quoter import SideRisk, adaptive_offset

    mkt = market("0.01")
    risky = book(mkt, "0.50", "0.51", bid_risk=SideRisk(adverse=D("0.03")))
    offset, why = adaptive_offset(risky, D("0.505"), D("0.01"))
    assert offset == D("0.03")
    assert "adverse move 0.03" in why
    bid, ask = both(quote(risky, adaptive("0.02")))
    assert (bid.yes_price, ask.yes_price) == (D("0.47"), D("0.54"))


def test_the_maker_rebate_counts_as_edge_against_the_adverse_move() -> None:
    """Fees 7%, rebate 20% at p 0.5: a fill earns back 0.07 x 0.2 x 0.25 = 0.0035 a share, so a
    0.005 markout asks for an offset of only 0.0015, and the touch's 0.005 is kept."""
    from polymm_cli.quoter import SideRisk, adaptive_offset, maker_rebate_per_share

    fee = market("0.001", taker_fee_rate=D("0.07"), maker_rebate_rate=D("0.2"))
    assert maker_rebate_per_share(fee, D("0.5")) == D("0.0035")
    assert maker_rebate_per_share(market("0.001"), D("0.5")) == ZERO
    risk = SideRisk(adverse=D("0.007"))
    with_fees = adaptive_offset(book(fee, "0.496", "0.504", ask_risk=risk), D("0.5"), D("0.01"))
    without = adaptive_offset(book(market("0.001"), "0.496", "0.504", ask_risk=risk), D("0.5"), D("0.01"))
    assert with_fees[0] == D("0.0035")  # 0.007 - 0.0035 > a tick inside the touch (0.003)
    assert without[0] == D("0.007")


def test_an_adaptive_width_falls_back_to_the_configured_spread_without_a_book() -> None:
    decision = quote(book(market("0.01"), None, None, mid_override=D("0.50")), adaptive("0.04"))
    bid, ask = both(decision)
    assert (bid.yes_price, ask.yes_price) == (D("0.48"), D("0.52"))


def test_an_adaptive_width_is_measured_from_the_real_book_not_a_dust_order_near_the_mid() -> None:
    """Real book 0.40 / 0.60 with a dust bid at 0.49: measured from the dust, the offset would be a
    cent and our ask would sit nine ticks inside the real ask. A tick inside the real touch each side."""
    dusty = book(market("0.01"), "0.40", "0.60", touch_bid=D("0.49"))
    decision = quote(dusty, adaptive())
    bid, ask = both(decision)
    assert (bid.yes_price, ask.yes_price) == (D("0.41"), D("0.59"))
    assert any("a tick inside the touch 0.4 / 0.6" in n for n in decision.notes), decision.notes


def test_an_adaptive_width_with_the_mid_outside_the_book_takes_the_configured_spread() -> None:
    """A --mid override above the real ask: no touch around the mid to measure, so the configured
    half-spread, never a zero offset floored to half a tick."""
    from polymm_cli.quoter import adaptive_offset

    outside = book(market("0.001"), "0.400", "0.420", mid_override=D("0.45"))
    offset, why = adaptive_offset(outside, D("0.45"), D("0.02"))
    assert offset == D("0.02")
    assert "no two-sided book around the mid" in why


def test_the_requote_key_of_a_chosen_width_is_the_touch_and_the_adverse_move_it_reads() -> None:
    """What the engine compares before keeping its quotes: the measured touch (the best real levels,
    dust aside) and the larger adverse move; nothing with a set spread."""
    from polymm_cli.quoter import SideRisk, adaptive_key

    mkt = market("0.01")
    assert adaptive_key(book(mkt, "0.47", "0.53"), params("0.04")) is None
    assert adaptive_key(book(mkt, "0.47", "0.53"), adaptive()) == (D("0.47"), D("0.53"), ZERO)
    dusty = book(mkt, "0.47", "0.53", touch_bid=D("0.48"), touch_ask=D("0.55"))
    assert adaptive_key(dusty, adaptive()) == (D("0.47"), D("0.53"), ZERO)
    risky = book(
        mkt, "0.47", "0.53", bid_risk=SideRisk(adverse=D("0.01")), ask_risk=SideRisk(adverse=D("0.03"))
    )
    assert adaptive_key(risky, adaptive()) == (D("0.47"), D("0.53"), D("0.03"))


def test_the_taper_cuts_the_side_that_adds_exposure_by_the_room_left() -> None:
    """e +20 of L 50: the bid (adds YES) quotes 10 x 30/50 = 6; the ask (reduces it) keeps 10."""
    mkt = market("0.01")
    bid, ask = both(quote(book(mkt, yes="20"), params(taper=True, skew_enabled=False)))
    assert (bid.size, ask.size) == (D("6.00"), D("10"))
    bid, ask = both(quote(book(mkt, yes="20"), params(skew_enabled=False)))
    assert (bid.size, ask.size) == (D("10"), D("10"))


def test_polymm_chooses_the_width_only_when_the_spread_was_not_set() -> None:
    """Like reward_band: an explicit --spread, even at the default's value, is quoted as set."""
    from polymm_cli.services.trading import engine_config
    from polymm_cli.settings import load_settings

    default = engine_config(load_settings())
    assert default.params.adaptive_spread
    assert default.width.startswith("chosen by polymm")
    explicit = engine_config(load_settings(spread=D("0.02")))
    assert not explicit.params.adaptive_spread
    assert explicit.width == "0.02 as set (--spread)"


def test_the_taper_cuts_every_level_of_the_side_that_adds_exposure() -> None:
    """Levels behind level 0 are tapered by the same room left: never larger than the level 0 they
    stand behind."""
    mkt = market("0.01")
    decision = quote(book(mkt, yes="20"), params(taper=True, skew_enabled=False, levels=2))
    bids = [q.size for q in decision.quotes if q.side == "bid"]
    asks = [q.size for q in decision.quotes if q.side == "ask"]
    assert bids == [D("6.00"), D("6.00")]
    assert asks == [D("10"), D("10")]


def test_the_taper_is_on_unless_the_size_was_set_and_an_explicit_taper_wins() -> None:
    """What the user set is what they get: an explicit --size is quoted as set (no taper), unless the
    taper was asked for too."""
    from polymm_cli.services.trading import engine_config
    from polymm_cli.settings import load_settings

    assert engine_config(load_settings()).params.taper
    assert not engine_config(load_settings(size=D("10"))).params.taper
    assert engine_config(load_settings(size=D("10"), inventory_taper=True)).params.taper
    assert not engine_config(load_settings(inventory_taper=False)).params.taper


def test_polymm_s_default_skew_is_linear_from_the_first_share_with_its_volatility_term() -> None:
    """The settings' skew (docs/strategy.md#rebate-and-skew): factor 1 from 0 of the limit, gamma 1,
    60 s. A silent return to the skew that waited for 0.6 of the limit fails here."""
    from polymm_cli.services.trading import quote_params
    from polymm_cli.settings import Settings

    p = quote_params(Settings(_env_file=None, spread="0.04", size="10"))  # type: ignore[call-arg]
    assert (p.skew_factor, p.skew_start, p.skew_gamma, p.skew_horizon_s) == (D(1), D(0), D(1), D(60))
    mkt = market("0.001")
    decision = quote(book(mkt, "0.49", "0.51", yes="10", volatility=D("0.004")), p)
    # 10 of a 100 limit: 0.1 x 1 x 0.02 = 0.002 linear, + 10 x 1 x 0.004^2 x 60 = 0.0096
    assert [q.yes_price for q in both(decision)] == [D("0.468"), D("0.509")]

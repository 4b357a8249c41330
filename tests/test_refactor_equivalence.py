"""The rewritten `quote` and `vet` decide exactly what the frozen copies of the old ones decided.

Temporary (issue "A codebase a newcomer can carry on"): deleted with the frozen copies once the rewrite
is proven. Decisions are compared by `repr`, so a Decimal with other trailing zeros (0.5 vs 0.50)
counts as a difference even though `==` would call them equal. EQUIV_EXAMPLES sets the example
count (development runs use 20,000).
"""

from __future__ import annotations

import os
from dataclasses import replace
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polymm_cli.model import ONE, TICK_SIZES, Market, RewardParams, Side
from polymm_cli.quoter import QuoteInput, QuoteParams, QuoteSide, TargetQuote, quote
from polymm_cli.reconcile import LiveOrder, ReconcilePlan
from polymm_cli.risk import Exposure, RiskLimits, vet
from tests import _quoter_before, _risk_before
from tests.test_quoter import leveled_scenarios, market

D = Decimal
EXAMPLES = int(os.environ.get("EQUIV_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- quote ----------------------------------------------------------------------------------------

_odd_mids = st.sampled_from([D("0"), D("1"), D("-0.2"), D("1.3"), D("0.5"), D("0.123456789"), D("0.50")])
_multipliers = st.sampled_from([ONE, ONE, D("1.0"), D("0"), D("-1"), D("0.25"), D("0.5"), D("1.5"), D("3")])
_sub_cent = st.integers(0, 200_000).map(lambda i: D(i) / 1000)


@st.composite
def quote_cases(draw: st.DrawFn) -> tuple[QuoteInput, QuoteParams]:
    """`leveled_scenarios` (levels, reward fitting, blocked sides, skew, widening, override, held
    inventory) plus the corners it leaves out: market-level skips, crossed and off-grid books, odd
    overrides and mid reasons, several blocks per side, sub-cent inventory, tighter limits."""
    inp, p = draw(leveled_scenarios())
    mkt = inp.market
    tick = mkt.tick_size
    state = draw(st.integers(0, 29))
    if state == 0:
        mkt = replace(mkt, closed=True)
    elif state == 1:
        mkt = replace(mkt, accepting_orders=False)
    if draw(st.integers(0, 3)) == 0:
        mkt = replace(
            mkt,
            rewards=RewardParams(
                max_spread_cents=draw(st.integers(1, 120).map(lambda i: D(i) / 10)),
                min_size=draw(st.integers(0, 5000).map(lambda i: D(i) / 100)),
                daily_rate=D("10"),
            ),
        )
    best_bid, best_ask = inp.best_bid, inp.best_ask
    book_kind = draw(st.integers(0, 19))
    if book_kind == 0 and best_bid is not None and best_ask is not None:
        best_bid, best_ask = best_ask, best_bid  # crossed
    elif book_kind == 1 and best_bid is not None:
        best_ask = best_bid  # locked
    elif book_kind == 2:  # off the grid
        best_bid = draw(st.integers(1, 4999).map(lambda i: D(i) / 10000))
        best_ask = best_bid + draw(st.integers(1, 4999).map(lambda i: D(i) / 10000))
    elif book_kind == 3:  # nothing on the grid below the best ask
        best_ask = draw(st.sampled_from([tick, tick / 2]))
        best_bid = draw(st.none() | st.just(best_ask / 2))
    elif book_kind == 4:  # nothing on the grid above the best bid
        best_bid = draw(st.sampled_from([ONE - tick, ONE - tick / 2]))
        best_ask = draw(st.none() | st.just((ONE + best_bid) / 2))
    override = inp.mid_override
    override_kind = draw(st.integers(0, 9))
    if override_kind == 0:
        override = draw(_odd_mids)
    elif override_kind == 1:  # next to the price range's ends, where the clamps bite
        edge = draw(st.integers(1, 300).map(lambda i: D(i) / 10000))
        override = draw(st.sampled_from([edge, ONE - edge]))
    sides: list[QuoteSide] = ["bid", "ask"]
    blocked = inp.blocked
    if draw(st.integers(0, 4)) == 0:
        blocked = tuple(
            draw(
                st.lists(
                    st.tuples(st.sampled_from(sides), st.sampled_from(["jump", "trend", "stop"])), max_size=4
                )
            )
        )
    yes, no = inp.yes_position, inp.no_position
    sellable_yes, sellable_no = inp.sellable_yes, inp.sellable_no
    if draw(st.integers(0, 3)) == 0:
        yes, no = draw(_sub_cent), draw(_sub_cent)
        sellable_yes = draw(st.none() | st.integers(0, int(yes * 1000)).map(lambda i: D(i) / 1000))
        sellable_no = draw(st.none() | st.integers(0, int(no * 1000)).map(lambda i: D(i) / 1000))
    inp = replace(
        inp,
        market=mkt,
        best_bid=best_bid,
        best_ask=best_ask,
        mid_override=override,
        mid_reason=draw(st.sampled_from(["", "", "warming-up depth"])),
        spread_multiplier=draw(_multipliers),
        blocked=blocked,
        yes_position=yes,
        no_position=no,
        sellable_yes=sellable_yes,
        sellable_no=sellable_no,
    )
    if draw(st.integers(0, 2)) == 0:  # tight limits and small sizes reach the cuts more often
        p = replace(
            p,
            position_limit=draw(st.integers(1, 3000).map(lambda i: D(i) / 100)),
            size=draw(st.integers(1, 3000).map(lambda i: D(i) / 100)),
        )
    if draw(st.integers(0, 4)) == 0:
        p = replace(p, spread=draw(st.integers(1, 40).map(lambda i: D(i) * tick)))
    if draw(st.integers(0, 19)) == 0:  # a narrow reward band next to a clamped quote: the pull may hit it
        edge = draw(st.integers(1, 100).map(lambda i: D(i) / 10000))
        band = RewardParams(
            max_spread_cents=draw(st.integers(1, 40).map(lambda i: D(i) / 10)), daily_rate=D("10")
        )
        inp = replace(
            inp,
            market=replace(inp.market, rewards=band),
            mid_override=draw(st.sampled_from([edge, ONE - edge])),
            spread_multiplier=ONE,
            blocked=(),
        )
        p = replace(p, reward_band=True)
    return inp, p


@SETTINGS
@given(quote_cases())
def test_quote_decides_exactly_what_the_old_quote_decided(case: tuple[QuoteInput, QuoteParams]) -> None:
    inp, p = case

    assert repr(quote(inp, p)) == repr(_quoter_before.quote(inp, p))


# -- vet ------------------------------------------------------------------------------------------

_TOKENS = st.sampled_from(["YES", "NO", "YES", "NO", "MAYBE"])
_cents = st.integers(0, 20_000).map(lambda i: D(i) / 100)


def _prices(tick: Decimal) -> st.SearchStrategy[Decimal]:
    steps = int(ONE / tick)
    return st.one_of(
        st.integers(1, steps - 1).map(lambda i: i * tick),
        st.integers(1, steps - 1).map(lambda i: i * tick),
        st.sampled_from([D("0"), ONE, D("-0.01"), D("1.01"), tick / 2, D("0.50"), D("0.5000")]),
        st.integers(1, 9999).map(lambda i: D(i) / 10000),
    )


def _sizes() -> st.SearchStrategy[Decimal]:
    return st.one_of(
        st.integers(1, 3000).map(lambda i: D(i) / 100),
        st.integers(1, 3000).map(lambda i: D(i) / 100),
        st.sampled_from([D("0"), D("-1"), D("5.001"), D("5.00"), D("10"), D("10.0")]),
    )


@st.composite
def vet_cases(draw: st.DrawFn) -> tuple[ReconcilePlan, Market, Exposure, RiskLimits, tuple[LiveOrder, ...]]:
    tick = draw(st.sampled_from(TICK_SIZES))
    mkt = market(str(tick), str(draw(st.sampled_from([D("0"), D("1"), D("5"), D("15")]))))
    prices = _prices(tick)
    places = draw(
        st.lists(
            st.builds(
                TargetQuote,
                st.sampled_from(["bid", "ask"]),
                _TOKENS,
                st.sampled_from([Side.BUY, Side.SELL]),
                prices,
                prices,
                _sizes(),
            ),
            max_size=7,
        )
    )
    kept = draw(
        st.lists(
            st.builds(
                LiveOrder, st.just("k"), _TOKENS, st.sampled_from([Side.BUY, Side.SELL]), prices, _sizes()
            ),
            max_size=4,
        )
    )
    yes, no = draw(_cents), draw(_cents)
    exposure = Exposure(
        yes_position=yes,
        no_position=no,
        open_buy_yes=draw(st.integers(0, 3000).map(lambda i: D(i) / 100)),
        open_buy_no=draw(st.integers(0, 3000).map(lambda i: D(i) / 100)),
        open_sell_yes=draw(st.integers(0, 3000).map(lambda i: D(i) / 100)),
        open_sell_no=draw(st.integers(0, 3000).map(lambda i: D(i) / 100)),
        sellable_yes=draw(st.none() | st.integers(0, int(yes * 100)).map(lambda i: D(i) / 100)),
        sellable_no=draw(st.none() | st.integers(0, int(no * 100)).map(lambda i: D(i) / 100)),
    )
    limits = RiskLimits(
        position_limit=draw(st.integers(1, 20_000).map(lambda i: D(i) / 100)),
        max_order_size=draw(st.integers(1, 3000).map(lambda i: D(i) / 100)),
        max_orders_per_market=draw(st.integers(0, 10)),
        halted=draw(st.integers(0, 9)) == 0,
        max_order_notional=draw(st.none() | st.integers(1, 2000).map(lambda i: D(i) / 100)),
    )
    ids = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=5, unique=True).map(tuple)
    plan = ReconcilePlan(cancels=draw(ids), places=tuple(places), keeps=draw(ids))
    return plan, mkt, exposure, limits, tuple(kept)


@SETTINGS
@given(vet_cases())
def test_vet_decides_exactly_what_the_old_vet_decided(
    case: tuple[ReconcilePlan, Market, Exposure, RiskLimits, tuple[LiveOrder, ...]],
) -> None:
    plan, mkt, exposure, limits, kept = case

    new = vet(plan, market=mkt, exposure=exposure, limits=limits, kept=kept)
    old = _risk_before.vet(plan, market=mkt, exposure=exposure, limits=limits, kept=kept)

    assert repr(new) == repr(old)
    assert (new.plan is plan) == (old.plan is plan)

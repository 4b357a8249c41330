"""Market resolution on the local exchange, in virtual time: trading stops (orders cancelled with
`CANCELED_MARKET_RESOLVED`, new ones refused with the venue's closed-market wording), the event goes
out, the listings show the winner, and `redeem` pays the winning tokens 1:1, once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from polymm_cli.clock import ManualClock
from polymm_cli.errors import ExchangeRejection
from polymm_cli.exchange import state as state_file
from polymm_cli.exchange.core import LocalExchange, SettlementConfig
from polymm_cli.exchange.events import MarketResolvedEvent, OrderEvent
from polymm_cli.exchange.markets import make_market, sample_markets
from polymm_cli.exchange.server import render
from polymm_cli.model import Side
from tests.exchange.test_core import ALICE, BOB, CAROL, FED, SUN, Recorder, cash, funded, place, shares

CLOSED_MARKET = "the market is not yet ready to process new orders"


def test_resolution_cancels_every_resting_order_and_says_so(clock: ManualClock) -> None:
    ex = funded(clock, split=50)
    bid = place(ex, ALICE, FED.yes_token, Side.BUY, "0.40", "10")
    ask = place(ex, CAROL, FED.yes_token, Side.SELL, "0.60", "10")
    other_market = place(ex, BOB, SUN.yes_token, Side.BUY, "0.50", "10")
    events = Recorder(ex)

    resolved = ex.resolve(FED.condition_id, "YES")

    assert resolved.winner == FED.yes_token and resolved.closed and not resolved.accepting_orders
    assert ex.markets[FED.condition_id].resolved
    cancels = events.orders("CANCELLATION")
    assert {e.order.order_id for e in cancels} == {bid.order_id, ask.order_id}
    assert {e.order.status for e in cancels} == {"CANCELED_MARKET_RESOLVED"}
    assert ex.open_orders(ALICE.owner) == [] and ex.open_orders(CAROL.owner) == []
    assert [o.order_id for o in ex.open_orders(BOB.owner)] == [other_market.order_id]  # untouched
    assert cash(ex, ALICE) == D(100)  # the bid's reservation is released
    [event] = [e for e in events.events if isinstance(e, MarketResolvedEvent)]
    assert (event.market, event.winning_token, event.winning_outcome) == (
        FED.condition_id,
        FED.yes_token,
        "Yes",
    )
    # the cancellations come before the resolution, as the user channel shows them
    assert events.events.index(cancels[-1]) < events.events.index(event)
    assert ex.book_levels(FED.yes_token) == ([], [])


def test_a_resolved_market_refuses_new_orders_with_the_closed_market_wording(clock: ManualClock) -> None:
    ex = funded(clock, split=50)
    ex.resolve(FED.condition_id, "NO")
    with pytest.raises(ExchangeRejection, match=CLOSED_MARKET):
        place(ex, ALICE, FED.yes_token, Side.BUY, "0.40", "10")
    with pytest.raises(ExchangeRejection, match=CLOSED_MARKET):
        place(ex, CAROL, FED.no_token, Side.SELL, "0.60", "10")
    place(ex, ALICE, SUN.yes_token, Side.BUY, "0.40", "10")  # other markets trade on


def test_redeem_pays_the_winning_tokens_once(clock: ManualClock) -> None:
    ex = funded(clock)
    ex.split(CAROL.address, SUN.condition_id, D(30))  # Carol: 70 pUSD, 30 YES, 30 NO (fee-free market)
    place(ex, CAROL, SUN.yes_token, Side.SELL, "0.60", "10")
    place(ex, ALICE, SUN.yes_token, Side.BUY, "0.60", "10")  # Alice buys 10 YES at 0.60
    ex.resolve(SUN.condition_id, SUN.yes_token)

    assert ex.redeem(ALICE.address, SUN.condition_id) == D(10)
    assert cash(ex, ALICE) == D(100) - D(6) + D(10)
    assert ex.redeem(CAROL.address, SUN.condition_id) == D(20)  # 20 YES left; the 30 NO pay nothing
    assert shares(ex, CAROL, SUN.yes_token) == 0 and shares(ex, CAROL, SUN.no_token) == 0
    before = cash(ex, CAROL)
    assert ex.redeem(CAROL.address, SUN.condition_id) == 0  # a second redeem pays nothing
    assert cash(ex, CAROL) == before
    assert ex.redeem(BOB.address, SUN.condition_id) == 0  # nothing held: nothing paid


def test_redeem_and_resolve_refuse_unknown_and_unresolved_markets(clock: ManualClock) -> None:
    ex = funded(clock, split=10)
    with pytest.raises(ExchangeRejection, match="not resolved yet"):
        ex.redeem(CAROL.address, FED.condition_id)
    assert shares(ex, CAROL, FED.yes_token) == 10  # the refusal burned nothing
    with pytest.raises(ExchangeRejection, match="market not found") as unknown:
        ex.redeem(CAROL.address, "0x" + "00" * 32)
    assert unknown.value.status == 404
    with pytest.raises(ExchangeRejection, match="invalid winner"):
        ex.resolve(FED.condition_id, "MAYBE")
    ex.resolve(FED.condition_id, "yes")
    with pytest.raises(ExchangeRejection, match="already resolved"):
        ex.resolve(FED.condition_id, "NO")


def test_markets_resolve_at_their_end_date_with_a_seeded_winner() -> None:
    end = "2027-01-01T00:00:00Z"
    end_ts = datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    ending = make_market("ends-2027", "Ends?", tick="0.01", end_date=end)
    later = make_market("ends-later", "Later?", tick="0.01", end_date="2030-01-01T00:00:00Z")
    winners = set()
    for seed in range(8):
        clock = ManualClock(end_ts - 10)
        ex = LocalExchange([ending, later], clock, seed=seed, settlement=SettlementConfig(0))
        assert ex.resolve_due() == []
        clock.advance(10)
        [resolved] = ex.resolve_due()
        assert resolved.condition_id == ending.condition_id
        assert not ex.markets[later.condition_id].resolved
        assert ex.resolve_due() == []  # once
        again = LocalExchange([ending, later], ManualClock(end_ts), seed=seed).resolve_due()[0]
        assert again.winner == resolved.winner  # the same seed, the same winner
        winners.add(resolved.outcome_of(resolved.winner))
    assert winners == {"Yes", "No"}  # an even book: both outcomes happen over seeds


def test_listings_show_the_winner_and_the_state_file_keeps_it(clock: ManualClock) -> None:
    ex = funded(clock)
    ex.resolve(FED.condition_id, "NO")
    item = render.clob_market(ex.markets[FED.condition_id], (None, None))
    assert (item["closed"], item["accepting_orders"]) == (True, False)
    assert [(t["outcome"], t["winner"], t["price"]) for t in item["tokens"]] == [
        ("Yes", False, 0),
        ("No", True, 1),
    ]

    restored = state_file.restore(state_file.snapshot(ex), clock)
    assert restored.markets[FED.condition_id].winner == FED.no_token
    assert not restored.markets[SUN.condition_id].resolved
    assert [m.condition_id for m in sample_markets()] == list(restored.markets)


def test_cancellation_events_name_the_resolution(clock: ManualClock) -> None:
    ex = funded(clock)
    place(ex, ALICE, FED.no_token, Side.BUY, "0.30", "10")
    events = Recorder(ex)
    ex.resolve(FED.condition_id, "YES")
    [cancel] = [e for e in events.events if isinstance(e, OrderEvent)]
    assert render.ws_order(cancel)["status"] == "CANCELED_MARKET_RESOLVED"
    assert render.ws_order(cancel)["type"] == "CANCELLATION"

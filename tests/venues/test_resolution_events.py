"""Resolution at the venue boundary: Polymarket's `market_resolved` parsed into `MarketResolved`, the
winner read from CLOB and Gamma market objects, and the paper venue's simulator cancelling its orders
in a resolved market and refusing new ones with the venue's closed-market wording."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

from polymm_cli.model import Side
from polymm_cli.venues.base import MarketResolved, OrderIntent, OrderUpdate
from polymm_cli.venues.polymarket.gamma import parse_clob_market, parse_gamma_market
from polymm_cli.venues.polymarket.streams import market_subscription
from polymm_cli.venues.polymarket.wire import parse_market_frame
from tests.backtest.sim_events import MARKET, NO, YES, levels, simulator, snapshot

CID = "0x311d0c4b6671ab54af4970c06fcf58662516f5168997bdda209ec3db5aa6b0c1"
WIN = "76043073756653678226373981964075571318267289248134717369284518995922789326425"
LOSE = "31690934263385727664202099278545688007799199447969475608906331829650099442770"


def resolved_frame(**overrides: Any) -> str:
    """Polymarket's documented example (reference §6.2), trimmed, with the right event type."""
    event = {
        "id": "1031769",
        "market": CID,
        "slug": "nvda-above-240-on-january-30-2026",
        "assets_ids": [WIN, LOSE],
        "winning_asset_id": WIN,
        "winning_outcome": "Yes",
        "event_message": {"id": "125819", "slug": "nvda-above-in-january-2026"},
        "timestamp": "1766790415550",
        "event_type": "market_resolved",
        **overrides,
    }
    return json.dumps([event, {"event_type": "new_market", "market": CID}])


def test_market_resolved_parses_into_a_typed_event() -> None:
    parsed = parse_market_frame(resolved_frame(), 5.0)

    assert parsed.events == [
        MarketResolved(
            market=CID, winning_token=WIN, winning_outcome="Yes", venue_ts=1766790415.55, recv_ts=5.0
        )
    ]
    assert parsed.problems == ()


def test_a_market_resolved_without_its_winner_is_a_bad_element_not_a_guess() -> None:
    parsed = parse_market_frame(resolved_frame(winning_asset_id=None), 5.0)

    assert parsed.events == []
    [problem] = parsed.problems
    assert "market_resolved" in problem.error and "winning_asset_id" in problem.error


def test_the_market_subscription_asks_for_the_custom_features() -> None:
    assert json.loads(market_subscription([WIN]))["custom_feature_enabled"] is True


def test_the_winner_is_read_from_clob_and_gamma_market_objects() -> None:
    clob = {
        "condition_id": CID,
        "question": "q",
        "market_slug": "s",
        "minimum_tick_size": 0.01,
        "minimum_order_size": 5,
        "closed": True,
        "accepting_orders": False,
        "active": True,
        "tokens": [
            {"token_id": WIN, "outcome": "Yes", "price": 1, "winner": True},
            {"token_id": LOSE, "outcome": "No", "price": 0, "winner": False},
        ],
    }
    gamma = {
        "conditionId": CID,
        "clobTokenIds": json.dumps([WIN, LOSE]),
        "outcomes": json.dumps(["Yes", "No"]),
        "orderPriceMinTickSize": 0.01,
        "closed": True,
        "umaResolutionStatus": "resolved",
        "outcomePrices": json.dumps(["0", "1"]),
    }

    assert parse_clob_market(clob).winner == WIN and not parse_clob_market(clob).tradable
    assert parse_gamma_market(gamma).winner == LOSE
    assert parse_gamma_market({**gamma, "umaResolutionStatus": "proposed"}).winner == ""  # not final yet
    assert parse_gamma_market({**gamma, "outcomePrices": json.dumps(["0.3", "0.7"])}).winner == ""
    unresolved = {**clob, "closed": False, "tokens": [{**t, "winner": False} for t in clob["tokens"]]}
    assert parse_clob_market(unresolved).winner == ""


def test_the_paper_simulator_cancels_its_orders_and_refuses_new_ones_once_resolved() -> None:
    sim = simulator()
    sim.on_market_event(snapshot(bids=levels(("0.40", "100")), asks=levels(("0.60", "100"))), 0.0)
    placed, _ = sim.place(
        OrderIntent(market=MARKET.condition_id, token_id=YES, side=Side.BUY, price=D("0.45"), size=D(10)), 1.0
    )
    assert placed.ok

    events = sim.on_market_event(
        MarketResolved(
            market=MARKET.condition_id, winning_token=NO, winning_outcome="No", venue_ts=2.0, recv_ts=2.0
        ),
        2.0,
    )

    assert [(e.order_id, e.kind, e.status) for e in events if isinstance(e, OrderUpdate)] == [
        (placed.order_id, "CANCELLATION", "CANCELED_MARKET_RESOLVED")
    ]
    assert sim.open_orders() == []
    assert sim.market(MARKET.condition_id).winner == NO  # type: ignore[union-attr]
    refused, _ = sim.place(
        OrderIntent(market=MARKET.condition_id, token_id=YES, side=Side.BUY, price=D("0.45"), size=D(10)), 3.0
    )
    assert (refused.ok, refused.error) == (False, "the market is not yet ready to process new orders")


def test_the_paper_simulator_redeems_the_winning_tokens_once() -> None:
    sim = simulator(collateral="100", yes="30", no="20")
    resolved = MarketResolved(
        market=MARKET.condition_id, winning_token=YES, winning_outcome="Yes", venue_ts=1.0, recv_ts=1.0
    )
    sim.on_market_event(resolved, 1.0)

    assert sim.redeem(MARKET.condition_id) == D(30)
    assert sim.collateral == D(130) and sim.tokens[YES] == 0 and sim.tokens[NO] == 0
    assert sim.redeem(MARKET.condition_id) == 0

"""Our queue models against hftbacktest itself on one hand-built market-by-price sequence.

The same events go to hftbacktest (partial-fill exchange, zero latency, lot size 1) and to our fill
simulator, and after every event both must have filled our bid by the same amount. hftbacktest
expects a trade before the level change it causes, so the sequence sends them in that order. Skips
where hftbacktest is not installed (it is not a dependency of polymm).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from polymm_cli.backtest.queue import PowerProbQueue, QueueModel, RiskAverseQueue
from polymm_cli.model import Side
from polymm_cli.venues.base import MarketEvent
from tests.backtest.sim_events import change, intent, levels, simulator, snapshot, trade

D = Decimal
BUY, SELL = Side.BUY, Side.SELL

# (second, kind, side, price, size): "depth" sets a level (BUY = bid), "trade" is a taker trade
SEQUENCE = [
    (2, "depth", BUY, "0.50", "150"),  # 50 join behind us
    (3, "depth", BUY, "0.50", "110"),  # 40 cancelled
    (4, "trade", SELL, "0.50", "60"),
    (5, "depth", BUY, "0.50", "50"),  # the trade's own decrease
    (6, "trade", SELL, "0.50", "12"),
    (7, "depth", BUY, "0.50", "38"),
    (8, "depth", BUY, "0.50", "20"),  # 18 cancelled
    (9, "trade", SELL, "0.50", "10"),
    (10, "trade", SELL, "0.50", "10"),
    (11, "trade", SELL, "0.49", "1"),  # through our bid: the rest
]


def ours(model: QueueModel) -> list[Decimal]:
    """Our bid's filled size after each second of the sequence."""
    sim = simulator(model)
    sim.on_market_event(snapshot(bids=levels(("0.50", "100")), asks=levels(("0.60", "100"))), 0.0)
    placed, _ = sim.place(intent(BUY, "0.50", "10"), 1.0)
    filled, out = D(0), []
    for second, kind, side, price, size in SEQUENCE:
        event: MarketEvent = (
            change(side, price, size, ts=second) if kind == "depth" else trade(side, price, size, ts=second)
        )
        for update in sim.on_market_event(event, float(second)):
            if getattr(update, "status", None) == "MATCHED" and hasattr(update, "fills"):
                filled += sum((f.size for f in update.fills if f.order_id == placed.order_id), D(0))
        out.append(filled)
    return out


def theirs(model: str) -> list[Decimal]:
    """The same sequence through hftbacktest; its filled size after each second."""
    np = pytest.importorskip("numpy")
    hbt_module = pytest.importorskip("hftbacktest")
    from hftbacktest import types

    second_ns = 1_000_000_000
    flags = types.EXCH_EVENT | types.LOCAL_EVENT

    def row(second: int, kind: str, side: Side, price: str, size: str) -> tuple[object, ...]:
        what = types.DEPTH_EVENT if kind == "depth" else types.TRADE_EVENT
        direction = types.BUY_EVENT if side is BUY else types.SELL_EVENT
        return (
            flags | what | direction,
            second * second_ns,
            second * second_ns,
            float(price),
            float(size),
            0,
            0,
            0.0,
        )

    rows = [row(0, "depth", BUY, "0.50", "100"), row(0, "depth", SELL, "0.60", "100")]
    rows += [row(*step) for step in SEQUENCE]
    asset = hbt_module.BacktestAsset().data(np.array(rows, dtype=types.event_dtype))
    asset = asset.linear_asset(1.0).constant_order_latency(0, 0)
    asset = asset.power_prob_queue_model(2.0) if model == "power" else asset.risk_adverse_queue_model()
    asset = asset.partial_fill_exchange().trading_value_fee_model(0.0, 0.0).tick_size(0.01).lot_size(1.0)
    hbt = hbt_module.HashMapMarketDepthBacktest([asset])
    hbt.elapse(second_ns)
    hbt.submit_buy_order(0, 1, 0.50, 10.0, hbt_module.GTC, hbt_module.LIMIT, False)
    out = []
    for _ in SEQUENCE:
        hbt.elapse(second_ns)
        order = hbt.orders(0).get(1)
        out.append(D(10) - D(str(order.leaves_qty)))
    hbt.close()
    return out


@pytest.mark.parametrize(
    ("model", "name"),
    [(RiskAverseQueue(), "risk"), (PowerProbQueue(2), "power")],
    ids=["risk-averse", "power-2"],
)
def test_our_fills_match_hftbacktest_event_by_event(model: QueueModel, name: str) -> None:
    expected = theirs(name)

    assert ours(model) == expected
    assert expected[-1] == 10  # the trade-through fills whatever was left


def test_the_two_models_part_where_cancels_happen_ahead() -> None:
    risk, power = ours(RiskAverseQueue()), ours(PowerProbQueue(2))

    # power-2: 100 ahead -> 68 (cancel) -> 8 (trade 60) -> fills 4 of the trade of 12, 6 more on the next
    assert power[:6] == [0, 0, 0, 0, 4, 4] and power[7] == 10
    # risk-averse: 100 -> 40 (trade) -> 28 (trade) -> 20 (the level shrinks under us) -> 10 -> 0: fills 0
    assert risk[:9] == [0] * 9 and risk[9] == 10

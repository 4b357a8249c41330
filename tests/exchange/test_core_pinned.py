"""A pinned transcript of LocalExchange under a long seeded order flow: every result, every refusal's
wording, every event in order (with its views) and the final state, reduced to one sha256.

Why: the exchange's validation and fill recording are refactored for readability without any change
of behaviour; this pins that behaviour as a whole, including what the focused tests in test_core.py
do not look at (the order of events inside one submit, the RNG draws behind trade ids and settlement
failures, the sequence numbers a refused order consumes). If the digest changes, behaviour changed:
the per-kind counts asserted first say roughly where.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from decimal import Decimal

from polymm_cli.clock import ManualClock
from polymm_cli.errors import ExchangeRejection
from polymm_cli.exchange.core import LocalExchange, OrderRequest, SettlementConfig
from polymm_cli.exchange.events import ExchangeEvent
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.state import snapshot
from polymm_cli.model import OrderType, Side

D = Decimal
TRADERS = [(f"key-{n}", "0x" + f"{n:02x}" * 20) for n in range(1, 6)]
UNFUNDED = ("key-unfunded", "0x" + "ee" * 20)
# Repinned for the state file's "income" desk and the markets' maker_rebate_rate (issue 11), then for
# the markets' "winner" (market resolution, issue 12): the events and every line before the final
# snapshot hash exactly as before (ec0cce56...), and so does the snapshot without "winner" (1c9be5f8...).
PINNED_SHA256 = "145568ec4d555e78b508848329a48708967e12cd083c48a7a05a017bcf5342e8"
PINNED_KINDS = {
    "BookEvent": 367,
    "LastTradeEvent": 271,
    "OrderEvent": 642,
    "TradeEvent": 797,
    "accepted": 363,
    "refused: Duplicated.": 5,
    "refused: Invalid order payload": 11,
    "refused: Invalid token id": 11,
    "refused: Price ": 306,
    "refused: Size ": 230,
    "refused: invalid amount for a marketable BUY orde": 47,
    "refused: invalid expiration": 103,
    "refused: invalid post-only order: only GTC and GT": 28,
    "refused: invalid post-only order: order crosses b": 8,
    "refused: no orders found to match with FAK order.": 53,
    "refused: not enough balance / allowance: the allo": 4,
    "refused: not enough balance / allowance: the bala": 79,
    "refused: order couldn't be fully filled. FOK orde": 82,
    "refused: the market is not yet ready to process n": 3,
}


def _random_request(rng: random.Random, n: int, tokens: list[str], past_ids: list[str]) -> OrderRequest:
    owner, address = rng.choice([*TRADERS, UNFUNDED]) if rng.random() < 0.05 else rng.choice(TRADERS)
    order_type = rng.choice([OrderType.GTC] * 6 + [OrderType.GTD, OrderType.FOK, OrderType.FAK] * 2)
    price = D(rng.randint(1, 999)) / 1000 if rng.random() < 0.3 else D(rng.randint(0, 100)) / 100
    if rng.random() < 0.05:
        price += D("0.000004")  # market-order rounding noise, or off-grid for a limit order
    size = D(rng.choice([0, 1, 3, 5, 10, 20, 50, 200, 5000])) + D(rng.randint(0, 99)) / 100
    if rng.random() < 0.01:
        size = D(0)
    expiration = 0
    if order_type is OrderType.GTD or rng.random() < 0.02:
        expiration = 1_800_000_000 + rng.choice([10, 59, 61, 120, 3600])
    order_id = rng.choice(past_ids) if past_ids and rng.random() < 0.02 else f"0x{n:064x}"
    token = rng.choice(tokens) if rng.random() > 0.01 else "123"
    return OrderRequest(
        order_id=order_id,
        owner=owner,
        address=address,
        token_id=token,
        side=rng.choice([Side.BUY, Side.SELL]),
        price=price,
        size=size,
        order_type=order_type,
        post_only=rng.random() < 0.1,
        expiration=expiration,
    )


def run_transcript(steps: int = 1500, seed: int = 11) -> tuple[list[str], Counter[str]]:
    rng = random.Random(seed)
    clock = ManualClock(1_800_000_000.0)
    exchange = LocalExchange(
        sample_markets(),
        clock,
        seed=seed,
        settlement=SettlementConfig(delay_s=4.0, fail_rate=0.2),
        api_secret=b"\x01" * 32,
        id_salt=b"\x02" * 16,
    )
    lines: list[str] = []
    kinds: Counter[str] = Counter()

    def record(event: ExchangeEvent) -> None:
        lines.append(repr(event))
        kinds[type(event).__name__] += 1

    exchange.add_listener(record)
    for _, address in TRADERS:
        exchange.fund(address, D(20_000))
        for market in list(exchange.markets.values())[:3]:
            exchange.split(address, market.condition_id, D(2_000))
    tokens = [t for m in exchange.markets.values() for t in m.tokens]
    past_ids: list[str] = []
    for n in range(steps):
        roll = rng.random()
        if roll < 0.08 and past_ids:
            owner = rng.choice(TRADERS)[0]
            lines.append(repr(exchange.cancel(owner, rng.sample(past_ids, min(3, len(past_ids))))))
            continue
        if roll < 0.12:
            clock.advance(rng.choice([0.5, 2.0, 3.0, 30.0]))
            exchange.advance()
            continue
        exchange.accepting = roll >= 0.125  # a short exchange-wide pause now and then
        req = _random_request(rng, n, tokens, past_ids)
        past_ids.append(req.order_id)
        try:
            lines.append(repr(exchange.submit(req)))
            kinds["accepted"] += 1
        except ExchangeRejection as exc:
            lines.append(f"refused {exc.status} {exc.message}")
            kinds["refused: " + exc.message.split(" is invalid. ")[-1].split("(")[0][:40]] += 1
    lines.append(json.dumps(snapshot(exchange), sort_keys=True, default=str))
    return lines, kinds


def test_a_long_seeded_flow_produces_the_pinned_transcript() -> None:
    lines, kinds = run_transcript()

    assert dict(kinds) == PINNED_KINDS  # events by type, refusals by wording
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert digest == PINNED_SHA256

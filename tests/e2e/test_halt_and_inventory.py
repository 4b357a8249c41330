"""`polymm halt` / `resume` against a running engine, and `seed` / `liquidate` leaving a flat book
that `polymm pnl` agrees with."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import pytest
from pydantic import SecretStr

from polymm_cli.clock import SystemClock
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.model import Side
from polymm_cli.services.venues import local_private_key
from polymm_cli.venues.base import OrderIntent
from polymm_cli.venues.polymarket import PolymarketConfig, PolymarketVenue
from tests.conftest import fund, start_exchange, throwaway_key
from tests.e2e.support import (
    account_at_exchange,
    assert_stopped_cleanly,
    bot_venue,
    data_dir,
    polymm,
    start_polymm,
)

pytestmark = pytest.mark.slow

FED = sample_markets()[0]


async def test_halt_pulls_the_quotes_within_a_second_and_resume_brings_them_back() -> None:
    """A calm run (few takers, a big requote threshold) so the only reason quotes move is the halt."""
    run = start_polymm(
        "run",
        "--headless",
        "--duration",
        "14",
        "--requote-threshold",
        "0.5",
        POLYMM_EXCHANGE_TAKER_RATE="0.01",
    )
    try:
        assert run.stdout is not None
        first = await asyncio.wait_for(asyncio.to_thread(run.stdout.readline), 30)
        assert '"places"' in first
        async with bot_venue() as venue:
            deadline = time.monotonic() + 10
            while len(await venue.open_orders()) < 2:
                assert time.monotonic() < deadline, "the run never quoted both sides"
                await asyncio.sleep(0.05)

            halted = polymm("halt", "--reason", "e2e test")
            asked = time.monotonic()
            while await venue.open_orders():
                assert time.monotonic() - asked < 1.0, "quotes still resting a second after the halt"
                await asyncio.sleep(0.02)
            await asyncio.sleep(1.0)
            assert await venue.open_orders() == []  # they stay pulled while halted

            resumed = polymm("resume")
            deadline = time.monotonic() + 5
            while len(await venue.open_orders()) < 2:
                assert time.monotonic() < deadline, "no quotes after resume"
                await asyncio.sleep(0.05)
        out, err = await asyncio.to_thread(run.communicate, timeout=40)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert halted.returncode == 0 and "halt requested" in halted.stdout
    assert resumed.returncode == 0 and "resumed" in resumed.stdout
    assert run.returncode == 0, err  # resumed: the run ended on its duration, not halted
    assert_stopped_cleanly(out.splitlines()[-1], "duration")


def test_seed_then_liquidate_leaves_a_flat_position_and_pnl_agrees_with_the_exchange() -> None:
    seeded = polymm("seed", FED.slug, "--amount", "60", "--json")
    assert seeded.returncode == 0, seeded.stderr
    assert json.loads(seeded.stdout)["yes"] == "60"

    async def sell_some_no() -> None:
        """Unbalance the inventory: sell 25 NO into the synthetic makers' bids (a taker FAK)."""
        async with bot_venue() as venue:
            book = await venue.book(FED.yes_token)
            no_bid = 1 - book.asks[0].price  # the best NO bid mirrors the best YES ask
            results = await venue.place(
                [
                    OrderIntent(
                        market=FED.condition_id,
                        token_id=FED.no_token,
                        side=Side.SELL,
                        price=no_bid - Decimal("0.05"),
                        size=Decimal(25),
                        order_type="FAK",
                        post_only=False,
                    )
                ]
            )
            assert results[0].ok, results[0].error

    asyncio.run(sell_some_no())
    time.sleep(2.5)  # the sale settles (MATCHED -> CONFIRMED)

    liquidated = polymm("liquidate", FED.slug, "--json", timeout=120)
    assert liquidated.returncode == 0, liquidated.stderr
    report = json.loads(liquidated.stdout)
    assert Decimal(report["merged"]) > 0  # the YES+NO pairs went back as collateral first
    assert (
        Decimal(report["yes_left"]) < FED.min_order_size and Decimal(report["no_left"]) < FED.min_order_size
    )

    time.sleep(2.5)  # the liquidation's sales settle
    pnl = polymm("pnl", "--json")
    assert pnl.returncode == 0, pnl.stderr
    view = json.loads(pnl.stdout)
    exchange = account_at_exchange([FED])
    (market,) = [m for m in view["markets"] if m["condition_id"] == FED.condition_id]
    assert Decimal(market["yes_position"]) == exchange.tokens[FED.yes_token]
    assert Decimal(market["no_position"]) == exchange.tokens[FED.no_token]
    assert Decimal(view["cash"]).quantize(Decimal("0.01")) == exchange.collateral.quantize(Decimal("0.01"))


async def test_liquidating_without_a_two_sided_book_rests_a_limit_exit_instead_of_walking_the_book() -> None:
    """Only asks in the book: a market-mode exit has no mid to hang its slippage floor on, so it says
    so and rests a post-only SELL a tick under the best ask; the other trader takes it."""
    server = start_exchange()
    try:
        data_dir().mkdir(parents=True, exist_ok=True)
        bot_key, _ = local_private_key(data_dir())
        other = PolymarketConfig.for_local_exchange(server.url, SecretStr(throwaway_key("one-sided")))
        bot = PolymarketConfig.for_local_exchange(server.url, bot_key)
        async with PolymarketVenue(other, SystemClock()) as seller, PolymarketVenue(bot, SystemClock()) as we:
            fund(server, seller.address, 1000)
            fund(server, we.address, 1000)
            server.call(server.server.exchange.split, seller.address, FED.condition_id, Decimal(100))
            ask = intent(FED.yes_token, Side.SELL, "0.60", "100", "GTC")
            assert (await seller.place([ask]))[0].ok  # the only side of the book
            assert (await we.place([intent(FED.yes_token, Side.BUY, "0.60", "20", "FAK")]))[0].ok

            run = start_polymm("liquidate", FED.slug, "--exchange-url", server.url, "--json")
            deadline = time.monotonic() + 30
            while not (exits := await we.open_orders()):
                assert run.poll() is None and time.monotonic() < deadline, run.communicate()
                await asyncio.sleep(0.05)
            taken = await seller.place([intent(FED.yes_token, Side.BUY, str(exits[0].price), "20", "FAK")])
            assert taken[0].ok, taken[0].error
            out, err = await asyncio.to_thread(run.communicate, timeout=60)
    finally:
        server.stop()

    assert run.returncode == 0, err
    report = json.loads(out)
    assert (report["mode"], report["note"]) == (
        "limit",
        "no two-sided book to anchor a market exit: resting limit orders instead",
    )
    assert exits[0].price == Decimal("0.59") and exits[0].side is Side.SELL
    assert Decimal(report["sold_yes"]) == 20 and Decimal(report["yes_left"]) == 0


def intent(token: str, side: Side, price: str, size: str, kind: str) -> OrderIntent:
    return OrderIntent(
        market=FED.condition_id,
        token_id=token,
        side=side,
        price=Decimal(price),
        size=Decimal(size),
        order_type=kind,
        post_only=kind == "GTC",
    )

"""The Venue port's `payouts`: liquidity rewards and maker rebates the exchange paid, read back.

Runs the venue contract's factories (tests/venues/test_venue_contract.py) against a local exchange
of this module's own with a two-second reward epoch, over HTTP for the Polymarket adapter
(`GET /rewards/user`, `GET /rebates/current`) and in process for SimVenue. A paper venue's orders
never rest at an exchange: it is paid nothing, and says so by returning no payout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from polymm_cli.exchange.payouts import IncomeConfig
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.model import taker_fee
from polymm_cli.venues.base import Payout, Venue
from tests.conftest import start_exchange
from tests.venues.test_venue_contract import (
    BTC,
    FED,
    VENUE_FACTORIES,
    D,
    VenueFactory,
    bid,
    fak_buy,
    funded,
)

EPOCH_S = 2.0


@pytest.fixture(scope="module")
def paying_exchange() -> Iterator[ExchangeThread]:
    server = start_exchange(income=IncomeConfig(epoch_s=EPOCH_S))
    yield server
    server.stop()


@pytest.fixture(params=[f for f in VENUE_FACTORIES if f.shared_book], ids=lambda f: f.name)
def resting_factory(request: pytest.FixtureRequest) -> VenueFactory:
    """Venues whose orders rest in the exchange's book, where the exchange scores them."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def label(request: pytest.FixtureRequest) -> Callable[[str], str]:
    return lambda role: f"payouts:{request.node.name}:{role}"


async def paid(venue: Venue, kind: str, market: str, timeout: float = 4 * EPOCH_S + 2) -> list[Payout]:
    """The venue's payouts of one kind and market, once there is one (or [] after `timeout`)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = [p for p in await venue.payouts() if p.kind == kind and p.market == market]
        if found or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.25)


async def test_a_maker_inside_the_reward_band_is_paid_rewards_and_one_outside_is_not(
    resting_factory: VenueFactory, paying_exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    async with (
        funded(resting_factory, paying_exchange, label("inside")) as inside,
        funded(resting_factory, paying_exchange, label("outside")) as outside,
    ):
        # YES 0.49 / 0.51 (a NO bid at 0.49 is a YES ask at 0.51) around the 0.50 mid: 1c of the 3.5c band
        placed = await inside.place(
            [bid(FED, FED.yes_token, "0.49", "50"), bid(FED, FED.no_token, "0.49", "50")]
        )
        placed += await outside.place(
            [bid(FED, FED.yes_token, "0.40", "50"), bid(FED, FED.no_token, "0.40", "50")]
        )
        assert all(r.ok for r in placed), placed
        try:
            rewards = await paid(inside, "reward", FED.condition_id)
            others = [p for p in await outside.payouts() if p.kind == "reward"]
            again = await inside.payouts()
        finally:
            await inside.cancel_all()
            await outside.cancel_all()

    pool = D(50) * D(str(EPOCH_S)) / D(86_400)  # FED pays $50 a day
    assert rewards and all(D(0) < p.amount <= pool for p in rewards)
    assert others == [], "10c from the mid is outside the 3.5c band: no reward"
    ids = [p.payout_id for p in again]
    assert len(ids) == len(set(ids)) and {p.payout_id for p in rewards} <= set(ids), "ids are stable"


async def test_a_taker_fee_pays_a_rebate_to_the_maker_it_hit(
    resting_factory: VenueFactory, paying_exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    async with (
        funded(resting_factory, paying_exchange, label("maker")) as maker,
        funded(resting_factory, paying_exchange, label("taker")) as taker,
    ):
        # BTC charges takers 7% x p(1-p) and returns 20% of it to makers; its book is ours alone here
        (rest,) = await maker.place([bid(BTC, BTC.no_token, "0.705", "40")])  # a YES ask at 0.295
        assert rest.ok, rest
        (take,) = await taker.place([fak_buy(BTC, BTC.yes_token, "0.295", "20")])
        assert take.ok, take
        try:
            rebates = await paid(maker, "rebate", BTC.condition_id)
            taker_rebates = [p for p in await taker.payouts() if p.kind == "rebate"]
        finally:
            await maker.cancel_all()

    fee = taker_fee(D(20), D("0.295"), BTC.taker_fee_rate)
    assert [p.amount for p in rebates] == [BTC.maker_rebate_rate * fee]
    assert taker_rebates == [], "a taker earns no rebate"


async def test_a_paper_venue_is_paid_nothing(
    paying_exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    (paper,) = [f for f in VENUE_FACTORIES if f.name == "paper"]
    async with funded(paper, paying_exchange, label("paper"), amount=0) as venue:
        await venue.place([bid(FED, FED.yes_token, "0.49", "50"), bid(FED, FED.no_token, "0.49", "50")])
        await asyncio.sleep(2 * EPOCH_S)
        assert await venue.payouts() == []

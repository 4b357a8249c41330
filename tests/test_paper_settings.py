"""Paper trading's settings and composition: the feed, the queue model and latency flags (shared with
the backtest), the paper wallet's address, and a paper venue that starts from what the ledger holds."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from polymm_cli import signing
from polymm_cli.backtest.queue import PowerProbQueue, RiskAverseQueue
from polymm_cli.clock import SystemClock
from polymm_cli.engine.config import StopReport
from polymm_cli.errors import ConfigError
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, FillRecord, FlowKind, FlowRecord, Side, TradeStatus
from polymm_cli.services.trading import engine_config
from polymm_cli.services.venues import (
    PAPER_WALLET_WITHOUT_KEY,
    exchange_for,
    latency,
    open_venue,
    paper_address,
    paper_holdings,
    queue_model,
    run_key,
    settings_account,
)
from polymm_cli.settings import DEFAULT_LATENCY, LatencyChoice, QueueChoice, load_settings
from polymm_cli.venues.paper import PaperVenue
from polymm_cli.venues.polymarket.adapter import PolymarketVenue
from tests.conftest import start_exchange, throwaway_key

FED = sample_markets()[0]
D = Decimal


@pytest.fixture(scope="module")
def feed() -> Iterator[ExchangeThread]:
    server = start_exchange()
    yield server
    server.stop()


def fill(
    trade: str, side: Side, price: str, size: str, status: TradeStatus = TradeStatus.CONFIRMED
) -> FillRecord:
    return FillRecord(
        trade_id=trade,
        order_id="0x" + trade,
        market=FED.condition_id,
        token_id=FED.yes_token,
        side=side,
        price=D(price),
        size=D(size),
        fee=D(0),
        liquidity="MAKER",
        status=status,
        venue_ts=1.0,
        recv_ts=1.0,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50", LatencyChoice(0.05, 0.05, None)),
        ("0", LatencyChoice(0.0, 0.0, None)),
        ("order=20", LatencyChoice(0.02, DEFAULT_LATENCY.cancel_s, None)),
        ("cancel=5, feed=12.5", LatencyChoice(DEFAULT_LATENCY.order_entry_s, 0.005, 0.0125)),
        ("ORDER=1,cancel=2,feed=recorded", LatencyChoice(0.001, 0.002, None)),
    ],
)
def test_latency_reads_one_number_or_named_parts_in_milliseconds(text: str, expected: LatencyChoice) -> None:
    assert LatencyChoice.parse(text) == expected
    assert LatencyChoice.parse(str(expected)) == expected  # what settings keep reads back the same


@pytest.mark.parametrize(
    "text",
    ["", "fast", "-1", "nan", "inf", "60001", "order=", "speed=5", "order=1,order=2", "cancel=recorded"],
)
def test_malformed_latency_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid setting POLYMM_LATENCY_MS: latency must be milliseconds"):
        load_settings(latency_ms=text)


def test_the_queue_flag_names_a_model_the_backtest_shares() -> None:
    assert QueueChoice.parse(" Risk-Averse ") == QueueChoice("risk-averse")
    assert QueueChoice.parse("power:2.5") == QueueChoice("power", D("2.5"))
    assert isinstance(queue_model(load_settings()), RiskAverseQueue)
    assert queue_model(load_settings(queue="power:3")) == PowerProbQueue(D(3))
    for bad in ("fifo", "power:", "power:0", "power:-2", "power:abc"):
        with pytest.raises(ConfigError, match="POLYMM_QUEUE: queue model must be risk-averse or power:N"):
            load_settings(queue=bad)


def test_the_latency_setting_becomes_the_simulators_latency() -> None:
    chosen = latency(load_settings(latency_ms="order=30,cancel=10,feed=5"))

    assert (chosen.order_entry_s, chosen.cancel_s, chosen.market_data_s) == (0.03, 0.01, 0.005)
    assert latency(load_settings()).market_data_s is None  # default: market data as received


def test_the_paper_feed_is_local_polymarket_or_an_exchange_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().paper_feed == "local"
    assert load_settings(paper_feed="Polymarket").paper_feed == "polymarket"
    assert load_settings(paper_feed="http://127.0.0.1:9/").paper_feed_url() == "http://127.0.0.1:9"
    monkeypatch.setenv("POLYMM_PAPER_FEED", "polymarket")
    assert load_settings().paper_feed == "polymarket"
    assert load_settings(paper_feed="local").paper_feed == "local"  # an explicit flag wins
    with pytest.raises(ConfigError, match="paper feed must be local, polymarket or an http"):
        load_settings(paper_feed="wss://example.com")


def test_a_url_feed_is_used_as_is_and_polymarket_needs_no_local_exchange() -> None:
    with exchange_for(load_settings(venue="paper", paper_feed="http://127.0.0.1:9"), publish=False) as url:
        assert url == "http://127.0.0.1:9"
    with exchange_for(load_settings(venue="paper", paper_feed="polymarket"), publish=False) as url:
        assert url is None  # the adapter's own Polymarket hosts


def test_the_paper_wallet_is_the_keys_wallet_or_the_zero_address() -> None:
    key = throwaway_key("paper-wallet")
    with_key = load_settings(venue="paper", private_key=SecretStr(key))
    proxy = load_settings(
        venue="paper", private_key=SecretStr(key), signature_type=2, funder="0xABCDEF" + "0" * 34
    )

    assert paper_address(load_settings(venue="paper")) == PAPER_WALLET_WITHOUT_KEY
    assert paper_address(with_key) == signing.address_from_private_key(key).lower()
    assert paper_address(proxy) == "0xabcdef" + "0" * 34
    assert settings_account(with_key) == Account("paper", paper_address(with_key))


def test_a_paper_run_holds_its_own_lock_beside_the_same_wallets_real_run() -> None:
    wallet = "0x" + "12" * 20
    assert run_key(Account("local", wallet)) == wallet  # unchanged for real venues
    assert run_key(Account("paper", wallet)) == f"paper-{wallet}"


def test_paper_holdings_are_the_start_plus_what_the_fills_and_flows_moved() -> None:
    fills = [
        fill("a", Side.BUY, "0.40", "10"),
        fill("b", Side.SELL, "0.45", "4"),
        fill("c", Side.BUY, "0.30", "100", TradeStatus.FAILED),  # reversed: moved nothing
    ]
    merge = FlowRecord(
        flow_id="m1",
        kind=FlowKind.MERGE,
        market=FED.condition_id,
        collateral_delta=D(2),
        yes_delta=D(-2),
        no_delta=D(-2),
        ts=2.0,
    )

    cash, tokens = paper_holdings(D(1000), fills, [merge], {FED.condition_id: FED})

    assert cash == D(1000) - D("4.0") + D("1.80") + D(2)
    assert tokens == {FED.yes_token: D(4), FED.no_token: D(-2)}


async def test_a_paper_venue_starts_from_what_the_ledger_holds(feed: ExchangeThread, tmp_path: Path) -> None:
    # Arrange: an earlier paper run bought 10 YES at 0.40
    settings = load_settings(venue="paper", paper_feed=feed.url, paper_collateral=D(500), data_dir=tmp_path)
    with Ledger.open(tmp_path, account=Account("paper", PAPER_WALLET_WITHOUT_KEY)) as ledger:
        ledger.record_fill(fill("a", Side.BUY, "0.40", "10"))

    # Act
    async with open_venue(settings, SystemClock(), feed.url) as handle:
        balances = await handle.venue.balances([FED.yes_token])
        venue, name, account = handle.venue, handle.name, handle.account

    # Assert: the paper venue over the key-less adapter, funded as the ledger says
    assert isinstance(venue, PaperVenue) and isinstance(venue.data, PolymarketVenue)
    assert venue.data.market_data_only
    assert (name, account) == ("paper", Account("paper", PAPER_WALLET_WITHOUT_KEY))
    assert balances.collateral == D(496)
    assert balances.tokens[FED.yes_token] == D(10)


def test_a_paper_run_s_stop_is_confirmed_by_the_paper_venue_not_the_exchange() -> None:
    paper = engine_config(load_settings(venue="paper"))
    local = engine_config(load_settings())

    assert paper.venue_label == "the paper venue"
    assert local.venue_label == "the exchange"
    report = StopReport(cancelled=2, may_be_open=0, confirmed=True, venue_label=paper.venue_label)
    assert report.summary() == "2 orders cancelled, confirmed by the paper venue"

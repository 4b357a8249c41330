"""`polymm run --venue paper` as a user runs it: a live feed, simulated fills, nothing sent.

The feed is a local exchange this module starts, with busy synthetic flow (takers every quarter of a
second on each market), so a paper run of a few seconds gets fills. The exchange's own request log
(`ServerState.requests`) shows that the run only read market data: no order, no cancel, not even an
API-key derivation reached it. The fills are in the ledger under the paper account and nowhere else,
and `polymm pnl --venue paper` reads them; a real account's fills in the same ledger stay apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest

from polymm_cli.errors import EXIT_USAGE
from polymm_cli.exchange.core import SettlementConfig
from polymm_cli.exchange.flow import FlowConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeConfig, ExchangeThread
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, FillRecord, Side, TradeStatus
from polymm_cli.services.venues import PAPER_WALLET_WITHOUT_KEY
from tests.e2e.support import data_dir, ledger_contents, polymm, polymm_command, polymm_env, start_polymm
from tests.e2e.test_bad_input import assert_ledger_untouched, assert_one_line_error
from tests.e2e.test_dashboard_terminal import COLUMNS, ROWS, Terminal

pytestmark = pytest.mark.slow

FED = sample_markets()[0]
PAPER = Account("paper", PAPER_WALLET_WITHOUT_KEY)
# What a market-data-only client may ask an exchange (ids folded, as the request log keeps them).
MARKET_DATA = {"GET /gamma/markets", "GET /markets/{id}", "GET /book", "POST /books", "WS /ws/market"}


@pytest.fixture(scope="module")
def feed() -> Iterator[ExchangeThread]:
    """A local exchange with busy takers: the live market a paper run reads."""
    server = ExchangeThread(
        ExchangeConfig(
            flow=True,
            settlement=SettlementConfig(delay_s=0.0),
            flow_config=FlowConfig(taker_rate_per_min=240.0, maker_level_size=10.0),
        )
    ).start()
    yield server
    server.stop()


def requests_at(server: ExchangeThread) -> dict[str, int]:
    return server.call(lambda: dict(server.server.state.requests))


def makers_at(server: ExchangeThread) -> set[str]:
    """Every address that ever had an order at the exchange."""
    return server.call(lambda: {o.address.lower() for o in server.server.exchange.orders.values()})


def paper_fills() -> list[FillRecord]:
    with Ledger.open(data_dir(), account=PAPER) as ledger:
        return ledger.fills()


def test_a_paper_run_gets_simulated_fills_from_the_live_feed_and_sends_nothing(feed: ExchangeThread) -> None:
    # Arrange
    before = requests_at(feed)

    # Act
    run = polymm(
        "run", FED.slug, "--venue", "paper", "--paper-feed", feed.url, "--headless", "--duration", "12"
    )

    # Assert: a normal stop, which says what it simulated
    assert run.returncode == 0, run.stderr
    stopped = json.loads(run.stdout.splitlines()[-1])
    assert (stopped["event"], stopped["reason"], stopped["exit_code"]) == ("stopped", "duration", 0)
    assert re.match(
        r"\d+ paper orders? cancelled, \d+ simulated fills?; nothing was sent to the exchange; P&L [+-]\d",
        stopped["summary"],
    ), stopped
    # the fills are the paper account's, and only its
    ledger = ledger_contents()
    assert ledger is not None
    [recorded] = ledger.runs
    assert (recorded.venue, recorded.address, recorded.end_reason) == ("paper", PAPER.wallet, "duration")
    assert ledger.fills, "no simulated fill in 12 s of busy flow"
    assert paper_fills() == ledger.fills
    assert {f.market for f in ledger.fills} == {FED.condition_id}
    assert all(f.liquidity == "MAKER" and f.status is TradeStatus.CONFIRMED for f in ledger.fills)
    # nothing but market data reached the exchange: no order, cancel, key or account read
    after = requests_at(feed)
    asked = {route for route, count in after.items() if count > before.get(route, 0)}
    assert asked and asked <= MARKET_DATA, asked
    assert PAPER.wallet not in makers_at(feed)


def test_pnl_on_paper_reads_the_paper_fills_and_keeps_them_apart_from_a_real_account(
    feed: ExchangeThread,
) -> None:
    # Arrange: a paper run's fills, and a real local account's fill in the same ledger
    run = polymm(
        "run", FED.slug, "--venue", "paper", "--paper-feed", feed.url, "--headless", "--duration", "10"
    )
    assert run.returncode == 0, run.stderr
    fills = paper_fills()
    assert fills
    real = Account("local", "0x" + "ab" * 20)
    with Ledger.open(data_dir(), account=real) as ledger:
        ledger.record_fill(
            FillRecord(
                trade_id="real-1",
                order_id="0xreal",
                market=FED.condition_id,
                token_id=FED.yes_token,
                side=Side.BUY,
                price=Decimal("0.10"),
                size=Decimal(1000),
                fee=Decimal(0),
                liquidity="MAKER",
                status=TradeStatus.CONFIRMED,
                venue_ts=1.0,
                recv_ts=1.0,
            )
        )

    # Act
    mine = polymm("pnl", "--venue", "paper", "--paper-feed", feed.url, "--json")
    every = polymm("pnl", "--venue", "paper", "--paper-feed", feed.url, "--all", "--json")

    # Assert: paper alone, marked to the feed's book; --all lists paper and the real account apart
    assert mine.returncode == 0, mine.stderr
    report = json.loads(mine.stdout)
    assert report["account"] == {"venue": "paper", "wallet": PAPER.wallet}
    [market] = report["markets"]
    assert market["fills"] == len(fills)
    net = sum((f.size if f.side is Side.BUY else -f.size) for f in fills if f.token_id == FED.yes_token)
    assert Decimal(market["yes_position"]) == net
    assert report["marked_to_venue"] is True
    assert every.returncode == 0, every.stderr
    accounts = {
        (a["account"]["venue"], a["account"]["wallet"]): a for a in json.loads(every.stdout)["accounts"]
    }
    assert set(accounts) == {("paper", PAPER.wallet), ("local", real.wallet)}
    assert accounts[("local", real.wallet)]["markets"][0]["yes_position"] == "1000"
    assert accounts[("paper", PAPER.wallet)]["current"] is True


def test_the_paper_dashboard_says_paper_in_its_title(feed: ExchangeThread) -> None:
    # Arrange
    argv = polymm_command("run", FED.slug, "--venue", "paper", "--paper-feed", feed.url, "--duration", "8")
    terminal = Terminal(argv, polymm_env(TERM="xterm", COLUMNS=str(COLUMNS), LINES=str(ROWS)))
    try:
        # Act
        # the status line is drawn last in a frame: wait for it, not only for our quotes
        terminal.wait_for("PAPER", "book (YES)", "inventory and P&L", "◀", "status: quoting", timeout=30)
        dashboard = terminal.text()
        code = terminal.wait_for_exit(timeout=30)
    finally:
        terminal.kill()

    # Assert
    title = next(line for line in dashboard.splitlines() if "PAPER" in line)
    assert "paper trading: simulated fills, nothing is sent — paper wallet 0x0000…0000" in title, dashboard
    assert f"[{FED.slug}]" in dashboard and "status: quoting" in dashboard
    assert code == 0, terminal.text()
    assert re.search(r"stopped \(duration\): \d+ paper orders? cancelled", terminal.text()), terminal.text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--paper-feed", "kraken"],
            "invalid setting POLYMM_PAPER_FEED: paper feed must be local, polymarket",
        ),
        (["--latency-ms", "fast"], "invalid setting POLYMM_LATENCY_MS: latency must be milliseconds"),
        (["--latency-ms", "order=-5"], "invalid setting POLYMM_LATENCY_MS: latency must be milliseconds"),
        (["--queue", "fifo"], "invalid setting POLYMM_QUEUE: queue model must be risk-averse or power:N"),
        (
            ["--paper-collateral", "0"],
            "invalid setting POLYMM_PAPER_COLLATERAL: Input should be greater than 0",
        ),
    ],
    ids=["unknown-feed", "latency-not-a-number", "negative-latency", "unknown-queue", "no-collateral"],
)
def test_bad_paper_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    result = polymm("run", "--venue", "paper", "--duration", "5", *args)

    assert_one_line_error(result, EXIT_USAGE, message)
    assert_ledger_untouched()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--paper-feed", "polymarket", "--duration", "5"], "--paper-feed: only with --venue paper"),
        (["run", "--queue", "power:2", "--duration", "5"], "--queue: only with --venue paper"),
        (["pnl", "--paper-feed", "polymarket"], "--paper-feed: only with --venue paper"),
        (
            ["seed", FED.slug, "--amount", "5", "--venue", "paper"],
            "--venue paper is for run, status, quote, pnl",
        ),
    ],
    ids=["paper-flag-on-a-real-run", "queue-on-a-real-run", "paper-feed-on-real-pnl", "seed-on-paper"],
)
def test_paper_flags_and_commands_outside_paper_are_refused(args: list[str], message: str) -> None:
    result = polymm(*args)

    assert_one_line_error(result, EXIT_USAGE, message)
    assert_ledger_untouched()


def test_a_paper_bot_runs_beside_a_real_bot_on_its_exchange_and_a_paper_halt_stops_only_it() -> None:
    """The paper-versus-real set-up: one data dir, a real run and a paper run on the same market, the
    paper run reading the exchange the real run published; their locks and halt files are apart."""
    # Arrange: a real run quoting on its in-process exchange
    real = start_polymm("run", FED.slug, "--headless", "--duration", "30", POLYMM_EXCHANGE_TAKER_RATE="240")
    paper = None
    try:
        assert real.stdout is not None
        assert '"places"' in real.stdout.readline()
        published = json.loads((data_dir() / "local-exchange.json").read_text())

        # Act: a paper run beside it (default feed: the published exchange), then a paper halt
        paper = start_polymm("run", FED.slug, "--venue", "paper", "--headless", "--duration", "8")
        assert paper.stdout is not None
        first = json.loads(paper.stdout.readline())
        halted = polymm("halt", "--venue", "paper", "--reason", "paper only")
        out, err = paper.communicate(timeout=60)

        # Assert: the paper run quoted the same market on the real run's exchange, and the halt was its
        assert first["market"] == FED.condition_id and first["places"] >= 1
        assert json.loads((data_dir() / "local-exchange.json").read_text()) == published
        assert halted.returncode == 0 and PAPER.wallet in halted.stdout, halted.stderr
        assert paper.returncode == 4, err  # ended halted (errors.EXIT_RISK_HALT)
        stopped = json.loads(out.splitlines()[-1])
        assert stopped["exit_code"] == 4 and "halted: paper only" in stopped["reason"], stopped
        assert real.poll() is None  # the real run goes on, not halted
    finally:
        real.terminate()
        real_out, real_err = real.communicate(timeout=30)
        if paper is not None and paper.poll() is None:
            paper.kill()
    assert real.returncode == 0, real_err
    assert json.loads(real_out.splitlines()[-1])["reason"] == "stopped"
    ledger = ledger_contents()
    assert ledger is not None
    assert sorted(r.venue for r in ledger.runs) == ["local", "paper"]

"""`polymm quote --json` (the quoter's dry run) and `polymm pnl` on a wallet with its pUSD all in tokens."""

from __future__ import annotations

import json
from decimal import Decimal

from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2

from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeConfig, ExchangeThread
from polymm_cli.files import write_atomic
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, FillRecord, Side, TradeStatus
from polymm_cli.services.venues import EXCHANGE_STATE_FILE, LOCAL_KEY_FILE
from tests.conftest import throwaway_key
from tests.e2e.support import account_at_exchange, data_dir, ledger_contents, polymm

FED, BTC, _, _ = sample_markets()  # BTC: the 0.001-tick market
# An explicit --size: the skew tables are quoted without the taper (which an explicit size turns off).
SKEW = [
    "--mid",
    "0.50",
    "--spread",
    "0.04",
    "--size",
    "10",
    "--skew-factor",
    "0.5",
    "--skew-start",
    "0.3",
    "--json",
]


def quotes_by_side(payload: dict[str, object]) -> dict[str, dict[str, str]]:
    quotes = payload["quotes"]
    assert isinstance(quotes, list)
    return {q["side"]: q for q in quotes}


def test_quote_json_at_e_minus_7_of_limit_10_has_the_skew_tables_bid_0_487_and_ask_0_527_or_says_why() -> (
    None
):
    """Seed 004's table at e = -7 (70% of L 10, factor 0.5): YES offset 1.3c -> bid 0.487, NO offset
    2.7c -> ask 0.527. Today the ask is skipped: one fill may add at most 3 shares of short exposure
    (the quoter's post-mortem rule) and the market's minimum is 5. Either way the ask is never quoted
    at another price, and never dropped without a reason."""
    # Act
    result = polymm("quote", BTC.slug, "--position", "-7", "--position-limit", "10", *SKEW)

    # Assert
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert (payload["slug"], payload["tick_size"], payload["mid"], payload["position"]) == (
        BTC.slug,
        "0.001",
        "0.50",
        "-7",
    )
    quotes = quotes_by_side(payload)
    bid = quotes["bid"]
    assert set(bid) == {"side", "token_id", "outcome", "order_side", "price", "yes_price", "size", "reason"}
    assert (bid["token_id"], bid["order_side"], bid["price"], bid["yes_price"]) == (
        BTC.no_token,  # the bid is carried by selling the NO we hold, at 1 - 0.487
        "SELL",
        "0.513",
        "0.487",
    )
    assert BTC.min_order_size <= Decimal(bid["size"]) <= 7  # never more NO than held
    if "ask" in quotes:
        assert quotes["ask"]["yes_price"] == "0.527"
        assert Decimal(quotes["ask"]["size"]) >= BTC.min_order_size
    else:
        [skipped] = payload["skipped"]
        assert skipped["side"] == "ask"
        assert "size 3 (cut by the position limit) below the market minimum 5" in skipped["reason"]
    assert any("inventory skew 0.007" in note for note in payload["notes"])
    assert ledger_contents() is None  # a dry run: nothing recorded


def test_quote_json_at_70_percent_of_the_limit_gives_the_skew_tables_bid_0_487_and_ask_0_527() -> None:
    """The same 70% of the limit (e = -70, L = 100), where both sides can be sized."""
    # Act
    result = polymm("quote", BTC.slug, "--position", "-70", "--position-limit", "100", *SKEW)

    # Assert
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    quotes = quotes_by_side(payload)
    assert set(quotes) == {"bid", "ask"}
    terms = ("token_id", "order_side", "price", "yes_price")
    assert {k: quotes["bid"][k] for k in terms} == {
        "token_id": BTC.no_token,
        "order_side": "SELL",
        "price": "0.513",
        "yes_price": "0.487",
    }
    assert {k: quotes["ask"][k] for k in terms} == {
        "token_id": BTC.no_token,  # no YES to sell: the ask is a BUY of NO at 1 - 0.527
        "order_side": "BUY",
        "price": "0.473",
        "yes_price": "0.527",
    }
    assert all(Decimal(q["size"]) >= BTC.min_order_size for q in quotes.values())
    assert payload["skipped"] == []


def test_pnl_does_not_fund_again_a_local_wallet_whose_pusd_is_all_in_tokens() -> None:
    """A wallet that split its last 10 pUSD into 10 YES + 10 NO has 0 pUSD, but the exchange knows
    it: no command may credit it the starting 1,000 pUSD again (that cash would come from nowhere)."""
    # Arrange: the data dir's wallet, known to the saved exchange state with 0 pUSD and 10 YES + 10 NO
    key = throwaway_key("e2e:all-in-tokens")
    data_dir().mkdir(parents=True)
    write_atomic(data_dir() / LOCAL_KEY_FILE, key + "\n")  # 0600, as polymm keeps it
    address = ClobClient(host="http://unused", chain_id=137, key=key).get_address()
    config = ExchangeConfig(
        flow=False, state_path=data_dir() / EXCHANGE_STATE_FILE, fund=[(address, Decimal(10))]
    )
    with ExchangeThread(config) as server:
        server.call(server.server.exchange.split, address, FED.condition_id, Decimal(10))

    # Act
    result = polymm("pnl", "--json")

    # Assert
    assert result.returncode == 0, result.stderr
    assert Decimal(json.loads(result.stdout)["cash"]) == 0
    account = account_at_exchange([FED])
    assert account.collateral == 0
    assert (account.tokens[FED.yes_token], account.tokens[FED.no_token]) == (10, 10)


def fed_fill(trade_id: str, size: str) -> FillRecord:
    return FillRecord(
        trade_id=trade_id,
        order_id="0x" + "0d" * 32,  # one order id in every account: each is still its own fill
        market=FED.condition_id,
        token_id=FED.yes_token,
        side=Side.BUY,
        price=Decimal("0.40"),
        size=Decimal(size),
        fee=Decimal(0),
        liquidity="MAKER",
        status=TradeStatus.CONFIRMED,
        venue_ts=1_777_000_000.0,
        recv_ts=1_777_000_000.0,
    )


def test_pnl_shows_the_current_venue_and_wallet_and_all_shows_every_account_apart() -> None:
    """One ledger, three accounts with a FED fill each: the data dir's local wallet (10 YES), the
    same key's wallet on Polymarket (20 YES) and a demo wallet (30 YES). `pnl` is the first alone;
    `pnl --all` shows each, never a sum."""
    # Long on purpose: one journey end to end (arrange, act, assert); split, its order would be hidden.
    # Arrange
    key = throwaway_key("e2e:pnl-accounts")
    data_dir().mkdir(parents=True)
    write_atomic(data_dir() / LOCAL_KEY_FILE, key + "\n")  # 0600, as polymm keeps it
    wallet = ClobClient(host="http://unused", chain_id=137, key=key).get_address()
    ours, real, demo = (
        Account("local", wallet),
        Account("polymarket", wallet),
        Account("local", "0x" + "de" * 20),
    )
    for account, size in ((ours, "10"), (real, "20"), (demo, "30")):
        with Ledger.open(data_dir(), account=account) as ledger:
            ledger.record_market(FED, 1_777_000_000.0)
            ledger.record_fill(fed_fill("trade-1", size))

    # Act
    mine = polymm("pnl", "--json")
    everything = polymm("pnl", "--all", "--json")
    text = polymm("pnl")
    all_text = polymm("pnl", "--all")

    # Assert: the current account alone, named; the existing keys unchanged
    for result in (mine, everything, text, all_text):
        assert result.returncode == 0, result.stderr
    payload = json.loads(mine.stdout)
    assert payload["account"] == {"venue": "local", "wallet": wallet.lower()}
    [item] = payload["markets"]
    assert (item["condition_id"], item["yes_position"], item["fills"]) == (FED.condition_id, "10", 1)
    assert {"cash", "realized_pnl", "unrealized_pnl", "fees", "total_pnl", "daily_pnl"} <= set(payload)
    assert "accounts" not in payload
    # --all: every account on its own, the current one marked; another venue's is never marked
    listed = json.loads(everything.stdout)
    assert {k: v for k, v in listed.items() if k != "accounts"} == payload
    positions = {
        (a["account"]["venue"], a["account"]["wallet"]): (
            [m["yes_position"] for m in a["markets"]],
            a["current"],
        )
        for a in listed["accounts"]
    }
    assert positions == {
        ("local", demo.wallet): (["30"], False),
        ("local", wallet.lower()): (["10"], True),
        ("polymarket", wallet.lower()): (["20"], False),
    }
    [polymarket] = [a for a in listed["accounts"] if a["account"]["venue"] == "polymarket"]
    assert not polymarket["marked_to_venue"] and polymarket["markets"][0]["unrealized_pnl"] is None
    assert f"P&L of local wallet {wallet.lower()} (current)" in " ".join(text.stdout.split())
    assert "P&L of polymarket" not in text.stdout
    assert "2 other account(s) in the ledger: polymm pnl --all" in text.stdout
    shown = " ".join(all_text.stdout.split())
    for title in (
        f"local wallet {wallet.lower()} (current)",
        f"polymarket wallet {wallet.lower()}",
        f"local wallet {demo.wallet}",
    ):
        assert f"P&L of {title}" in shown


def test_an_explicit_spread_and_size_give_the_seed_table_exactly_at_zero_position() -> None:
    """Seed 004: mid 0.50, spread 0.04, size 10 on a 0.001-tick market quotes 0.48 / 0.52, size 10.
    The market pays rewards inside 2c; an explicit --spread is never pulled into that band unless
    asked (--reward-band), and no size is ever raised above --size unless asked (--reward-size)."""
    # Act
    result = polymm("quote", BTC.slug, "--mid", "0.50", "--spread", "0.04", "--size", "10", "--json")

    # Assert
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [(q["side"], q["yes_price"], q["size"]) for q in payload["quotes"]] == [
        ("bid", "0.48", "10"),
        ("ask", "0.52", "10"),
    ]
    assert payload["reward_fit"].startswith("off (the spread was set explicitly")


def test_reward_fitting_is_reported_and_applies_only_where_the_user_let_it() -> None:
    default = json.loads(polymm("quote", BTC.slug, "--mid", "0.50", "--json").stdout)
    from_env = polymm("quote", BTC.slug, "--mid", "0.50", "--json", POLYMM_SPREAD="0.04")
    opted_in = json.loads(
        polymm("quote", BTC.slug, "--mid", "0.50", "--spread", "0.04", "--reward-band", "--json").stdout
    )

    assert default["reward_fit"].startswith("band (default")  # the default spread may be refined
    env_payload = json.loads(from_env.stdout)
    assert [q["yes_price"] for q in env_payload["quotes"]] == ["0.48", "0.52"]  # the env is explicit too
    assert [(q["yes_price"], q["size"]) for q in opted_in["quotes"]] == [("0.481", "10"), ("0.519", "10")]
    assert opted_in["reward_fit"] == "band"


def market_045_055_with_our_bid_at_054(server: ExchangeThread) -> ClobClient:
    """Another wallet makes FED 0.45 / 0.55 (100 each); our local wallet (created and funded by a
    first `polymm quote`) rests a 10-share bid at 0.54. Returns our wallet's client."""
    other = ClobClient(host=server.url, chain_id=137, key=throwaway_key("mark-maker"))
    other.set_api_creds(other.create_or_derive_api_key())
    server.call(server.server.exchange.fund, other.get_address(), Decimal(1000))
    server.call(server.server.exchange.split, other.get_address(), FED.condition_id, Decimal(200))
    for price, side in (("0.45", "BUY"), ("0.55", "SELL")):
        other.create_and_post_order(
            OrderArgsV2(token_id=FED.yes_token, price=float(price), size=100, side=side)
        )
    first = polymm("quote", FED.slug, "--exchange-url", server.url)
    assert first.returncode == 0, first.stderr
    we = ClobClient(host=server.url, chain_id=137, key=(data_dir() / LOCAL_KEY_FILE).read_text().strip())
    we.set_api_creds(we.create_or_derive_api_key())
    we.create_and_post_order(OrderArgsV2(token_id=FED.yes_token, price=0.54, size=10, side="BUY"))
    return we


def test_pnl_marks_to_the_book_without_our_own_quotes_as_the_running_engine_does() -> None:
    """10 YES bought at 0.40; the market is 0.45 / 0.55 and our own bid rests at 0.54. The mark is
    0.50 (our bid is not the market), so unrealised P&L is +1.00, not +1.45: the same mark as the
    engine's dashboard (book.mark)."""
    # Arrange: a quiet exchange, another wallet's book, our wallet's bid and our recorded fill
    data_dir().mkdir(parents=True)
    with ExchangeThread(ExchangeConfig(flow=False)) as server:
        we = market_045_055_with_our_bid_at_054(server)
        with Ledger.open(data_dir(), account=Account("local", we.get_address())) as ledger:
            ledger.record_fill(fed_fill("bought-at-0.40", "10"))

        # Act
        result = polymm("pnl", "--json", "--exchange-url", server.url)

    # Assert
    assert result.returncode == 0, result.stderr
    [market] = json.loads(result.stdout)["markets"]
    assert Decimal(market["unrealized_pnl"]) == Decimal("1")


def test_quote_reads_the_book_without_our_own_orders_as_the_running_engine_does() -> None:
    """The market is 0.45 / 0.55 and our own bid rests at 0.54: `polymm quote` prices around 0.50
    (our bid is not the market), not around 0.545."""
    # Arrange
    data_dir().mkdir(parents=True)
    with ExchangeThread(ExchangeConfig(flow=False)) as server:
        market_045_055_with_our_bid_at_054(server)

        # Act
        result = polymm("quote", FED.slug, "--spread", "0.04", "--json", "--exchange-url", server.url)

    # Assert
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert Decimal(payload["mid"]) == Decimal("0.5")
    assert [q["yes_price"] for q in payload["quotes"]] == ["0.48", "0.52"]

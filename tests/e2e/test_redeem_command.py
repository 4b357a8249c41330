"""`polymm redeem` on the local exchange, as a user runs it: seed a market, try to redeem it before it
resolved (refused), resolve it through `POST /_local/resolve`, redeem it by its slug (the listing no
longer shows a closed market, so the slug must still be found), then redeem it again (nothing held:
one line, nothing recorded) — each a `polymm` process; `polymm pnl` and the exchange agree after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.ledger import Ledger
from polymm_cli.model import FlowKind
from tests.conftest import start_exchange
from tests.e2e.support import data_dir, polymm

pytestmark = pytest.mark.slow

FED = sample_markets()[0]


@pytest.fixture
def exchange() -> Iterator[ExchangeThread]:
    server = start_exchange()
    yield server
    server.stop()


def redeem_flows() -> list[tuple[Decimal, Decimal, Decimal]]:
    with Ledger.open(data_dir()) as ledger:
        return [
            (f.collateral_delta, f.yes_delta, f.no_delta)
            for f in ledger.flows(FED.condition_id)
            if f.kind is FlowKind.REDEEM
        ]


def test_redeem_by_slug_after_resolution_pays_the_winner_once_and_pnl_shows_it(
    exchange: ExchangeThread,
) -> None:
    url = ("--exchange-url", exchange.url)
    seeded = polymm("seed", FED.slug, "--amount", "30", "--json", *url)
    assert seeded.returncode == 0, seeded.stderr
    collateral_after_seed = Decimal(json.loads(seeded.stdout)["collateral"])

    # Not resolved yet: refused in one line, nothing recorded
    early = polymm("redeem", FED.slug, *url)
    assert early.returncode == 3, early.stderr
    assert early.stderr.strip() == f"error: {FED.slug} is not resolved yet: nothing to redeem"
    assert redeem_flows() == []

    httpx.post(
        f"{exchange.url}/_local/resolve", json={"condition_id": FED.condition_id, "winner": "NO"}
    ).raise_for_status()

    # Act: redeem by slug (the closed market is no longer in the listing)
    redeemed = polymm("redeem", FED.slug, "--json", *url)

    # Assert: 30 NO paid 30 pUSD, every token gone, one REDEEM flow in the ledger
    assert redeemed.returncode == 0, redeemed.stderr
    report = json.loads(redeemed.stdout)
    assert (report["redeemed"], report["yes"], report["no"]) == ("30", "0", "0")
    assert Decimal(report["collateral"]) == collateral_after_seed + 30
    assert redeem_flows() == [(Decimal(30), Decimal(-30), Decimal(-30))]

    # Act: redeem again, with nothing left
    again = polymm("redeem", FED.slug, *url)

    # Assert: one line, a venue exit, no traceback, nothing more recorded
    assert again.returncode == 3, again.stderr
    assert again.stderr.strip() == f"error: no YES or NO of {FED.slug} held: nothing to redeem"
    assert redeem_flows() == [(Decimal(30), Decimal(-30), Decimal(-30))]

    # pnl: flat in the market, the split's 30 pUSD back (realised 0: paid 30 for 30 pairs, got 30)
    pnl = polymm("pnl", "--json", *url)
    assert pnl.returncode == 0, pnl.stderr
    view = json.loads(pnl.stdout)
    [item] = [m for m in view["markets"] if m["condition_id"] == FED.condition_id]
    assert (item["yes_position"], item["no_position"], item["winner"]) == ("0", "0", "No")
    assert Decimal(item["realized_pnl"]) == 0
    assert Decimal(view["cash"]) == Decimal(report["collateral"])

    # ... and for people on an 80-column terminal: the market's name whole, with its P&L figures
    # (with every column, Rich cut the name to "fed-…")
    narrow = polymm("pnl", *url, COLUMNS="80")
    assert narrow.returncode == 0, narrow.stderr
    [row] = [ln for ln in narrow.stdout.splitlines() if FED.slug in ln]
    cells = [cell.strip() for cell in row.split("│")]
    assert cells[1].startswith(FED.slug) and cells[2:4] == ["0", "0"]  # YES 0, NO 0 beside the name
    assert "realized" in narrow.stdout and "unrealized" in narrow.stdout
    assert max(len(ln) for ln in narrow.stdout.splitlines()) <= 80


def test_redeem_of_a_market_nobody_lists_is_one_line_exit_2(exchange: ExchangeThread) -> None:
    result = polymm("redeem", "nosuchmarket", "--exchange-url", exchange.url)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: unknown market 'nosuchmarket': no condition id, slug or token id matches"
    )

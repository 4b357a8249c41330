"""The market's side arithmetic: which orders are its bid in YES terms, and at what YES price."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from polymm_cli.exchange.markets import sample_markets
from polymm_cli.model import Side

FED = sample_markets()[0]


@pytest.mark.parametrize(
    ("token", "side", "bid"),
    [
        (FED.yes_token, Side.BUY, True),  # BUY YES raises YES - NO
        (FED.no_token, Side.SELL, True),  # SELL NO too
        (FED.yes_token, Side.SELL, False),
        (FED.no_token, Side.BUY, False),
    ],
)
def test_the_bid_is_what_raises_net_exposure(token: str, side: Side, bid: bool) -> None:
    assert FED.is_bid(token, side) is bid


def test_a_no_price_is_its_complement_in_yes_terms() -> None:
    assert FED.yes_price(FED.no_token, D("0.48")) == D("0.52")
    assert FED.yes_price(FED.yes_token, D("0.48")) == D("0.48")

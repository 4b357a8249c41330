"""The local exchange's sample markets: four binary markets that differ where a market maker cares.

Ids are derived deterministically from the slug (keccak), so every start of the exchange, every test
and every data dir agree on them: condition id `0x` + 64 hex, token ids uint256 decimal strings.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from polymm_cli.model import Market, RewardParams


def _digest(text: str) -> bytes:
    # sha3 is in hashlib and good enough for stable ids; ids need not be keccak to look real.
    return hashlib.sha3_256(text.encode()).digest()


def condition_id_for(slug: str) -> str:
    return "0x" + _digest("condition:" + slug).hex()


def token_id_for(slug: str, outcome: str) -> str:
    return str(int.from_bytes(_digest(f"token:{slug}:{outcome}"), "big"))


def make_market(
    slug: str,
    question: str,
    *,
    tick: str,
    min_size: str = "5",
    neg_risk: bool = False,
    reward_spread_cents: str = "0",
    reward_min_size: str = "0",
    reward_daily_rate: str = "0",
    taker_fee_rate: str = "0",
    maker_rebate_rate: str = "0",
    end_date: str = "2026-12-31T00:00:00Z",
    category: str = "",
    neg_risk_market_id: str = "",
) -> Market:
    return Market(
        condition_id=condition_id_for(slug),
        question=question,
        slug=slug,
        yes_token=token_id_for(slug, "Yes"),
        no_token=token_id_for(slug, "No"),
        tick_size=Decimal(tick),
        min_order_size=Decimal(min_size),
        neg_risk=neg_risk,
        rewards=RewardParams(
            max_spread_cents=Decimal(reward_spread_cents),
            min_size=Decimal(reward_min_size),
            daily_rate=Decimal(reward_daily_rate),
        ),
        taker_fee_rate=Decimal(taker_fee_rate),
        maker_rebate_rate=Decimal(maker_rebate_rate),
        end_date=end_date,
        category=category,
        neg_risk_market_id=neg_risk_market_id,
    )


# Where each sample market's synthetic fair value starts.
SAMPLE_START_PRICES: dict[str, Decimal] = {
    "fed-cut-rates-december-2026": Decimal("0.50"),
    "btc-above-150k-end-of-2026": Decimal("0.312"),
    "world-cup-2026-winner-brazil": Decimal("0.18"),
    "sun-rises-tomorrow-2026-12-01": Decimal("0.95"),
}


def sample_markets() -> list[Market]:
    """The default set: a 0.01 market near 0.50, a 0.001 market, a neg-risk market, one near 0.95.

    The first three charge taker fees; the crypto and the sports market pay maker rebates on them
    (a share of the fees, `maker_rebate_rate`), as their real counterparts do."""
    return [
        make_market(
            "fed-cut-rates-december-2026",
            "Will the Fed cut rates at its December 2026 meeting?",
            tick="0.01",
            reward_spread_cents="3.5",
            reward_min_size="20",
            reward_daily_rate="50",
            taker_fee_rate="0.04",
            category="Economics",
        ),
        make_market(
            "btc-above-150k-end-of-2026",
            "Will Bitcoin trade above $150,000 on December 31, 2026?",
            tick="0.001",
            reward_spread_cents="2",
            reward_min_size="50",
            reward_daily_rate="25",
            taker_fee_rate="0.07",
            maker_rebate_rate="0.20",  # crypto markets return 20% of taker fees to makers (§9)
            category="Crypto",
        ),
        make_market(
            "world-cup-2026-winner-brazil",
            "Will Brazil win the 2026 FIFA World Cup?",
            tick="0.01",
            neg_risk=True,
            reward_spread_cents="3",
            reward_min_size="25",
            reward_daily_rate="100",
            taker_fee_rate="0.05",
            maker_rebate_rate="0.15",  # sports: 15% since 2026-07-10 (§9)
            category="Sports",
            neg_risk_market_id="0x" + _digest("neg-risk:world-cup-2026-winner").hex(),
        ),
        make_market(
            "sun-rises-tomorrow-2026-12-01",
            "Will the sun rise over Greenwich on December 1, 2026?",
            tick="0.01",
            min_size="5",
            category="Other",
        ),
    ]

"""The local exchange's income desk: it scores every maker for liquidity rewards, keeps the taker
fees that fund maker rebates, and pays both at the end of each epoch.

Rewards (docs/protocol.md §11): the book is sampled once per sample interval (a minute by default,
at a seeded random moment inside it, as Polymarket samples), every maker's resting orders scored
with the documented maths (`rewards.book_q_min`, one copy for the quoter's estimate and for this
venue), each maker's `Q_min` normalised by the sample's total, and the normalised shares summed
over the epoch. At the epoch's end each maker is paid `Q_epoch / Σ Q_epoch` of the market's pool
for the epoch: `daily_rate × epoch length / one day`.

Maker rebates (§9): every settled match of a market with a rebate rate adds its taker fee to the
market's fee pot and, for each maker it filled, the fill's size weighted by the fee curve
`(p(1 - p))^e` to that maker's volume. At the epoch's end each maker is paid
`rebate_rate × fees × its weight / Σ weights`.

Epochs are aligned to multiples of the epoch length since the unix epoch (a day: 00:00 UTC, when
Polymarket pays); a short epoch (`--reward-epoch-s`) lets a test or a demo see a payout. An epoch
shorter than ten sample intervals is sampled ten times. The scoring midpoint is the YES book's
midpoint (Polymarket's "size-cutoff-adjusted" midpoint is unconfirmed, §11); orders count from
the first sample they rest at (no minimum resting time). Unlike Polymarket there is no $1 minimum
payout (a short epoch's pool is small); amounts are whole base units (6 decimals), rounded down so
a pool is never overpaid.

Must not: move balances (the exchange credits what `close_epochs` returns), read a clock (every time
is passed in), or draw from the exchange's own random stream (its ids and the flow stay the same).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from polymm_cli.model import MICRO, ZERO, Market, fee_curve
from polymm_cli.rewards import book_q_min

PayoutKind = Literal["reward", "rebate"]
DAY_S = 86_400.0
DEFAULT_SAMPLE_S = 60.0
MIN_SAMPLES_PER_EPOCH = 10


@dataclass(frozen=True, slots=True)
class IncomeConfig:
    """How often the exchange pays (`epoch_s`) and how often it samples the books for rewards."""

    epoch_s: float = DAY_S
    sample_s: float = DEFAULT_SAMPLE_S

    def __post_init__(self) -> None:
        if not self.epoch_s > 0 or not self.sample_s > 0:
            raise ValueError("the reward epoch and the sample interval must be positive")

    @property
    def interval_s(self) -> float:
        """The sample interval in use: `sample_s`, or a tenth of a shorter epoch."""
        return min(self.sample_s, self.epoch_s / MIN_SAMPLES_PER_EPOCH)


@dataclass(frozen=True, slots=True)
class PayoutRecord:
    """One payment the exchange made: a maker's rewards or rebates of one market for one epoch."""

    payout_id: str
    kind: PayoutKind
    maker: str  # the address credited (lower case)
    condition_id: str
    epoch: int  # the epoch's index: it ran from epoch x epoch_s to (epoch + 1) x epoch_s
    epoch_start: float
    epoch_end: float  # when it was paid
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ScoredOrder:
    """A resting order as the scorer sees it: its maker, and its price and size in YES terms."""

    maker: str
    yes_is_bid: bool
    yes_price: Decimal
    size: Decimal


@dataclass(slots=True)
class _Epoch:
    """What one open epoch has accumulated, per market and maker."""

    index: int
    q: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # cid -> maker -> Σ Q_normal
    fees: dict[str, Decimal] = field(default_factory=dict)  # cid -> taker fees of settled matches
    volume: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # cid -> maker -> weighted


def _floor6(amount: Decimal) -> Decimal:
    return amount.quantize(MICRO, rounding=ROUND_DOWN)


def sample_q(orders: Iterable[ScoredOrder], market: Market, mid: Decimal) -> dict[str, Decimal]:
    """Every maker's Q_min in one sample of one market: its own orders scored alone, per §11."""
    by_maker: dict[str, tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]] = {}
    for order in orders:
        bids, asks = by_maker.setdefault(order.maker, ([], []))
        (bids if order.yes_is_bid else asks).append((order.yes_price, order.size))
    scores: dict[str, Decimal] = {}
    for maker, (bids, asks) in by_maker.items():
        bids.sort(key=lambda level: -level[0])  # best first, as book_q_min reads a book
        asks.sort(key=lambda level: level[0])
        q = book_q_min(bids, asks, market.rewards, mid)
        if q > ZERO:
            scores[maker] = q
    return scores


class IncomeDesk:
    """The exchange's reward scoring and rebate accounting, and the payouts it made (a record)."""

    def __init__(self, config: IncomeConfig, *, seed: int, salt: bytes, now: float) -> None:
        self.config = config
        self._rng = random.Random(f"rewards:{seed}")
        self._salt = salt
        self.payouts: list[PayoutRecord] = []
        self._epoch = _Epoch(self.epoch_of(now))
        self.next_sample = self._draw_sample_time(now)

    # -- time ---------------------------------------------------------------------------------------

    def epoch_of(self, ts: float) -> int:
        return int(ts // self.config.epoch_s)

    def epoch_end(self, index: int) -> float:
        return (index + 1) * self.config.epoch_s

    def _draw_sample_time(self, after: float) -> float:
        """A random moment inside the sample interval after the one `after` falls in."""
        interval = self.config.interval_s
        start = (after // interval + 1) * interval
        return start + self._rng.random() * interval

    def due_samples(self, now: float) -> bool:
        """Whether a sample is due; the caller scores once and calls `sampled(now)`. A server that
        was down for hours samples once on its return, not once per missed minute."""
        return now >= self.next_sample

    def sampled(self, now: float) -> None:
        self.next_sample = self._draw_sample_time(now)

    # -- accumulation ---------------------------------------------------------------------------------

    def add_sample(self, condition_id: str, scores: dict[str, Decimal]) -> None:
        """One sample's Q_min per maker: each adds its share of the sample (Q_normal) to the epoch."""
        total = sum(scores.values(), ZERO)
        if total <= ZERO:
            return
        acc = self._epoch.q.setdefault(condition_id, {})
        for maker, q in scores.items():
            acc[maker] = acc.get(maker, ZERO) + q / total

    def add_match(
        self, market: Market, taker_fee: Decimal, maker_fills: Iterable[tuple[str, Decimal, Decimal]]
    ) -> None:
        """A settled match: its taker fee funds the rebate pot, each (maker, size, price) fill adds
        its fee-curve-weighted volume. Markets without a rebate rate are not tracked."""
        if market.maker_rebate_rate <= ZERO or taker_fee <= ZERO:
            return
        cid = market.condition_id
        self._epoch.fees[cid] = self._epoch.fees.get(cid, ZERO) + taker_fee
        volume = self._epoch.volume.setdefault(cid, {})
        for maker, size, price in maker_fills:
            key = maker.lower()  # one maker, however its address was spelled when it signed
            volume[key] = volume.get(key, ZERO) + size * fee_curve(price, market.fee_exponent)

    # -- payment ---------------------------------------------------------------------------------------

    def close_epochs(self, now: float, markets: dict[str, Market]) -> list[PayoutRecord]:
        """Pay every epoch that ended at or before `now`; the new payouts (the caller credits them)."""
        paid: list[PayoutRecord] = []
        while now >= self.epoch_end(self._epoch.index):
            paid.extend(self._pay(self._epoch, markets))
            self._epoch = _Epoch(max(self._epoch.index + 1, self.epoch_of(now)))
        self.payouts.extend(paid)
        return paid

    def _pay(self, epoch: _Epoch, markets: dict[str, Market]) -> Iterator[PayoutRecord]:
        share = Decimal(repr(self.config.epoch_s)) / Decimal(repr(DAY_S))
        for cid, q in sorted(epoch.q.items()):
            market = markets.get(cid)
            if market is not None:
                yield from self._split("reward", epoch.index, cid, market.rewards.daily_rate * share, q)
        for cid, volume in sorted(epoch.volume.items()):
            market = markets.get(cid)
            if market is not None:
                pot = market.maker_rebate_rate * epoch.fees.get(cid, ZERO)
                yield from self._split("rebate", epoch.index, cid, pot, volume)

    def _split(
        self, kind: PayoutKind, index: int, cid: str, pool: Decimal, weights: dict[str, Decimal]
    ) -> Iterator[PayoutRecord]:
        total = sum(weights.values(), ZERO)
        if pool <= ZERO or total <= ZERO:
            return
        for maker, weight in sorted(weights.items()):
            amount = _floor6(pool * weight / total)
            if amount > ZERO:
                yield PayoutRecord(
                    payout_id=self._payout_id(kind, index, cid, maker),
                    kind=kind,
                    maker=maker,
                    condition_id=cid,
                    epoch=index,
                    epoch_start=index * self.config.epoch_s,
                    epoch_end=self.epoch_end(index),
                    amount=amount,
                )

    def _payout_id(self, kind: str, index: int, cid: str, maker: str) -> str:
        """Unique per payout and per state file (the salt): a fresh exchange never reuses one."""
        digest = hashlib.sha256(self._salt + f"{kind}:{index}:{cid}:{maker}".encode()).hexdigest()
        return f"{kind}-{index}-{digest[:16]}"

    def payouts_to(self, maker: str, kind: PayoutKind | None = None) -> list[PayoutRecord]:
        wanted = maker.lower()
        return [p for p in self.payouts if p.maker == wanted and (kind is None or p.kind == kind)]

    # -- state file ------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        epoch = self._epoch
        return {
            "epoch_s": self.config.epoch_s,
            "rng": repr(self._rng.getstate()),
            "next_sample": self.next_sample,
            "epoch": epoch.index,
            "q": {cid: {m: str(v) for m, v in q.items()} for cid, q in epoch.q.items()},
            "fees": {cid: str(v) for cid, v in epoch.fees.items()},
            "volume": {cid: {m: str(v) for m, v in vol.items()} for cid, vol in epoch.volume.items()},
            "payouts": [{**asdict(p), "amount": str(p.amount)} for p in self.payouts],
        }

    def restore(self, data: dict[str, Any], rng_state: tuple[Any, ...]) -> None:
        """Continue from a saved desk; an open epoch saved under another epoch length starts afresh."""
        self.payouts = [
            PayoutRecord(**{**p, "amount": Decimal(p["amount"])}) for p in data.get("payouts", [])
        ]
        if float(data.get("epoch_s", 0)) != self.config.epoch_s:
            return
        self._rng.setstate(rng_state)
        self.next_sample = float(data["next_sample"])
        self._epoch = _Epoch(
            int(data["epoch"]),
            q={cid: {m: Decimal(v) for m, v in q.items()} for cid, q in data["q"].items()},
            fees={cid: Decimal(v) for cid, v in data["fees"].items()},
            volume={cid: {m: Decimal(v) for m, v in vol.items()} for cid, vol in data["volume"].items()},
        )

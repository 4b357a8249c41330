"""The calibration check of the synthetic flow: measure a flow config in virtual time, hold it to bands.

Owns `measure` (a `LocalExchange` and a `SyntheticFlow` on a `ManualClock`, stepped from one flow event
to the next, its tape recorded from the exchange's own events and reduced by `tapestats`), the bands
per regime taken from real Polymarket captures (`BANDS`; figures and sources in docs/market-world.md,
"Calibration"), and `out_of_band`, the list of figures a measurement misses.

Must not: read the wall clock, or tune the flow (the presets live in `regimes`; this only judges).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from polymm_cli.clock import ManualClock
from polymm_cli.exchange.core import LocalExchange
from polymm_cli.exchange.events import BookEvent, ExchangeEvent, LastTradeEvent
from polymm_cli.exchange.flow import FlowConfig, SyntheticFlow
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.tapestats import STAT_NAMES, Print, Tape, TapeStats, Top, tape_stats
from polymm_cli.model import Market, Side

__all__ = [
    "BANDS",
    "STAT_NAMES",
    "Band",
    "Miss",
    "TapeStats",
    "measure",
    "out_of_band",
    "record",
]

WARMUP_S = 20.0  # the flow's makers build the book first; the tape starts after
_ADVANCE_EVERY_S = 1.0  # settlement and housekeeping of the exchange, in virtual seconds


class _Recorder:
    """Listens to the exchange: the market's prints and YES tops, once the tape has started."""

    def __init__(self, market: Market, start: float) -> None:
        self.market = market
        self.start = start
        self.prints: list[Print] = []
        self.tops: list[Top] = []
        self.book_updates = 0
        self._bids: dict[Decimal, Decimal] = {}
        self._asks: dict[Decimal, Decimal] = {}

    def __call__(self, event: ExchangeEvent) -> None:
        if isinstance(event, LastTradeEvent) and event.market == self.market.condition_id:
            self._trade(event)
        elif isinstance(event, BookEvent) and event.market == self.market.condition_id:
            self._book(event)

    def _trade(self, event: LastTradeEvent) -> None:
        if event.timestamp < self.start:
            return
        is_yes = event.token_id == self.market.yes_token
        bought_yes = (event.side is Side.BUY) == is_yes
        price = event.price if is_yes else 1 - event.price
        self.prints.append(Print(event.timestamp, float(price), float(event.size), 1 if bought_yes else -1))

    def _book(self, event: BookEvent) -> None:
        yes = [c for c in event.changes if c.token_id == self.market.yes_token]
        if not yes:
            return
        for change in yes:
            levels = self._bids if change.side is Side.BUY else self._asks
            if change.size > 0:
                levels[change.price] = change.size
            else:
                levels.pop(change.price, None)
        if event.timestamp < self.start:
            return
        self.book_updates += len(yes)
        bid, ask = yes[-1].best_bid, yes[-1].best_ask
        self.tops.append(
            Top(
                event.timestamp,
                None if bid is None else float(bid),
                None if ask is None else float(ask),
                None if bid is None else float(self._bids.get(bid, 0)),
                None if ask is None else float(self._asks.get(ask, 0)),
            )
        )


def record(config: FlowConfig, *, minutes: float, seed: int = 1, market: Market | None = None) -> Tape:
    """The tape of `minutes` virtual minutes of the flow alone on one market (after a warm-up)."""
    market = market or sample_markets()[0]
    clock = ManualClock()
    exchange = LocalExchange([market], clock, seed=seed, api_secret=b"calibration", id_salt=b"calibration")
    flow = SyntheticFlow(exchange, clock, config, seed=seed)
    start = clock.now() + WARMUP_S
    end = start + minutes * 60.0
    recorder = _Recorder(market, start)
    exchange.add_listener(recorder)
    next_advance = clock.now()
    while (due := flow.next_event_time()) is not None and due <= end:
        if due > clock.now():
            clock.set(due)
        flow.step(due)
        if due >= next_advance:
            exchange.advance()
            next_advance = due + _ADVANCE_EVERY_S
    exchange.remove_listener(recorder)
    return Tape(start, end, float(market.tick_size), recorder.prints, recorder.tops, recorder.book_updates)


def measure(config: FlowConfig, *, minutes: float, seed: int = 1, market: Market | None = None) -> TapeStats:
    """Every calibration figure of the flow `config`, over `minutes` virtual minutes with `seed`."""
    return tape_stats(record(config, minutes=minutes, seed=seed, market=market))


# -- bands --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Band:
    """Where a figure must land (inclusive), and which real capture the range came from."""

    low: float
    high: float
    source: str

    def holds(self, value: float | None) -> bool:
        return value is not None and self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class Miss:
    """A figure outside its band (value None: the synthetic tape could not measure it)."""

    stat: str
    value: float | None
    band: Band

    def __str__(self) -> str:
        shown = "not measured" if self.value is None else f"{self.value:.4g}"
        return f"{self.stat} = {shown}, band [{self.band.low:g}, {self.band.high:g}] ({self.band.source})"


BANDS: Mapping[str, Mapping[str, Band]] = {}


def out_of_band(
    stats: TapeStats, regime: str, bands: Mapping[str, Mapping[str, Band]] | None = None
) -> list[Miss]:
    """The figures of `stats` outside the bands of `regime` (figures without a band are not judged)."""
    table = (BANDS if bands is None else bands)[regime]
    values = stats.as_dict()
    return [Miss(name, values[name], band) for name, band in table.items() if not band.holds(values[name])]

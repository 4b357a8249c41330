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
from polymm_cli.exchange.flow import SyntheticFlow
from polymm_cli.exchange.flow_config import FlowConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.tapestats import STAT_NAMES, Print, Tape, TapeStats, Top, tape_stats
from polymm_cli.model import Market, Side

__all__ = [
    "BANDS",
    "CAPTURES",
    "FINE_TICK_SPREAD_CENTS",
    "REAL_RANGES",
    "STAT_NAMES",
    "Band",
    "Miss",
    "RealRange",
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


@dataclass(frozen=True, slots=True)
class RealRange:
    """A figure's range (min and max over markets or pages) in one real capture, as
    `python -m bench.calibration_sources` prints it; `capture` names its reader there."""

    capture: str
    low: float
    high: float


CAPTURES: Mapping[str, str] = {
    "tickscope": "the Tickscope NHL game tape, June 2026 (4 active YES/NO pairs, 19.9 min)",
    "nyc": "the NYC-mayor trade tape, October 2025 (5 pages of 1,900 trades)",
    "fed": "the Fed top of book, October 2025 (16 days of snapshots)",
    "crypto": "the selcuk crypto up/down trade tapes, March 2026 (11 market bursts of 40-55 s)",
    "crypto-books": "the selcuk crypto up/down book snapshots, March 2026 (11 markets)",
    "books-0.01": "every 0.01-tick capture with a book (Tickscope, selcuk, Fed)",
}

_TS = {
    "trades_per_min": (3.81, 27.62),
    "prints_per_event": (1.038, 1.155),
    "size_median": (17.32, 36.0),
    "size_p90": (156.1, 428.0),
    "size_p99": (1521.0, 5859.0),
    "tail_index": (0.7679, 1.151),
    "sign_ac1_prints": (0.2343, 0.6175),
    "sign_ac1_events": (0.1706, 0.5587),
    "interarrival_cv": (1.583, 2.891),
    "fano_60s": (5.35, 11.68),
    "spread_cents": (1.0, 5.0),
    "spread_ticks_mean": (1.09, 5.466),
    "depth_at_best": (46.0, 5818.0),
    "book_updates_per_min": (1072.0, 2857.0),
    "mid_vol_1s": (0.5604, 1.058),
    "mid_vol_10s": (1.774, 3.279),
    "mid_vol_60s": (4.658, 8.495),
    "mid_vol_300s": (10.48, 20.5),
    "jumps_per_hour": (21.05, 81.21),
    "impact_0_5s": (0.1037, 0.9381),
    "impact_10s": (0.3019, 3.601),
}
_NYC = {
    "trades_per_min": (2.569, 5.849),
    "size_median": (2.0, 96.1),
    "size_p90": (803.4, 1978.0),
    "size_p99": (5000.0, 11280.0),
    "tail_index": (0.8417, 2.004),
    "interarrival_cv": (1.61, 2.596),
    "fano_60s": (4.373, 9.575),
}
_FED = {
    "spread_cents": (1.0, 1.0),
    "spread_ticks_mean": (1.51, 1.51),
    "depth_at_best": (2620.0, 2620.0),
    "mid_vol_300s": (0.3142, 0.3142),
}
_CRYPTO = {
    "trades_per_min": (45.0, 1077.0),
    "prints_per_event": (1.018, 1.106),
    "size_median": (5.0, 10.0),
    "size_p90": (12.58, 56.1),
    "size_p99": (25.54, 411.1),
    "tail_index": (0.5312, 2.434),
    "sign_ac1_prints": (0.09969, 0.3671),
    "sign_ac1_events": (0.07762, 0.3375),
    "interarrival_cv": (1.111, 1.835),
}
_CRYPTO_BOOKS = {"spread_cents": (1.0, 1.0), "spread_ticks_mean": (1.0, 1.41), "depth_at_best": (27.3, 322.7)}
_BOOKS_001 = {"spread_ticks_mean": (1.0, 5.466), "depth_at_best": (27.3, 5818.0)}


def _ranges(capture: str, table: Mapping[str, tuple[float, float]], *names: str) -> dict[str, RealRange]:
    return {n: RealRange(capture, *table[n]) for n in (names or tuple(table))}


REAL_RANGES: Mapping[str, Mapping[str, RealRange]] = {
    "quiet": {
        **_ranges("fed", _FED),
        **_ranges("nyc", _NYC, "size_median", "size_p90", "tail_index", "interarrival_cv"),
    },
    "active": {**_ranges("nyc", _NYC), **_ranges("books-0.01", _BOOKS_001)},
    "in-play": _ranges("tickscope", _TS),
    "crypto-short": {**_ranges("crypto", _CRYPTO), **_ranges("crypto-books", _CRYPTO_BOOKS)},
}
"""The real figures each regime's bands come from (what a capture cannot measure has none)."""

# How far a band reaches past the real range, and why: a synthetic tape is one market over tens of
# minutes, its figures as noisy as one market's of the capture, so scale figures (rates, sizes, depth,
# volatility, counts) get a factor, figures near 1 a smaller one, signed ones an absolute margin.
_FACTOR: Mapping[str, float] = {
    "prints_per_event": 1.2,
    "interarrival_cv": 1.2,
    "spread_cents": 1.2,
    "spread_ticks_mean": 1.2,
}
_SCALE_FACTOR = 1.5
_SINGLE_TAPE_FACTOR = 2.0  # the Fed capture is one market: its one figure gets a wider band
_MARGIN: Mapping[str, float] = {
    "sign_ac1_prints": 0.1,
    "sign_ac1_events": 0.1,
    "impact_0_5s": 0.15,
    "impact_10s": 0.15,
}


def _band(stat: str, real: RealRange) -> Band:
    label = CAPTURES[real.capture]
    if stat in _MARGIN:
        margin = _MARGIN[stat]
        return Band(
            real.low - margin, real.high + margin, f"{label}: {real.low:g} to {real.high:g}, +/- {margin:g}"
        )
    factor = _FACTOR.get(stat, _SCALE_FACTOR)
    if real.low == real.high:
        factor = max(factor, _SINGLE_TAPE_FACTOR if stat not in _FACTOR else 1.5)
    low = (
        max(real.low / factor, 1.0)
        if stat in ("prints_per_event", "spread_ticks_mean")
        else real.low / factor
    )
    shown = f"{real.low:g}" if real.low == real.high else f"{real.low:g} to {real.high:g}"
    return Band(low, real.high * factor, f"{label}: {shown}, x/÷ {factor:g}")


BANDS: Mapping[str, Mapping[str, Band]] = {
    regime: {stat: _band(stat, real) for stat, real in table.items()} for regime, table in REAL_RANGES.items()
}
"""regime -> figure -> band: where a preset of that regime must land."""

FINE_TICK_SPREAD_CENTS = Band(
    0.3,
    15.5,
    "recorded books of 0.001-tick markets, 2024-2026: 0.1, 0.3, 9.7 and 15.5 c (the one-tick 0.1 c "
    "book left below the band: a one-tick spread is what the flow did before, and rare); the "
    "Tickscope 0.001 pair: 4 c",
)
"""The median spread of any preset on a 0.001-tick market (the regimes' bands are for 0.01 markets)."""


def out_of_band(
    stats: TapeStats, regime: str, bands: Mapping[str, Mapping[str, Band]] | None = None
) -> list[Miss]:
    """The figures of `stats` outside the bands of `regime` (figures without a band are not judged)."""
    table = (BANDS if bands is None else bands)[regime]
    values = stats.as_dict()
    return [Miss(name, values[name], band) for name, band in table.items() if not band.holds(values[name])]

"""Many markets by rule (`polymm run --select RULES --top N`): the listing read as `selection.Candidate`s,
the first choice, and the `Chooser` the engine's re-selection calls every `--reselect-min` minutes.

The listing's own figures (reward pool, volume, tick, sizes, end date, category) are read first and
the rules on them applied before any book is fetched, so a venue listing thousands of markets costs
one book request per market that could still pass and can be quoted (plus those held). Book figures
(mid, spread, liquidity, our estimated reward) are read from the book without our own orders: our
quotes must not tighten the spread a rule reads. A market our settings cannot quote (size below its
minimum, spread below its tick) is never chosen, with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from polymm_cli.book import external_levels, own_levels
from polymm_cli.clock import Clock
from polymm_cli.engine.fleet import Reselection
from polymm_cli.errors import UsageError
from polymm_cli.model import Market
from polymm_cli.quoter import QuoteParams
from polymm_cli.selection import (
    Candidate,
    Choice,
    Ranking,
    Rule,
    SelectionError,
    choose,
    failed_rule,
    parse_rank,
    parse_rules,
)
from polymm_cli.services.markets import book_liquidity, estimate_reward
from polymm_cli.services.trading import check_params_for
from polymm_cli.venues.base import OpenOrder, Venue

DEFAULT_TOP = 5
DEFAULT_RANKING = Ranking("ours")  # the reward our quotes would earn, as `markets list --sort rewards`
DEFAULT_RESELECT_MIN = 15.0


@dataclass(frozen=True, slots=True)
class SelectOptions:
    """`--select`, `--top`, `--rank`, `--reselect-min`, `--liquidate-dropped`."""

    rules: tuple[Rule, ...]
    top: int = DEFAULT_TOP
    ranking: Ranking = DEFAULT_RANKING
    reselect_s: float = DEFAULT_RESELECT_MIN * 60  # 0: choose once
    liquidate_dropped: bool = False

    def describe(self) -> str:
        return f"--select {','.join(str(r) for r in self.rules)} --top {self.top} --rank {self.ranking}"


def select_options(
    select: str | None,
    *,
    markets: list[str],
    top: int | None,
    rank: str | None,
    reselect_min: float | None,
    liquidate_dropped: bool,
) -> SelectOptions | None:
    """`run`'s selection flags checked together; UsageError (one line) for any that cannot be used."""
    if select is None:
        given = [
            flag
            for flag, value in (
                ("--top", top),
                ("--rank", rank),
                ("--reselect-min", reselect_min),
                ("--liquidate-dropped", liquidate_dropped or None),
            )
            if value is not None
        ]
        if given:
            raise UsageError(f"{', '.join(given)}: only with --select")
        return None
    if markets:
        raise UsageError("name markets or choose them with --select, not both")
    if reselect_min is not None and not (reselect_min >= 0 and math.isfinite(reselect_min)):
        raise UsageError(f"--reselect-min must be 0 (never) or more minutes, got {reselect_min:g}")
    if top is not None and top < 1:
        raise UsageError(f"--top must be at least 1, got {top}")
    try:
        rules = parse_rules(select)
        ranking = parse_rank(rank) if rank is not None else DEFAULT_RANKING
    except SelectionError as exc:
        raise UsageError(str(exc)) from None
    return SelectOptions(
        rules=rules,
        top=top if top is not None else DEFAULT_TOP,
        ranking=ranking,
        reselect_s=(reselect_min if reselect_min is not None else DEFAULT_RESELECT_MIN) * 60,
        liquidate_dropped=liquidate_dropped,
    )


class MarketSelector:
    """Reads the venue's listing into candidates and chooses; one per run."""

    def __init__(self, venue: Venue, clock: Clock, params: QuoteParams, options: SelectOptions) -> None:
        self.venue = venue
        self.clock = clock
        self.params = params
        self.options = options
        self._names: dict[str, str] = {}

    async def choose(self, held: tuple[str, ...] = ()) -> Choice:
        now = self.clock.now()
        listed = await self.venue.markets()
        self._names = {m.condition_id: m.slug or m.condition_id for m in listed}
        listing_rules = [r for r in self.options.rules if not r.needs_book]
        unquotable = self._unquotable(listed)
        worth_a_book = [
            m
            for m in listed
            if m.condition_id in held
            or (m.condition_id not in unquotable and failed_rule(Candidate(m), listing_rules, now) is None)
        ]
        mine = await self.venue.open_orders() if worth_a_book else []
        candidates = [await self._candidate(m, mine) for m in worth_a_book]
        booked = {m.condition_id for m in worth_a_book}
        candidates += [Candidate(m) for m in listed if m.condition_id not in booked]  # fail on the listing
        return choose(
            candidates,
            self.options.rules,
            top=self.options.top,
            ranking=self.options.ranking,
            now=now,
            held=held,
            excluded=unquotable,
        )

    async def __call__(self, held: tuple[str, ...]) -> Reselection:
        """The engine's `Chooser`."""
        choice = await self.choose(held)
        return Reselection([c.market for c in choice.chosen], choice.dropped)

    async def first(self) -> list[Market]:
        """The markets a run starts with; UsageError (exit 2) when none passes."""
        choice = await self.choose()
        if not choice.chosen:
            example = next((f"{self._names.get(c, c)}: {why}" for c, why in choice.rejected.items()), "")
            listed = f"{len(choice.rejected)} listed" + (f"; e.g. {example}" if example else "")
            raise UsageError(f"no listed market passes {self.options.describe()} ({listed})")
        return [c.market for c in choice.chosen]

    async def _candidate(self, market: Market, mine: list[OpenOrder]) -> Candidate:
        book = await self.venue.book(market.yes_token)
        ours = own_levels(
            market,
            ((o.token_id, o.side, o.price, o.remaining) for o in mine if o.market == market.condition_id),
        )
        bids, asks = external_levels(book.bids, book.asks, ours, market.min_order_size)
        if not bids or not asks:
            return Candidate(market, liquidity=book_liquidity(bids, asks), ours=Decimal(0))
        return Candidate(
            market,
            mid=(bids[0].price + asks[0].price) / 2,
            spread=asks[0].price - bids[0].price,
            liquidity=book_liquidity(bids, asks),
            ours=estimate_reward(market, bids, asks, self.params),
        )

    def _unquotable(self, listed: list[Market]) -> dict[str, str]:
        why: dict[str, str] = {}
        for m in listed:
            try:
                check_params_for(m, self.params)
            except UsageError as exc:
                why[m.condition_id] = str(exc)
        return why

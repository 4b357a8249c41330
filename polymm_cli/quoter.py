"""Quoting maths: from the YES book top and our inventory to the quotes we want resting, and why.

Owns the rules that turn a book update into target quotes:

- the mid: the YES book mid, the size-weighted microprice, or a `polymm quote --mid P` override;
  with no two-sided book and no override nothing is quoted (never a guessed price);
- sides another rule pulled (`QuoteInput.blocked`: a jump cool-down, a trend filter, an after-fill
  cool-down, a stop-loss): each is skipped with the reason given, before anything else is computed
  for it (market-level reasons - no book, crossed book, closed market - still come first and skip
  both sides);
- the base offset (spread / 2 x `QuoteInput.spread_multiplier`: volatility widening is decided
  upstream, 1 = as configured, a multiplier <= 0 quotes nothing), each side's base offset widened
  by its own `SideRisk.widen` (toxic flow: the markouts of our fills, measured upstream), and the
  inventory skew of seed 004 Phase 2: with r = clamp(e / L), once |r| >= skew_start the side that
  reduces exposure moves |r| x factor x base closer to the mid and the other side moves away by the
  same amount; plus its volatility term |e| x skew_gamma x sigma^2 x skew_horizon_s (sigma =
  `QuoteInput.volatility`, measured upstream), the sum capped at the base offset;
- tick rounding (bid DOWN, ask UP, so they never cross or touch), the [tick, 1 - tick] clamp and
  the post-only clamp (never at or through the opposite best);
- the position limit: no bid at e >= +L, no ask at e <= -L, and each size cut so that one full
  fill can never take |e| past L (the 2026-01-16 post-mortem: a 20-share fill on a +/-10 limit);
- the min-size rule (a side is skipped, never placed below the market minimum) and sizes cut to
  2 decimals;
- which order carries a side: the ask SELLs held YES when it covers the minimum, else BUYs NO at
  1 - ask with collateral; the bid SELLs held NO, else BUYs YES. "Held" for selling is the
  `sellable_*` amount when given (settled shares only; a MATCHED fill may still fail), while the
  exposure e always counts the whole position.
- levels (`QuoteParams.levels`, default 1): level 0 is the quote the rules above make; level k is
  k x `level_spacing_ticks` ticks further from the mid (bid lower, ask higher), so it can never
  cross or touch our other side or the book; a level outside [tick, 1 - tick] is dropped. Levels
  after the first are `level_size` shares (None = `size`). The position-limit cut is CUMULATIVE:
  a side's sizes sum to at most the room left before L, so even if every level fills |e| stays
  within L. Inventory covers a side's levels in order (SELL of the held token) while what is left
  of it covers the minimum; the levels after that are collateral orders (BUY of the complement),
  so one side may mix both kinds. A level whose size falls below the market minimum is dropped with
  a note, and so is every level behind it (the room only shrinks). A side whose level 0 is skipped
  has no levels. Quotes are ordered bid levels best first, then ask levels best first; the caller
  tells levels apart by price.
- reward fitting (rewarded markets only; each part off by default here, the settings decide): with
  `reward_band`, when a level-0 price sits at or beyond the reward max spread from the mid (it would
  score nothing) and risk allows it - no skew moved that side away and the spread is not widened
  (`spread_multiplier` == 1) - it is pulled to the widest on-grid price strictly inside the band, on
  its own side of the mid, unless that would cross or touch our other side or the book (post-only);
  with `reward_size`, a level-0 size below the reward min size is raised to it when the
  position-limit room holds it (the only rule that ever raises a size above `size`, so it is opt-in).
  With `reward_gate` neither is done for a side whose estimated reward a second is below what its
  fills are expected to cost a second (measured fill rate x the mid's run beyond the edge kept, plus
  the skew's inventory charge), nor for a side widened for toxic flow.
  With either, a held-inventory SELL that would stay below the reward min size becomes a collateral
  order, which scores. The mid is the quoter's mid; the venue scores against its own
  "size-cutoff-adjusted" mid (UNCONFIRMED), so a microprice or override mid can differ.

Every rule that changes a quote leaves a line in `QuoteDecision.notes`, and every quote says in
`reason` how it was made, so `polymm quote` can explain its output.

Each rule is written once for both sides: a `_SideSpec` says what differs (the bid sits below the
mid, is rounded DOWN, reduces NO exposure and sells held NO; the ask the mirror of it), and
`quote()` runs every step for the bid, then for the ask, so notes and skips come in that order.

Terms: e = YES - NO shares held (net exposure). "bid" and "ask" are the market's sides in YES
terms: a bid fill raises e (BUY YES, or SELL NO at 1 - bid), an ask fill lowers it (SELL YES, or
BUY NO at 1 - ask).

Must not: import anything but stdlib, decimal and `polymm_cli.model`; do I/O; read a clock; know
about live orders (that is `reconcile`) or have the last word on limits (that is `risk`). Money is
`Decimal` throughout, never float. `quote()` is on the hot path (book update -> orders): it does
no validation of its inputs beyond what the rules need (`QuoteParams` validates itself once).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Any, Literal

from polymm_cli.book import BookTop
from polymm_cli.model import MICRO, ONE, ZERO, Market, Side, fee_curve

QuoteSide = Literal["bid", "ask"]

NO_BOOK_REASON = "no two-sided book: never quote a guessed price"

_TWO = Decimal(2)
_CENT = Decimal("0.01")  # order sizes are cut (ROUND_DOWN) to 2 decimals (the venue's size precision)
_HUNDRED = Decimal(100)
_DAY = Decimal(86_400)  # seconds: the reward pool is paid per day
_BUY, _SELL = Side.BUY, Side.SELL  # read once: an enum member lookup is not free on the hot path


# -- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteParams:
    """How to quote: width, size, the position limit and the inventory-skew knobs."""

    spread: Decimal  # full width in YES price (0.04 -> 2c each side of the mid: the base offset)
    size: Decimal  # shares per quote
    position_limit: Decimal  # L, on net exposure e = YES - NO (shares)
    requote_threshold: Decimal = Decimal("0.005")
    use_microprice: bool = False
    skew_enabled: bool = True
    # seed 004 Phase 2's skew; the settings default to 1 and 0 (a linear skew from the first share)
    skew_factor: Decimal = Decimal("0.5")  # 0 = no skew, 1 = the reducing side quotes at the mid
    skew_start: Decimal = Decimal("0.6")  # fraction of L where the skew starts
    # The volatility term of the skew (Avellaneda-Stoikov's q x gamma x sigma^2 x tau): risk aversion
    # per pUSD and the horizon (s) inventory is expected to be held; 0 = no volatility term.
    skew_gamma: Decimal = ZERO
    skew_horizon_s: Decimal = Decimal(60)
    levels: int = 1  # quotes per side: level 0 is the quote above, level k is k x spacing further out
    level_spacing_ticks: int = 1  # each extra level this many ticks further from the mid than the previous
    level_size: Decimal | None = None  # size of the levels after the first (None = `size`)
    reward_band: bool = False  # pull level 0 inside the reward band (changes the quoted price)
    reward_size: bool = False  # raise level 0 up to the reward min size (may exceed `size`)
    reward_gate: bool = True  # fit only when the estimated reward outweighs the estimated adverse cost
    # polymm chooses the width itself (`adaptive_offset`; the settings turn it on unless --spread was
    # set): `spread` is then only the fallback when there is no two-sided book to measure.
    adaptive_spread: bool = False
    # The side whose fill adds exposure quotes size x (1 - |e| / L): positions build more slowly.
    taper: bool = False

    def __post_init__(self) -> None:
        if self.spread <= ZERO:
            raise ValueError(f"spread must be > 0, got {self.spread}")
        if self.size <= ZERO:
            raise ValueError(f"size must be > 0, got {self.size}")
        if self.position_limit <= ZERO:
            raise ValueError(f"position_limit must be > 0, got {self.position_limit}")
        if self.requote_threshold < ZERO:
            raise ValueError(f"requote_threshold must be >= 0, got {self.requote_threshold}")
        self._check_skew()
        if self.levels < 1:
            raise ValueError(f"levels must be >= 1, got {self.levels}")
        if self.level_spacing_ticks < 1:
            raise ValueError(f"level_spacing_ticks must be >= 1, got {self.level_spacing_ticks}")
        if self.level_size is not None and self.level_size <= ZERO:
            raise ValueError(f"level_size must be > 0 (or None for `size`), got {self.level_size}")

    def _check_skew(self) -> None:
        if not ZERO <= self.skew_factor <= ONE:
            raise ValueError(f"skew_factor must be in [0, 1], got {self.skew_factor}")
        if not ZERO <= self.skew_start <= ONE:
            raise ValueError(f"skew_start must be in [0, 1], got {self.skew_start}")
        if self.skew_gamma < ZERO or self.skew_horizon_s < ZERO:
            raise ValueError(
                f"skew_gamma and skew_horizon_s must be >= 0, got {self.skew_gamma}, {self.skew_horizon_s}"
            )


@dataclass(frozen=True, slots=True)
class SideRisk:
    """What our own fills on one side have cost lately, measured upstream (`toxicity.py`)."""

    widen: Decimal = ONE  # this side's base offset x this (>= 1; adverse selection measured)
    adverse: Decimal = ZERO  # mean mid move against a fill of this side, per share (YES price)
    fill_rate: Decimal = ZERO  # shares per second this side has been filling
    note: str = ""  # why it is widened, for the notes
    pulled: str = ""  # why it is pulled ("" = it is not); never applied to a side that reduces exposure


NO_RISK = SideRisk()


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteInput:
    """What the quoter sees: the market, the YES book top and our inventory."""

    market: Market
    best_bid: Decimal | None  # YES book top (None = that side is empty)
    best_ask: Decimal | None
    best_bid_size: Decimal | None = None  # for the microprice
    best_ask_size: Decimal | None = None
    # The raw top, dust included (our own orders not): a post-only order that reaches even a 1-share
    # level is refused, so quotes stay short of it. None = the same as best_bid / best_ask.
    touch_bid: Decimal | None = None
    touch_ask: Decimal | None = None
    yes_position: Decimal = ZERO  # shares we hold (fills still settling included): drives e
    no_position: Decimal = ZERO
    # Shares we may SELL (settled only: a MATCHED fill can still fail, the ghost-fill trap);
    # None = the whole position.
    sellable_yes: Decimal | None = None
    sellable_no: Decimal | None = None
    mid_override: Decimal | None = None  # `polymm quote --mid P`: quote around this instead of the book
    mid_reason: str = ""  # where an override came from, for the note (e.g. a warming-up book's depth mid)
    # Volatility widening, decided upstream: the base offset is spread / 2 x this (1 = as configured).
    spread_multiplier: Decimal = ONE
    # Sides another rule pulled (jump cool-down, trend filter, after-fill cool-down, stop-loss), with
    # the reason: such a side is skipped with that reason before anything else is computed for it.
    blocked: tuple[tuple[QuoteSide, str], ...] = ()
    # The mid's volatility (YES price per sqrt(second), measured upstream): the skew's volatility term.
    volatility: Decimal = ZERO
    bid_risk: SideRisk = NO_RISK  # adverse selection on each side, measured upstream
    ask_risk: SideRisk = NO_RISK

    @classmethod
    def at(cls, market: Market, top: BookTop, **inventory_and_rules: Any) -> QuoteInput:
        """The input for `market` with its book read as `top` (see book.book_top)."""
        return cls(
            market=market,
            best_bid=top.bid.price if top.bid else None,
            best_ask=top.ask.price if top.ask else None,
            best_bid_size=top.bid.size if top.bid else None,
            best_ask_size=top.ask.size if top.ask else None,
            touch_bid=top.touch_bid,
            touch_ask=top.touch_ask,
            **inventory_and_rules,
        )


@dataclass(frozen=True, slots=True)
class TargetQuote:
    """One order we want resting.

    `side` is the market's side in YES terms; `token_id`, `order_side` and `price` are the order as
    the venue sees it (for a BUY NO or SELL NO, `price` = 1 - `yes_price`).
    """

    side: QuoteSide
    token_id: str
    order_side: Side
    price: Decimal
    yes_price: Decimal
    size: Decimal
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SkippedSide:
    """A side we deliberately do not quote, and why."""

    side: QuoteSide
    reason: str


@dataclass(frozen=True, slots=True)
class QuoteDecision:
    """The quoter's answer: the mid used, the quotes (bid levels best first, then ask levels best
    first), the skipped sides and the notes."""

    mid: Decimal | None
    quotes: tuple[TargetQuote, ...] = ()
    skipped: tuple[SkippedSide, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def bid(self) -> TargetQuote | None:
        """The best bid quote (level 0), if any."""
        for q in self.quotes:
            if q.side == "bid":
                return q
        return None

    @property
    def ask(self) -> TargetQuote | None:
        """The best ask quote (level 0), if any."""
        for q in self.quotes:
            if q.side == "ask":
                return q
        return None

    def skip_reason(self, side: QuoteSide) -> str | None:
        """Why `side` was skipped, or None when it was not."""
        for s in self.skipped:
            if s.side == side:
                return s.reason
        return None


# -- helpers ------------------------------------------------------------------------------------


def round_down_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """The largest multiple of `tick` that is <= `price` (works for 0.0025 and 0.005 ticks too)."""
    # Rounding modes are passed positionally in this module: `decimal` parses a keyword slower than it
    # rounds, and quote() is on the hot path.
    return (price / tick).to_integral_value(ROUND_FLOOR) * tick


def round_up_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """The smallest multiple of `tick` that is >= `price`."""
    return (price / tick).to_integral_value(ROUND_CEILING) * tick


def needs_requote(last_mid: Decimal | None, mid: Decimal | None, threshold: Decimal) -> bool:
    """Whether the quotes should be recomputed: the first quote always, then a mid move >= threshold.

    No mid (no two-sided book) never asks for a requote: there is nothing to quote around.
    """
    if mid is None:
        return False
    if last_mid is None:
        return True
    return abs(mid - last_mid) >= threshold


def _fmt(value: Decimal, dp: int = 0) -> str:
    """Display form for reasons and notes: no exponent, trailing zeros dropped down to `dp`
    decimals (0.5 -> "0.500" on a 0.001 market, 10.00 -> "10"), at most `dp` + 6 decimals.

    A string helper of its own (not `decimal_str`) because it runs several times per quote().
    """
    text = str(value)  # = f"{value:f}" unless it shows an exponent, and about 3x cheaper
    if "E" in text or "e" in text:
        text = f"{value:f}"
    point = text.find(".")
    if point < 0:
        return text + "." + "0" * dp if dp else text
    text = text.rstrip("0")
    decimals = len(text) - point - 1
    if decimals < dp:
        return text + "0" * (dp - decimals)
    if decimals == 0:
        return text[:-1]
    if decimals > dp + 6:
        return f"{value:.{dp + 6}f}"
    return text


def _decimals(tick: Decimal) -> int:
    """How many decimals `tick` is written with (0.01 -> 2, 0.0025 -> 4): the display precision."""
    text = str(tick)  # cheaper than as_tuple(); in plain notation the decimals shown are -exponent
    point = text.find(".")
    if point < 0 or "E" in text or "e" in text:
        return max(0, -int(tick.as_tuple().exponent))
    return len(text) - point - 1


def _signed(value: Decimal) -> str:
    text = _fmt(value)
    return text if value < ZERO else "+" + text


def _skip_both(mid: Decimal | None, reason: str, notes: tuple[str, ...] = ()) -> QuoteDecision:
    return QuoteDecision(
        mid=mid,
        quotes=(),
        skipped=(SkippedSide("bid", reason), SkippedSide("ask", reason)),
        notes=notes,
    )


# -- the two sides ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SideSpec:
    """What makes a side the bid or the ask, so that every rule is written once for both.

    The bid lives below the mid and its fill raises e; the ask lives above and its fill lowers e.
    "Out" is away from the mid (bid lower, ask higher), "in" is toward it. The arithmetic on the hot
    path is plain operators and rounding functions held as fields, not methods that branch on the side.
    """

    side: QuoteSide
    other: QuoteSide
    below: bool  # True for the bid: its prices sit below the mid
    out: Callable[[Decimal, Decimal], Decimal]  # (price, distance): that much further out
    inward: Callable[[Decimal, Decimal], Decimal]  # (price, distance): that much further in
    round_out: Callable[[Decimal, Decimal], Decimal]  # (price, tick): onto the grid, out (bid DOWN, ask UP)
    round_in: Callable[[Decimal, Decimal], Decimal]  # (price, tick): onto the grid, in
    beyond: Callable[[Decimal, Decimal], bool]  # (price, bound): strictly further out than bound
    reaches: Callable[[Decimal, Decimal], bool]  # (price, bound): at or past it going in (cross or touch)
    outward: str  # "below" / "above": where this side's prices go, for notes
    op: str  # "-" / "+": how a reason writes an offset out from the mid
    edge: str  # "minimum" / "maximum": the end of the price range this side runs into
    moved: str  # "lowered" / "raised": how the post-only clamp moves this side
    limit: str  # "+L" / "-L": the limit a fill of this side heads for
    at_limit: str  # ">=" / "<=": e at that limit
    adds: str  # "YES" / "NO": the exposure a fill adds (a collateral order BUYs it)
    sells: str  # "NO" / "YES": the exposure a fill reduces (an inventory order SELLs it)
    buys_how: str  # how a collateral order is written in a reason
    sells_how: str  # how an inventory order is written in a reason

    def out_from(self, mid: Decimal, price: Decimal) -> Decimal:
        """How far out from `mid` `price` sits (negative when it is on the other side of it)."""
        return mid - price if self.below else price - mid

    def end(self, tick: Decimal) -> Decimal:
        """The last valid price out on this side: tick for the bid, 1 - tick for the ask."""
        return tick if self.below else ONE - tick


_BID = _SideSpec(
    side="bid",
    other="ask",
    below=True,
    out=operator.sub,
    inward=operator.add,
    round_out=round_down_to_tick,
    round_in=round_up_to_tick,
    beyond=operator.lt,
    reaches=operator.ge,
    outward="below",
    op="-",
    edge="minimum",
    moved="lowered",
    limit="+L",
    at_limit=">=",
    adds="YES",
    sells="NO",
    buys_how="BUY YES with collateral",
    sells_how="SELL NO from inventory",
)
_ASK = _SideSpec(
    side="ask",
    other="bid",
    below=False,
    out=operator.add,
    inward=operator.sub,
    round_out=round_up_to_tick,
    round_in=round_down_to_tick,
    beyond=operator.gt,
    reaches=operator.le,
    outward="above",
    op="+",
    edge="maximum",
    moved="raised",
    limit="-L",
    at_limit="<=",
    adds="NO",
    sells="YES",
    buys_how="BUY NO with collateral",
    sells_how="SELL YES from inventory",
)


@dataclass(slots=True)
class _Quoting:
    """One `quote()` call (`q` in the steps): what every step reads, and the notes, skips and quotes
    they add, in the order they add them."""

    inp: QuoteInput
    market: Market
    params: QuoteParams
    mid: Decimal
    mid_text: str  # the mid as reasons show it
    dp: int  # the market's tick decimals, for display
    e: Decimal
    skew: Decimal | None  # the inventory skew applied (None when it does not apply)
    notes: list[str]
    skipped: list[SkippedSide]
    quotes: list[TargetQuote]

    def skip(self, side: QuoteSide, reason: str, *, note: bool = False) -> None:
        self.skipped.append(SkippedSide(side, reason))
        if note:
            self.notes.append(reason)


@dataclass(slots=True)
class _Leg:
    """One side's level 0 while it is worked out."""

    spec: _SideSpec
    lean: Decimal  # e as a fill of this side moves it (bid e, ask -e): > 0 a fill adds exposure
    book: Decimal | None  # the book's best on the other side: never reached (post-only)
    offset: Decimal  # from the mid, after widening and skew
    price: Decimal | None = None  # YES price; None once the side is skipped
    adjusted: str = ""  # what moved the price after rounding, for the reason
    clamped: bool = False  # moved by a clamp (range or post-only): a clamped bid yields to our ask
    in_band: bool = False  # inside the reward band with nothing holding fitting back: may be sized up
    widened: bool = False  # its base offset was widened for toxic flow: reward fitting holds back


# -- the quoter ---------------------------------------------------------------------------------


def quote(inp: QuoteInput, params: QuoteParams) -> QuoteDecision:
    """Decide the bid and ask to rest for one market, with the reason for each and notes on every rule.

    See the module docstring for the rules, in the order they apply: mid, blocked sides, widening,
    skew, rounding, clamps, reward band, position limit, size cut, min size, inventory vs
    collateral, then the levels behind level 0. Each step runs for the bid, then for the ask.
    """
    # Market-level rules first: with no mid, or nothing quotable around it, both sides are skipped.
    dp = _decimals(inp.market.tick_size)
    notes: list[str] = []
    mid = _mid(inp, params.use_microprice, dp, notes)
    if isinstance(mid, str):
        return _skip_both(None, mid)
    unquotable = _unquotable(inp, mid)
    if unquotable is not None:
        return _skip_both(mid, unquotable, tuple(notes))
    # Then each step for the bid, then for the ask (notes and skips come in that order).
    blocks = _block_reasons(inp.blocked)
    e = inp.yes_position - inp.no_position
    half = params.spread / _TWO
    if params.adaptive_spread:
        half, why = adaptive_offset(inp, mid, half)
        notes.append(why)
    base = _base_offset(half, inp.spread_multiplier, dp, notes)
    skew = _skew(params, e, base, inp.volatility, dp, notes)
    q = _Quoting(inp, inp.market, params, mid, _fmt(mid, dp), dp, e, skew, notes, [], [])
    bid = _level0(q, _BID, _touch(inp.touch_ask, inp.best_ask, min), blocks.get("bid"), base, inp.bid_risk)
    ask = _level0(q, _ASK, _touch(inp.touch_bid, inp.best_bid, max), blocks.get("ask"), base, inp.ask_risk)
    _resolve_clamped_cross(q, bid, ask)
    _fit_reward_band(q, bid, ask)
    _place_side(q, bid)
    _place_side(q, ask)
    return QuoteDecision(mid=mid, quotes=tuple(q.quotes), skipped=tuple(q.skipped), notes=tuple(notes))


def _touch(
    raw: Decimal | None, best: Decimal | None, nearer: Callable[[Decimal, Decimal], Decimal]
) -> Decimal | None:
    """The other side's price a post-only quote must stay short of: the nearer of the raw top and
    the best real level."""
    if raw is None or best is None:
        return best if raw is None else raw
    return nearer(raw, best)


def _mid(inp: QuoteInput, use_microprice: bool, dp: int, notes: list[str]) -> Decimal | str:
    """The mid to quote around (the override, the microprice or the book mid), or why there is none."""
    if inp.mid_override is not None:
        mid = inp.mid_override
        notes.append(
            f"mid = {inp.mid_reason or 'override'} {_fmt(mid, dp)}"
            + ("" if inp.mid_reason else " (not the book)")
        )
        return mid
    best_bid, best_ask = inp.best_bid, inp.best_ask
    if best_bid is None or best_ask is None:
        return NO_BOOK_REASON
    if best_bid >= best_ask:
        return (
            f"book crossed or locked (best bid {best_bid} >= best ask {best_ask}): "
            "never quote a guessed price"
        )
    if use_microprice:
        return _microprice(inp, best_bid, best_ask, dp, notes)
    return (best_bid + best_ask) / _TWO


def _microprice(inp: QuoteInput, best_bid: Decimal, best_ask: Decimal, dp: int, notes: list[str]) -> Decimal:
    """The top sizes' weighted mid (it leans toward the thinner side), or the plain mid without them."""
    bid_size, ask_size = inp.best_bid_size, inp.best_ask_size
    if bid_size is not None and ask_size is not None and bid_size > ZERO and ask_size > ZERO:
        mid = ((best_bid * ask_size + best_ask * bid_size) / (bid_size + ask_size)).quantize(MICRO)
        notes.append(
            f"mid = microprice {_fmt(mid, dp)} (top sizes bid {_fmt(bid_size)} / ask {_fmt(ask_size)})"
        )
        return mid
    notes.append("microprice needs both top-of-book sizes: using the plain mid")
    return (best_bid + best_ask) / _TWO


def _unquotable(inp: QuoteInput, mid: Decimal) -> str | None:
    """Why nothing at all is quoted around a usable mid, or None."""
    if not ZERO < mid < ONE:
        return f"mid {_fmt(mid)} is outside (0, 1)"
    if inp.market.closed or not inp.market.accepting_orders:
        return "market is closed or not accepting orders"
    if inp.spread_multiplier <= ZERO:
        return f"spread multiplier {_fmt(inp.spread_multiplier)} must be > 0"
    return None


def _block_reasons(blocked: tuple[tuple[QuoteSide, str], ...]) -> dict[QuoteSide, str]:
    """Each blocked side with its reasons joined by "; ", in the order given."""
    reasons: dict[QuoteSide, str] = {}
    for side, why in blocked:
        reasons[side] = f"{reasons[side]}; {why}" if side in reasons else why
    return reasons


# The adaptive width improves the touch by a tick only on a book at least this many ticks wide, so
# our two sides keep two ticks or more between them: on a 3-tick book both improved would be one tick
# apart, which in-play's violent flow picked off (docs/strategy.md#width-and-taper).
IMPROVE_AT_TICKS = 4


def maker_rebate_per_share(market: Market, price: Decimal) -> Decimal:
    """What a maker fill earns back per share on a fee-enabled market: the rebate share of the taker
    fee the match charges (feeSchedule.rebateRate x rate x (p(1-p))^exponent); 0 without fees."""
    if not market.maker_rebate_rate or not market.taker_fee_rate:
        return ZERO
    return market.maker_rebate_rate * market.taker_fee_rate * fee_curve(price, market.fee_exponent)


def adaptive_offset(inp: QuoteInput, mid: Decimal, fallback: Decimal) -> tuple[Decimal, str]:
    """The base offset polymm chooses when the user did not set a spread, and why.

    At the book's touch (the nearer best level's distance from the mid), or a tick inside it on a
    book `IMPROVE_AT_TICKS` or more ticks wide (the front of the queue: on a wide book the touch's
    queue fills last); never below the adverse move our fills have measured (`SideRisk.adverse`, the
    larger side's) less the maker rebate a fill earns, so a fill's expected edge covers what the mid
    takes back after it. `fallback` (the configured half-spread) without a two-sided book."""
    tick = inp.market.tick_size
    bid, ask = _measured_touch(inp)
    if bid is None or ask is None or not bid < mid < ask:
        return fallback, (
            f"width: configured half-spread {_fmt(fallback)} (no two-sided book around the mid to measure)"
        )
    offset = min(mid - bid, ask - mid)
    how = f"at the touch {_fmt(bid)} / {_fmt(ask)}"
    if ask - bid >= IMPROVE_AT_TICKS * tick and offset > tick:
        offset -= tick
        how = f"a tick inside the touch {_fmt(bid)} / {_fmt(ask)}"
    rebate = maker_rebate_per_share(inp.market, mid)
    adverse = max(inp.bid_risk.adverse, inp.ask_risk.adverse)
    if adverse - rebate > offset:
        offset = adverse - rebate
        how = f"the measured adverse move {_fmt(adverse.quantize(MICRO))}"
        how += f" less the rebate {_fmt(rebate.quantize(MICRO))} a share" if rebate else ""
    offset = max(offset, tick / _TWO)
    return offset, f"width chosen by polymm (--spread not set): half-spread {_fmt(offset)}, {how}"


def adaptive_key(
    inp: QuoteInput, params: QuoteParams
) -> tuple[Decimal | None, Decimal | None, Decimal] | None:
    """What `adaptive_offset` reads besides the mid, for the engine's keep-the-queue check: the touch
    on each side and the larger measured adverse move. A symmetric widening leaves the mid where it
    was, so without these our quotes would stay at the old touch. None with a fixed spread: nothing
    more to watch (one call and a None in the compared tuple: the hot path stays as cheap)."""
    if not params.adaptive_spread:
        return None
    bid, ask = _measured_touch(inp)
    return bid, ask, max(inp.bid_risk.adverse, inp.ask_risk.adverse)


def _measured_touch(inp: QuoteInput) -> tuple[Decimal | None, Decimal | None]:
    """The touch the adaptive width measures: the best real levels, the book the mid comes from. A
    dust order nearer the mid is not a touch worth joining: measured from it, one side would sit far
    inside the real book (post-only still keeps every quote short of the raw top)."""
    return inp.best_bid, inp.best_ask


def _base_offset(base: Decimal, multiplier: Decimal, dp: int, notes: list[str]) -> Decimal:
    """Half the spread (as set, or as `adaptive_offset` chose it), times the volatility widening
    decided upstream."""
    if multiplier == ONE:
        return base
    wide = base * multiplier
    notes.append(
        f"spread x{_fmt(multiplier)} (volatility, decided upstream): "
        f"base offset {_fmt(base, dp)} -> {_fmt(wide, dp)}"
    )
    return wide


def _skew(
    params: QuoteParams, e: Decimal, base: Decimal, volatility: Decimal, dp: int, notes: list[str]
) -> Decimal | None:
    """The inventory skew: seed 004 Phase 2's once |e| / L reaches skew_start, plus the volatility term
    |e| x gamma x sigma^2 x tau, the two capped at the base offset (None when neither applies, or
    when the skew is off)."""
    if not params.skew_enabled or not e:
        return None
    limit = params.position_limit
    used = min(abs(e / limit), ONE)
    risk = _vol_skew(params, e, volatility)
    if used < params.skew_start and not risk:
        return None
    linear = used * params.skew_factor * base if used >= params.skew_start else ZERO
    skew = _add_vol_skew(params, e, linear, risk, base, volatility, dp, notes) if risk else linear
    if not skew:
        return None
    if e < ZERO:
        toward = "bid moves closer (buying YES reduces NO exposure), ask moves away"
    else:
        toward = "ask moves closer (selling YES reduces YES exposure), bid moves away"
    # the linear part's arithmetic, and the total with the volatility term when there is one
    plus = ""
    if skew != linear:
        plus = f" ({_fmt(linear, dp)}) + volatility term {_fmt((skew - linear).quantize(MICRO), dp)}"
    notes.append(
        f"inventory skew {_fmt(skew, dp)} = |e|/L {_fmt(used * _HUNDRED, 0)}% x "
        f"factor {_fmt(params.skew_factor)} x base {_fmt(base, dp)}{plus} (e {_signed(e)}, "
        f"L {_fmt(limit)}): {toward}"
    )
    return skew


def _vol_skew(params: QuoteParams, e: Decimal, volatility: Decimal) -> Decimal:
    """Avellaneda-Stoikov's reservation-price shift |e| x gamma x sigma^2 x tau (0 when it is off)."""
    if not params.skew_gamma or not volatility or not params.skew_horizon_s:
        return ZERO
    return abs(e) * params.skew_gamma * volatility * volatility * params.skew_horizon_s


def _add_vol_skew(
    params: QuoteParams,
    e: Decimal,
    skew: Decimal,
    risk: Decimal,
    base: Decimal,
    volatility: Decimal,
    dp: int,
    notes: list[str],
) -> Decimal:
    """The seed-004 skew plus the volatility term, capped at the base offset (the side that reduces
    exposure then quotes at the mid), with a note that shows the sum."""
    total = skew + risk
    capped = ""
    if total > base:
        total, capped = base, f", capped at the base offset {_fmt(base, dp)}"
    notes.append(
        f"volatility skew {_fmt(risk.quantize(MICRO), dp)} = |e| {_fmt(abs(e))} x gamma "
        f"{_fmt(params.skew_gamma)} x vol {_fmt(volatility)}^2 x {_fmt(params.skew_horizon_s)}s"
        f" (holding inventory in a moving market costs more){capped}"
    )
    return total


def _level0(
    q: _Quoting, spec: _SideSpec, book: Decimal | None, block: str | None, base: Decimal, risk: SideRisk
) -> _Leg:
    """One side's level 0, priced: skipped when blocked or at the position limit, else the mid moved out
    by the offset (the base, widened when this side's fills are toxic; with a skew the side that reduces
    exposure moves in by it and the other out by the same amount), rounded out, clamped to
    [tick, 1 - tick], then post-only clamped."""
    lean = q.e if spec.below else -q.e
    widened = risk.widen > ONE
    side_base = base * risk.widen if widened else base
    skew = q.skew
    offset = side_base if skew is None else side_base - skew if lean < ZERO else side_base + skew
    leg = _Leg(spec, lean, book, offset, widened=widened)
    side = spec.side
    if block is not None:
        q.skip(side, block)
        q.notes.append(f"{side} blocked: {block}")
        return leg
    limit = q.params.position_limit
    if lean >= limit:
        reason = (
            f"position limit: e {_signed(q.e)} {spec.at_limit} {spec.limit} {_fmt(limit)}: "
            f"no {side} (it would add {spec.adds} exposure)"
        )
        q.skip(side, reason, note=True)
        return leg
    if risk.pulled and _toxic_pull(q, leg, risk):
        return leg
    if widened:
        q.notes.append(
            f"{side} base offset {_fmt(base, q.dp)} x{_fmt(risk.widen)} -> "
            f"{_fmt(side_base, q.dp)} ({risk.note})"
        )
    tick = q.market.tick_size
    price = spec.round_out(spec.out(q.mid, offset), tick)
    if not tick <= price <= ONE - tick:
        price = _clamp_to_range(q, leg, price, tick)
    if book is not None and spec.reaches(price, book):
        leg.price = _post_only(q, leg, price, book, tick)
    else:
        leg.price = price
    return leg


def _toxic_pull(q: _Quoting, leg: _Leg, risk: SideRisk) -> bool:
    """Whether a side whose fills the mid runs over is pulled: yes unless it reduces our exposure
    (pulling that one would trap the inventory it is there to work off; it stays, widened)."""
    side = leg.spec.side
    if leg.lean < ZERO:
        q.notes.append(
            f"{side} kept despite toxic flow: it reduces exposure (e {_signed(q.e)}); {risk.pulled}"
        )
        return False
    q.skip(side, risk.pulled)
    q.notes.append(f"{side} pulled: {risk.pulled}")
    return True


def _post_only(q: _Quoting, leg: _Leg, price: Decimal, book: Decimal, tick: Decimal) -> Decimal | None:
    """A price that would cross or touch the book's other side moved one tick short of it, or None
    (with the skip) when no valid price is left there."""
    spec, side = leg.spec, leg.spec.side
    capped = spec.out(spec.round_in(book, tick), tick)
    q.notes.append(
        f"post-only: {side} {price} would cross or touch the best {spec.other} {book}: "
        f"{spec.moved} to {capped}"
    )
    leg.adjusted += f", post-only {spec.outward} best {spec.other} {book}"
    leg.clamped = True
    if spec.beyond(capped, spec.end(tick)):
        q.skip(side, f"post-only: no valid price {spec.outward} the best {spec.other} {book}")
        return None
    return capped


def _clamp_to_range(q: _Quoting, leg: _Leg, price: Decimal, tick: Decimal) -> Decimal:
    """A `price` outside [tick, 1 - tick] moved to the nearer end, with a note."""
    if price < tick:
        bound, verb, way, name = tick, "raised", "up", "minimum"
    else:
        bound, verb, way, name = ONE - tick, "lowered", "down", "maximum"
    leg.adjusted += f", {verb} to the {name} price {bound}"
    q.notes.append(f"{leg.spec.side} clamped {way} to the {name} price {bound}")
    leg.clamped = True
    return bound


def _resolve_clamped_cross(q: _Quoting, bid: _Leg, ask: _Leg) -> None:
    """Only a clamp can make our bid reach our ask (unclamped, ask - bid >= spread > 0): a clamped
    bid yields, else the ask."""
    if bid.price is None or ask.price is None or bid.price < ask.price:
        return
    loser, winner = (bid, ask) if bid.clamped else (ask, bid)
    reason = (
        f"clamped {loser.spec.side} {loser.price} would cross or touch our {winner.spec.side} {winner.price}"
    )
    loser.price = None
    q.skip(loser.spec.side, reason, note=True)


@dataclass(slots=True)
class _BandFit:
    """The reward band and what holds fitting back, the same for both sides."""

    band: Decimal  # the reward max spread, in YES price
    text: str  # "max spread 3.5c", for notes
    held_back: str  # why risk forbids pulling either side ("" = it allows it)
    off: str  # "reward band fitting is off" when only the size is fitted, else ""


def _fit_reward_band(q: _Quoting, bid: _Leg, ask: _Leg) -> None:
    """Reward fitting (opt-in, rewarded markets only): pull level 0 inside the band when risk allows,
    and mark which sides are in it (the size step raises those to the reward min size)."""
    params, rewards = q.params, q.market.rewards
    fitting = params.reward_band or params.reward_size
    if not fitting or (bid.price is None and ask.price is None) or not rewards.active:
        return
    band = rewards.max_spread_cents / _HUNDRED
    multiplier = q.inp.spread_multiplier
    held_back = f"spread widened x{_fmt(multiplier)}" if multiplier != ONE else ""
    fit = _BandFit(
        band=band,
        text=f"max spread {_fmt(rewards.max_spread_cents)}c",
        held_back=held_back,
        off="" if params.reward_band else "reward band fitting is off",
    )
    _pull_into_band(q, bid, ask, fit)
    _pull_into_band(q, ask, bid, fit)


def _pull_into_band(q: _Quoting, leg: _Leg, other: _Leg, fit: _BandFit) -> None:
    """Pull one side's level 0 inside the band unless risk holds it back, and mark whether the side is
    in the band with nothing holding reward fitting back."""
    if leg.price is None:
        return
    spec, price = leg.spec, leg.price
    why = fit.held_back or ("skewed away" if q.skew and leg.lean > ZERO else "")
    if not why and leg.widened:
        why = "widened for toxic flow"
    out = spec.out_from(q.mid, price)
    if not why and q.params.reward_gate:
        why = _reward_gate(q, leg, out, fit)
    if out >= fit.band:
        if why or fit.off:
            left = why or fit.off
            q.notes.append(
                f"{spec.side} {_fmt(price)} outside the reward band ({fit.text}): left there ({left})"
            )
        elif _pull(q, leg, price, other.price, fit):
            out = spec.out_from(q.mid, leg.price)
    leg.in_band = not why and abs(out) < fit.band


def _reward_gate(q: _Quoting, leg: _Leg, out: Decimal, fit: _BandFit) -> str:
    """Why fitting this side does not pay ("" when it does): the reward the fitted level 0 is estimated
    to earn a second against what its fills are expected to lose a second - the mid's run after a
    fill beyond the edge the fitted price keeps, plus the inventory charge gamma x sigma^2 x tau x
    size / 2 - at the fill rate this side has shown. With no fills measured there is no cost to
    weigh and fitting goes ahead."""
    spec, params, inp = leg.spec, q.params, q.inp
    risk = inp.bid_risk if spec.below else inp.ask_risk
    if not risk.fill_rate:
        return ""
    rewards = q.market.rewards
    fitted = out if out < fit.band else _fitted_out(q, spec, fit.band)
    size = max(params.size, rewards.min_size) if params.reward_size else params.size
    loss = max(risk.adverse - fitted, ZERO)
    inventory = params.skew_gamma * inp.volatility * inp.volatility * params.skew_horizon_s * size / _TWO
    cost = risk.fill_rate * (loss + inventory)
    reward = _side_reward(q, spec, fitted, size)
    if reward >= cost:
        return ""
    q.notes.append(
        f"{spec.side}: reward fitting refused: estimated reward {_fmt(reward.quantize(MICRO))}/s < "
        f"adverse cost {_fmt(cost.quantize(MICRO))}/s ({_fmt(risk.fill_rate.quantize(_CENT))} shares/s "
        f"x (mid run {_fmt(risk.adverse.quantize(MICRO))} - edge {_fmt(fitted.quantize(MICRO))}, "
        f"+ inventory {_fmt(inventory.quantize(MICRO))}))"
    )
    return "the reward does not pay for the risk"


def _fitted_out(q: _Quoting, spec: _SideSpec, band: Decimal) -> Decimal:
    """How far from the mid the band pull would put level 0 (the widest on-grid price inside it)."""
    tick = q.market.tick_size
    return spec.out_from(q.mid, spec.inward(spec.round_out(spec.out(q.mid, band), tick), tick))


def _side_reward(q: _Quoting, spec: _SideSpec, out: Decimal, size: Decimal) -> Decimal:
    """pUSD a second one side's level 0 would earn: half the daily pool (a side's half of the
    two-sided score) times our share of the score on that side, competition counted at the book's
    top only (so the share, and the reward, is an upper estimate)."""
    inp, rewards = q.inp, q.market.rewards
    ours = _score(rewards.max_spread_cents, out, size, rewards.min_size)
    if not ours:
        return ZERO
    best, best_size = (inp.best_bid, inp.best_bid_size) if spec.below else (inp.best_ask, inp.best_ask_size)
    others = ZERO
    if best is not None and best_size is not None:
        others = _score(rewards.max_spread_cents, abs(q.mid - best), best_size, rewards.min_size)
    return rewards.daily_rate / _DAY / _TWO * ours / (ours + others)


def _score(max_spread_cents: Decimal, out: Decimal, size: Decimal, min_size: Decimal) -> Decimal:
    """The documented order score ((v - s) / v)^2 x size (0 outside the band or below the min size)."""
    distance = out * _HUNDRED
    if size < min_size or distance >= max_spread_cents or max_spread_cents <= ZERO:
        return ZERO
    share = (max_spread_cents - distance) / max_spread_cents
    return share * share * size


def _pull(q: _Quoting, leg: _Leg, price: Decimal, ours: Decimal | None, fit: _BandFit) -> bool:
    """Move level 0 to the widest on-grid price strictly inside the band on its side of the mid, unless
    that would reach the mid, our other side (at `ours`) or the book (post-only); whether it moved."""
    spec, tick, book = leg.spec, q.market.tick_size, leg.book
    pulled = spec.inward(spec.round_out(spec.out(q.mid, fit.band), tick), tick)
    if spec.reaches(pulled, q.mid):
        stop = f"no on-grid price inside the band {spec.outward} the mid"
    elif ours is not None and spec.reaches(pulled, ours):
        stop = f"{_fmt(pulled)} would cross or touch our {spec.other} {ours}"
    elif book is not None and spec.reaches(pulled, book):
        stop = f"post-only: {_fmt(pulled)} would cross or touch the best {spec.other} {book}"
    else:
        q.notes.append(f"inside the reward band ({fit.text}): {spec.side} {_fmt(price)} -> {_fmt(pulled)}")
        leg.adjusted += f", pulled inside the reward band ({fit.text})"
        leg.price = pulled
        return True
    q.notes.append(f"{spec.side} {_fmt(price)} outside the reward band ({fit.text}): not pulled ({stop})")
    return False


def _place_side(q: _Quoting, leg: _Leg) -> None:
    """Size level 0 and choose the order that carries it, then add the levels behind it."""
    if leg.price is None:
        return
    spec, params, market, price = leg.spec, q.params, q.market, leg.price
    room = params.position_limit - leg.lean
    size, cut = _level0_size(q, leg, room)
    held, sell = _inventory_sale(q, leg, size)
    if sell and held < size:
        q.notes.append(f"{spec.side} size cut {_fmt(size)} -> {_fmt(held)}: {spec.sells} held")
        size = held
    size = size.quantize(_CENT, ROUND_DOWN)
    if size <= ZERO or size < market.min_order_size:
        q.skip(
            spec.side,
            f"{spec.side} {_fmt(price, q.dp)}: size {_fmt(size)}{cut} "
            f"below the market minimum {_fmt(market.min_order_size)}",
        )
        return
    token, order_side, order_price, how = _carrier(spec, market, price, sell)
    skew_text = _skew_text(leg, q.skew, q.dp) if q.skew else ""
    reason = (
        f"{spec.side} = mid {q.mid_text} {spec.op} {_fmt(leg.offset, q.dp)}{skew_text}{leg.adjusted}; {how}"
    )
    q.quotes.append(TargetQuote(spec.side, token, order_side, order_price, price, size, reason))
    if params.levels > 1:
        left = held - size if sell else held
        _deeper_levels(q, spec, price, room - size, left, leg.lean)


def _level0_size(q: _Quoting, leg: _Leg, room: Decimal) -> tuple[Decimal, str]:
    """`size` (raised to the reward min size when size fitting is on and the side is in the band), cut
    so that one full fill cannot take |e| past L; with " (cut by the position limit)" when it was."""
    params = q.params
    size = params.size
    if params.reward_size and leg.in_band:
        size = _raise_to_reward_min(q, leg, size, room)
    if params.taper and leg.lean > ZERO:
        size = _tapered(q, leg, size)
    if room >= size:
        return size, ""
    q.notes.append(
        f"{leg.spec.side} size cut {_fmt(size)} -> {_fmt(room)}: one fill must not take "
        f"e {_signed(q.e)} past {leg.spec.limit} {_fmt(params.position_limit)}"
    )
    return room, " (cut by the position limit)"


def _taper(size: Decimal, lean: Decimal, limit: Decimal) -> Decimal:
    """size x (1 - lean / L), to the cent below: the taper of every level of a side that adds exposure."""
    return (size * (limit - lean) / limit).quantize(_CENT, ROUND_DOWN)


def _tapered(q: _Quoting, leg: _Leg, size: Decimal) -> Decimal:
    """The size of a side whose fill would add exposure, cut in proportion to the room left before L
    (size x (1 - |e| / L)): the position is built more slowly the larger it is, so less is held
    when the price jumps."""
    limit = q.params.position_limit
    tapered = _taper(size, leg.lean, limit)
    if tapered >= size:
        return size
    q.notes.append(
        f"{leg.spec.side} size {_fmt(size)} -> {_fmt(tapered)}: tapered by the room left "
        f"(e {_signed(q.e)} of {leg.spec.limit} {_fmt(limit)}; a fill would add {leg.spec.adds} exposure)"
    )
    return tapered


def _raise_to_reward_min(q: _Quoting, leg: _Leg, size: Decimal, room: Decimal) -> Decimal:
    """`size` raised to the reward min size so the order scores, when the position-limit room holds it."""
    reward_min = q.market.rewards.min_size
    if size >= reward_min:
        return size
    side = leg.spec.side
    if room >= reward_min:
        q.notes.append(f"{side} size {_fmt(size)} -> {_fmt(reward_min)}: the reward min size, so it scores")
        return reward_min
    q.notes.append(
        f"{side} size {_fmt(size)} left below the reward min size {_fmt(reward_min)}: "
        f"position-limit room {_fmt(room)}"
    )
    return size


def _inventory_sale(q: _Quoting, leg: _Leg, size: Decimal) -> tuple[Decimal, bool]:
    """The shares this side may SELL (settled only, when known; cut to 2 decimals), and whether level 0
    SELLs them: when they cover the minimum, unless they stay below the reward min size that a
    collateral order of `size` reaches (that one scores)."""
    inp, spec = q.inp, leg.spec
    if spec.sells == "YES":
        held = inp.yes_position if inp.sellable_yes is None else inp.sellable_yes
    else:
        held = inp.no_position if inp.sellable_no is None else inp.sellable_no
    if held:  # cut to 2 decimals; a zero is never sold, so it is spared the quantize (hot path)
        held = held.quantize(_CENT, ROUND_DOWN)
    sell = held > ZERO and held >= q.market.min_order_size
    if not sell or not leg.in_band:
        return held, sell
    reward_min = q.market.rewards.min_size
    if held < reward_min <= size:
        q.notes.append(
            f"{spec.side}: {spec.sells} held {_fmt(held)} is below the reward min size {_fmt(reward_min)}: "
            f"BUY {spec.adds} with collateral so the order scores"
        )
        return held, False
    return held, True


def _skew_text(leg: _Leg, skew: Decimal, dp: int) -> str:
    """The skew's part in a level-0 reason."""
    if leg.lean < ZERO:
        return f" (skew {_fmt(skew, dp)} toward reducing {leg.spec.sells} exposure)"
    return f" (skew {_fmt(skew, dp)} away: a fill would add {leg.spec.adds} exposure)"


def _carrier(
    spec: _SideSpec, market: Market, yes_price: Decimal, sell: bool
) -> tuple[str, Side, Decimal, str]:
    """The order that carries a quote at `yes_price`: token, order side, price in that token's terms,
    and how, for the reason. Selling held inventory SELLs the outcome this side reduces; otherwise
    collateral BUYs the outcome it adds. A NO order's price is 1 - the YES price."""
    if sell:
        outcome, order_side, how = spec.sells, _SELL, spec.sells_how
    else:
        outcome, order_side, how = spec.adds, _BUY, spec.buys_how
    if outcome == "YES":
        return market.yes_token, order_side, yes_price, how
    price = ONE - yes_price
    return market.no_token, order_side, price, f"{how} at 1 - {yes_price} = {price}"


def _level_range(side: QuoteSide, first: int, last: int) -> str:
    return f"{side} level {first}" if first == last else f"{side} levels {first}-{last}"


def _deeper_levels(
    q: _Quoting, spec: _SideSpec, first: Decimal, room: Decimal, held: Decimal, lean: Decimal
) -> None:
    """Append levels 1.. of one side behind its placed level 0 at YES price `first`.

    `room` is what the position limit leaves after level 0, `held` the sellable inventory level 0
    left over, `lean` the exposure a fill of this side adds (> 0: tapered like level 0). A level
    that leaves the price range or falls below the market minimum ends the side (every level after
    it would too: prices only move out, the room only shrinks), with one note.
    """
    market, params, quotes, notes = q.market, q.params, q.quotes, q.notes
    side, tick, spacing = spec.side, market.tick_size, params.level_spacing_ticks
    step = tick * spacing
    size = params.size if params.level_size is None else params.level_size
    if params.taper and lean > ZERO:
        size = _taper(size, lean, params.position_limit)
    min_size, last, end = market.min_order_size, params.levels - 1, spec.end(tick)
    for k in range(1, params.levels):
        yes_price = spec.out(first, step * k)
        if spec.beyond(yes_price, end):
            notes.append(f"{_level_range(side, k, last)} dropped: {spec.outward} the {spec.edge} price {end}")
            return
        s, cut = (room, " (cut by the position limit)") if room < size else (size, "")
        sell = held > ZERO and held >= min_size
        if sell and held < s:
            notes.append(f"{side} level {k} size cut {_fmt(s)} -> {_fmt(held)}: {spec.sells} held")
            s = held
        s = s.quantize(_CENT, ROUND_DOWN)
        if s <= ZERO or s < min_size:
            notes.append(
                f"{_level_range(side, k, last)} dropped: size {_fmt(s)}{cut} "
                f"below the market minimum {_fmt(min_size)}"
            )
            return
        token, order_side, price, how = _carrier(spec, market, yes_price, sell)
        ticks = k * spacing
        reason = f"{side} level {k} = level 0 {first} {spec.op} {ticks} tick{'' if ticks == 1 else 's'}"
        quotes.append(TargetQuote(side, token, order_side, price, yes_price, s, f"{reason}; {how}"))
        room -= s
        if sell:
            held -= s

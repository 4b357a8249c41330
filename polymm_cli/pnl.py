"""P&L as a pure projection over the ledger's records: fills and flows in, positions and P&L out.

Owns the definitions of position, average cost, realised, unrealised, daily and total P&L, shared by
`run`, `pnl` and `liquidate`. Pure core: stdlib, decimal and `model` only; no I/O, no clock, no
floats. `project` of the same records is always the same report, so P&L survives restarts by
recomputation (the ledger stores no P&L).

Definitions (per market; YES and NO are two tokens, each with a position and a cost basis)
------------------------------------------------------------------------------------------
- Which records count: FAILED fills count for nothing (reversed, docs/protocol.md §10). MATCHED, MINED and
  RETRYING fills count but are provisional (`provisional_fill_count`); CONFIRMED are final.
- Order: events are applied in time order (fills by `venue_ts`, flows by `ts`); at equal times
  DEPOSIT and SPLIT flows come first, then fills, then the other flows; ties keep input order.
  Order only moves P&L between realised and unrealised, never the total.
- Average cost: each token carries a cost basis; a BUY adds price x size, a sell releases the
  average cost of what it sold (basis x sold/position, carried to 1e-18). Sells never change the
  average; `avg_cost_* = basis / position`, None when flat.
- Realised P&L on a sell = (sell price - average cost) x size.
- Shorts: selling more than is held turns the excess into a short whose average cost is the sale
  price (more sales average in); buying covers it and realises (average - buy price) x size.
- SPLIT (collateral -> YES + NO pairs): both tokens are bought at a combined 1 pUSD per pair,
  allocated 50/50 unless the flow's note carries `yes_price=<p>` (YES at p, NO at 1 - p). MERGE
  (pairs -> collateral) sells both at the same allocation, so a pair realises 1 - (avg_yes + avg_no).
  The allocation never changes total P&L.
- REDEEM realises the payout minus the average cost of the tokens redeemed.
- REWARD (liquidity rewards) and REBATE (maker rebates) flows are realised P&L (positive), also
  summed apart (`rewards`, `rebates`); FEE flows are fees. DEPOSIT and WITHDRAW are not P&L
  (`net_deposits`). Flows without a market (account-wide rewards, rebates and fees) count in the
  report totals only (`account_rewards`, `account_fees`).
- Income comes in three kinds: `rewards`, `rebates`, and spread capture = total P&L - rewards -
  rebates (what trading made: realised + unrealised, net of the fees trading paid).
  `income_breakdown` gives the three of a report.
- Fees (fill fees, which we pay in pUSD, plus FEE flows) are reported apart: `realized_pnl` is
  GROSS of fees and `total_pnl = realized_pnl + (unrealized_pnl or 0) - fees`, per market and in
  the totals.
- Marks: `marks[condition_id]` is the YES mid; NO is marked at 1 - mid. Unrealised P&L =
  position x mark - cost basis, summed over both tokens. Without a mark it is None (never a
  guessed price), except for a flat market, whose unrealised P&L is 0.
- Resolution: a resolved market (`Market.winner` set, as the ledger's market metadata records it) is
  marked at what its tokens pay (YES at 1 when YES won, 0 when NO won; any mark given is ignored)
  and its unrealised P&L is realised: `realized_pnl` includes the payout the positions are owed,
  `unrealized_pnl` is 0, redeemed or not. A REDEEM afterwards swaps the tokens for that payout and
  leaves every total where it was.
- Daily P&L (since `day_start`, unix seconds; events at or after it count): the cash of that day's
  fills and flows (fees included, deposits excluded) plus that day's position change of each token
  x its current mark. A move of the mark on inventory carried into the day is not daily P&L. None
  when a mark is needed and missing. With `day_start=None` the day is all of history, and daily P&L
  equals total P&L (for a marked market).
- `cash_delta`: pUSD that moved through the market (fills with fees, SPLIT/MERGE/REDEEM/FEE/REWARD).
  The invariant the tests hold us to: report.cash_delta + sum(position x mark) == report.total_pnl
  + report.net_deposits, exactly, whatever the order and allocation (realised P&L is defined as the
  event's cash plus the change of the cost basis, so it cannot drift from cash).
- `volume` is the pUSD notional (price x size) of the effective fills.

Must not: read the ledger, a venue or a clock; guess a mark; round anything the user sees beyond
the 1e-18 carried on released cost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation, localcontext

from polymm_cli.model import ONE, ZERO, FillRecord, FlowKind, FlowRecord, Market, Side, TradeStatus

YES = 0
NO = 1
_PROVISIONAL = frozenset({TradeStatus.MATCHED, TradeStatus.MINED, TradeStatus.RETRYING})
# Wide enough that every sum of micro-unit amounts and 1e-18 costs is exact.
_WIDE = Context(prec=80, traps=[InvalidOperation])
_DISPLAY = Context(prec=28)
_CARRY = Decimal("1e-18")
_FIRST_FLOWS = frozenset({FlowKind.DEPOSIT, FlowKind.SPLIT})
_INCOME = frozenset({FlowKind.REWARD, FlowKind.REBATE})
_CASH_ONLY = frozenset({FlowKind.DEPOSIT, FlowKind.WITHDRAW, FlowKind.FEE, *_INCOME})


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketPnl:
    """Positions and P&L of one market (see the module docstring for every definition)."""

    condition_id: str
    yes_position: Decimal
    no_position: Decimal
    net_position: Decimal  # YES - NO
    avg_cost_yes: Decimal | None
    avg_cost_no: Decimal | None
    realized_pnl: Decimal  # gross of fees, rewards and rebates included
    unrealized_pnl: Decimal | None
    fees: Decimal
    total_pnl: Decimal  # realized + (unrealized or 0) - fees
    daily_pnl: Decimal | None
    volume: Decimal
    fill_count: int  # effective fills (FAILED excluded)
    provisional_fill_count: int  # effective fills not yet CONFIRMED
    failed_fill_count: int
    cash_delta: Decimal
    mark: Decimal | None  # the YES mid used
    rewards: Decimal = ZERO  # liquidity rewards paid (REWARD flows; in realized_pnl)
    rebates: Decimal = ZERO  # maker rebates paid (REBATE flows; in realized_pnl)
    resolved: bool = False  # marked at the payout, everything realised (module docstring)

    @property
    def spread_capture(self) -> Decimal:
        """What trading made: total P&L less rewards and rebates (unrealised counted as 0 when unmarked)."""
        return self.total_pnl - self.rewards - self.rebates

    @property
    def marked(self) -> bool:
        """Whether every figure is known (no mark was missing where one was needed)."""
        return self.unrealized_pnl is not None and self.daily_pnl is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class PnlReport:
    """Every market's P&L (sorted by condition id) and the totals.

    Totals are the sums over markets plus the account-wide flows; a market's unknown unrealised or
    daily P&L adds nothing and its id is listed in `unmarked`.
    """

    markets: tuple[MarketPnl, ...]
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    total_pnl: Decimal
    daily_pnl: Decimal
    cash_delta: Decimal  # all pUSD moved, deposits and withdrawals included
    net_deposits: Decimal
    account_rewards: Decimal  # market-less REWARD and REBATE flows (in realized_pnl)
    account_fees: Decimal  # market-less FEE flows (in fees)
    fill_count: int
    provisional_fill_count: int
    unmarked: tuple[str, ...] = field(default=())
    rewards: Decimal = ZERO  # every REWARD flow (markets' and account-wide)
    rebates: Decimal = ZERO  # every REBATE flow

    @property
    def spread_capture(self) -> Decimal:
        """What trading made: total P&L less rewards and rebates."""
        return self.total_pnl - self.rewards - self.rebates

    def market(self, condition_id: str) -> MarketPnl | None:
        """The P&L of one market, None when it has no records."""
        for item in self.markets:
            if item.condition_id == condition_id:
                return item
        return None


class _Book:
    """The running state of one market while events are applied (private, mutable)."""

    __slots__ = (
        "basis",
        "cash",
        "day_cash",
        "day_moves",
        "failed",
        "fees",
        "fills",
        "position",
        "provisional",
        "realized",
        "rebates",
        "rewards",
        "volume",
    )

    def __init__(self) -> None:
        self.position = [ZERO, ZERO]
        self.basis = [ZERO, ZERO]
        self.day_moves = [ZERO, ZERO]
        self.realized = ZERO
        self.fees = ZERO
        self.cash = ZERO
        self.day_cash = ZERO
        self.volume = ZERO
        self.fills = 0
        self.provisional = 0
        self.failed = 0
        self.rewards = ZERO
        self.rebates = ZERO

    def trade(self, token: int, qty: Decimal, price: Decimal) -> Decimal:
        """Move `qty` (signed) of a token at `price`; returns the change of its cost basis."""
        held = self.position[token]
        before = basis = self.basis[token]
        if held == 0 or (held > 0) == (qty > 0):
            basis += qty * price
            held += qty
        else:
            closing = min(abs(qty), abs(held))
            released = basis if closing == abs(held) else _carry(basis * closing / abs(held))
            basis -= released
            step = closing if qty > 0 else -closing
            held += step
            rest = qty - step
            if rest:  # crossed through flat: the rest opens a position at this price
                basis = rest * price
                held = rest
        self.position[token] = held
        self.basis[token] = basis
        return basis - before

    def event(self, cash: Decimal, legs: Iterable[tuple[int, Decimal, Decimal]], today: bool) -> None:
        """Apply one event: its pUSD (fees excluded) and its token legs; realises cash + basis change."""
        basis_change = ZERO
        for token, qty, price in legs:
            if qty:
                basis_change += self.trade(token, qty, price)
                if today:
                    self.day_moves[token] += qty
        self.realized += cash + basis_change
        self.cash += cash
        if today:
            self.day_cash += cash

    def pay_fee(self, amount: Decimal, today: bool) -> None:
        self.fees += amount
        self.cash -= amount
        if today:
            self.day_cash -= amount


def _carry(value: Decimal) -> Decimal:
    """Released cost is carried to 1e-18 pUSD so every later sum stays exact."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -18:
        return value
    return value.quantize(_CARRY)


def _clean(value: Decimal) -> Decimal:
    """Plain form for display: no trailing zeros, no exponent, no negative zero."""
    if not value:
        return ZERO
    if value == value.to_integral_value():
        return value.quantize(ONE, context=_WIDE)
    return value.normalize(_WIDE)


def _allocation(flow: FlowRecord, pair_value: Decimal) -> tuple[Decimal, Decimal]:
    """Per-token prices of a SPLIT/MERGE pair: 50/50 of the pair's value unless the note says."""
    for part in flow.note.replace(",", " ").replace(";", " ").split():
        key, _, raw = part.partition("=")
        if key.strip().lower() == "yes_price":
            try:
                yes_price = Decimal(raw.strip())
            except InvalidOperation:
                raise ValueError(f"flow {flow.flow_id}: bad yes_price {raw!r} in its note") from None
            if not yes_price.is_finite() or not ZERO <= yes_price <= pair_value:
                raise ValueError(f"flow {flow.flow_id}: yes_price {raw} is outside [0, {pair_value}]")
            return yes_price, pair_value - yes_price
    half = _carry(pair_value / 2)
    return half, pair_value - half


def _flow_legs(flow: FlowRecord) -> list[tuple[int, Decimal, Decimal]]:
    """The token legs of a SPLIT, MERGE or REDEEM flow, each with the price it moves at."""
    yes, no, cash = flow.yes_delta, flow.no_delta, flow.collateral_delta
    if flow.kind in (FlowKind.SPLIT, FlowKind.MERGE):
        pairs = abs(yes)
        if not pairs or abs(no) != pairs:
            raise ValueError(f"flow {flow.flow_id}: a {flow.kind.value} needs equal YES and NO amounts")
        yes_price, no_price = _allocation(flow, abs(cash) / pairs)
        return [(YES, yes, yes_price), (NO, no, no_price)]
    # REDEEM: the price only matters for tokens we did not hold (a short opened by an
    # incomplete ledger); they go at the average payout per token.
    tokens = abs(yes) + abs(no)
    price = _carry(cash / tokens) if tokens else ZERO
    return [(YES, yes, price), (NO, no, price)]


def _fill_token(fill: FillRecord, markets: Mapping[str, Market]) -> int:
    market = markets.get(fill.market)
    if market is None:
        raise ValueError(f"fill {fill.trade_id}/{fill.order_id}: no market metadata for {fill.market}")
    if fill.token_id == market.yes_token:
        return YES
    if fill.token_id == market.no_token:
        return NO
    raise ValueError(
        f"fill {fill.trade_id}/{fill.order_id}: token {fill.token_id} is not in market {fill.market}"
    )


def _mark(marks: Mapping[str, Decimal], condition_id: str) -> Decimal | None:
    mark = marks.get(condition_id)
    if mark is None:
        return None
    if not isinstance(mark, Decimal) or not mark.is_finite() or not ZERO <= mark <= ONE:
        raise ValueError(f"mark of {condition_id} must be a Decimal in [0, 1], got {mark!r}")
    return mark


def _market_pnl(condition_id: str, book: _Book, mark: Decimal | None, *, resolved: bool = False) -> MarketPnl:
    prices = None if mark is None else (mark, ONE - mark)
    flat = book.position[YES] == 0 and book.position[NO] == 0
    unrealized: Decimal | None
    if prices is not None:
        unrealized = sum(
            (book.position[t] * prices[t] - book.basis[t] for t in (YES, NO)),
            start=ZERO,
        )
    else:
        unrealized = ZERO if flat else None
    daily: Decimal | None
    if prices is not None:
        daily = book.day_cash + sum((book.day_moves[t] * prices[t] for t in (YES, NO)), start=ZERO)
    elif book.day_moves[YES] == 0 and book.day_moves[NO] == 0:
        daily = book.day_cash
    else:
        daily = None
    avg = [
        None if book.position[t] == 0 else _clean(_DISPLAY.divide(book.basis[t], book.position[t]))
        for t in (YES, NO)
    ]
    total = book.realized + (unrealized or ZERO) - book.fees
    realized = book.realized
    if resolved and unrealized is not None:  # the payout is owed: realised, redeemed or not
        realized, unrealized = realized + unrealized, ZERO
    return MarketPnl(
        condition_id=condition_id,
        yes_position=_clean(book.position[YES]),
        no_position=_clean(book.position[NO]),
        net_position=_clean(book.position[YES] - book.position[NO]),
        avg_cost_yes=avg[YES],
        avg_cost_no=avg[NO],
        realized_pnl=_clean(realized),
        unrealized_pnl=None if unrealized is None else _clean(unrealized),
        fees=_clean(book.fees),
        total_pnl=_clean(total),
        daily_pnl=None if daily is None else _clean(daily),
        volume=_clean(book.volume),
        fill_count=book.fills,
        provisional_fill_count=book.provisional,
        failed_fill_count=book.failed,
        cash_delta=_clean(book.cash),
        mark=mark,
        rewards=_clean(book.rewards),
        rebates=_clean(book.rebates),
        resolved=resolved,
    )


def _resolved_mark(market: Market | None, mark: Decimal | None) -> tuple[Decimal | None, bool]:
    """The mark a market is projected at and whether it resolved: a resolved market's payout."""
    if market is not None and market.payout_mark is not None:
        return market.payout_mark, True
    return mark, False


def day_start(now: float) -> float:
    """The start of the UTC day `now` (unix seconds) falls in: where daily P&L begins."""
    return now - (now % 86_400)


def project(
    fills: Iterable[FillRecord],
    flows: Iterable[FlowRecord],
    markets: Mapping[str, Market],
    marks: Mapping[str, Decimal],
    *,
    day_start: float | None = None,
) -> PnlReport:
    """Positions and P&L of every market with records, from the ledger's fills and flows.

    `markets` maps condition id -> Market (needed to tell a fill's YES token from its NO token);
    `marks` maps condition id -> YES mid (a resolved market is marked at its payout instead).
    ValueError when a fill's market or token is unknown or a mark is outside [0, 1].
    """
    with localcontext(_WIDE):
        return _project(fills, flows, markets, marks, day_start)


def _order(record: FillRecord | FlowRecord) -> tuple[float, int]:
    """Where a record goes in time: its time, then DEPOSIT/SPLIT flows, fills, other flows."""
    if isinstance(record, FillRecord):
        return (record.venue_ts, 1)
    return (record.ts, 0 if record.kind in _FIRST_FLOWS else 2)


def _apply_fill(book: _Book, fill: FillRecord, token: int, today: bool) -> None:
    if not fill.effective:
        book.failed += 1
        return
    book.fills += 1
    if fill.status in _PROVISIONAL:
        book.provisional += 1
    book.volume += fill.price * fill.size
    qty = fill.size if fill.side is Side.BUY else -fill.size
    book.event(-qty * fill.price, [(token, qty, fill.price)], today)
    if fill.fee:
        book.pay_fee(fill.fee, today)


def _apply_market_flow(book: _Book, flow: FlowRecord, today: bool) -> None:
    """A flow of one market: a FEE, a REWARD or REBATE, or a SPLIT / MERGE / REDEEM with its token legs."""
    if flow.kind is FlowKind.FEE:
        book.pay_fee(-flow.collateral_delta, today)
    elif flow.kind in _INCOME:
        book.event(flow.collateral_delta, (), today)
        if flow.kind is FlowKind.REWARD:
            book.rewards += flow.collateral_delta
        else:
            book.rebates += flow.collateral_delta
    else:
        book.event(flow.collateral_delta, _flow_legs(flow), today)


def _check_flow(flow: FlowRecord) -> None:
    if flow.kind in _CASH_ONLY:
        if flow.yes_delta or flow.no_delta:
            raise ValueError(f"flow {flow.flow_id}: a {flow.kind.value} moves collateral only")
    elif not flow.market:
        raise ValueError(f"flow {flow.flow_id}: a {flow.kind.value} needs a market")


def _in_order(
    fills: Iterable[FillRecord], flows: Iterable[FlowRecord]
) -> list[tuple[float, int, int, FillRecord | FlowRecord]]:
    """Fills and flows in the order they happened (ties in a fixed order, then as recorded)."""
    records: list[FillRecord | FlowRecord] = [*fills, *flows]
    events = [(*_order(record), index, record) for index, record in enumerate(records)]
    events.sort(key=lambda item: item[:3])
    return events


def _project(
    fills: Iterable[FillRecord],
    flows: Iterable[FlowRecord],
    markets: Mapping[str, Market],
    marks: Mapping[str, Decimal],
    day_start: float | None,
) -> PnlReport:
    books: dict[str, _Book] = {}
    net_deposits = account_rewards = account_fees = account_day = ZERO
    account_income = {FlowKind.REWARD: ZERO, FlowKind.REBATE: ZERO}
    for ts, _, _, record in _in_order(fills, flows):
        today = day_start is None or ts >= day_start
        if isinstance(record, FillRecord):
            _apply_fill(books.setdefault(record.market, _Book()), record, _fill_token(record, markets), today)
            continue
        flow = record
        _check_flow(flow)
        if flow.kind in (FlowKind.DEPOSIT, FlowKind.WITHDRAW):
            net_deposits += flow.collateral_delta
        elif flow.market:
            _apply_market_flow(books.setdefault(flow.market, _Book()), flow, today)
        else:  # an account-wide FEE, REWARD or REBATE
            if flow.kind is FlowKind.FEE:
                account_fees -= flow.collateral_delta
            else:
                account_rewards += flow.collateral_delta
                account_income[flow.kind] += flow.collateral_delta
            if today:
                account_day += flow.collateral_delta

    rows = tuple(
        _market_pnl(cid, books[cid], at, resolved=resolved)
        for cid in sorted(books)
        for at, resolved in [_resolved_mark(markets.get(cid), _mark(marks, cid))]
    )
    realized = sum((m.realized_pnl for m in rows), start=account_rewards)
    unrealized = sum((m.unrealized_pnl or ZERO for m in rows), start=ZERO)
    fees = sum((m.fees for m in rows), start=account_fees)
    daily = sum((m.daily_pnl or ZERO for m in rows), start=account_day)
    cash_delta = sum((m.cash_delta for m in rows), start=net_deposits + account_rewards - account_fees)
    return PnlReport(
        markets=rows,
        realized_pnl=_clean(realized),
        unrealized_pnl=_clean(unrealized),
        fees=_clean(fees),
        total_pnl=_clean(realized + unrealized - fees),
        daily_pnl=_clean(daily),
        cash_delta=_clean(cash_delta),
        net_deposits=_clean(net_deposits),
        account_rewards=_clean(account_rewards),
        account_fees=_clean(account_fees),
        fill_count=sum(m.fill_count for m in rows),
        provisional_fill_count=sum(m.provisional_fill_count for m in rows),
        unmarked=tuple(m.condition_id for m in rows if not m.marked),
        rewards=_clean(sum((m.rewards for m in rows), start=account_income[FlowKind.REWARD])),
        rebates=_clean(sum((m.rebates for m in rows), start=account_income[FlowKind.REBATE])),
    )


@dataclass(frozen=True, slots=True)
class IncomeBreakdown:
    """The three kinds of income of a session or an account, in pUSD; they sum to the total P&L."""

    spread_capture: Decimal  # trading: realised + unrealised, net of the fees it paid
    rewards: Decimal  # liquidity rewards paid
    rebates: Decimal  # maker rebates paid

    @property
    def total(self) -> Decimal:
        return self.spread_capture + self.rewards + self.rebates


def income_breakdown(
    fills: Iterable[FillRecord],
    flows: Iterable[FlowRecord],
    markets: Mapping[str, Market],
    marks: Mapping[str, Decimal],
) -> IncomeBreakdown:
    """Spread capture, rewards and rebates of a ledger's records (the quality bench calls it with a
    session's ledger: `ledger.fills()`, `ledger.flows()`), marked at `marks` (YES marks by condition
    id, e.g. the latent fair value). The three sum to `project(...).total_pnl`."""
    report = project(fills, flows, markets, marks)
    return IncomeBreakdown(report.spread_capture, report.rewards, report.rebates)


class MarketProjection:
    """One market's positions and P&L kept current as its records arrive: what `project` of the same
    records would say, without re-reading them all on every fill.

    A record that comes in time order is applied at once; anything else - a record older than the
    last one applied (a resync), a fill that FAILED after it counted, a new day for daily P&L -
    marks the projection stale and the next `pnl` re-projects the market's records (kept here) once.
    `settled` positions exclude fills not yet CONFIRMED (a MATCHED fill can still fail): they are
    what may be sold.
    """

    def __init__(self, market: Market, day_start: float | None = None) -> None:
        self.market = market
        self._day_start = day_start
        self._fills: dict[tuple[str, str], FillRecord] = {}
        self._flows: list[FlowRecord] = []
        self._book = _Book()
        self._last: tuple[float, int] = (float("-inf"), 0)
        self._stale = False
        self._pending = [ZERO, ZERO]  # net size of fills still settling, per token

    def add_fill(self, fill: FillRecord) -> None:
        """A fill recorded for the first time (with its first status)."""
        self._fills[fill.key] = fill
        if fill.effective and fill.status is not TradeStatus.CONFIRMED:
            self._pending[_fill_token(fill, {fill.market: self.market})] += _signed(fill)
        self._apply(fill)

    def set_status(self, key: tuple[str, str], status: TradeStatus) -> None:
        """A recorded fill moved on (MINED, CONFIRMED, FAILED...)."""
        before = self._fills.get(key)
        if before is None or before.status is status:
            return
        after = dataclasses.replace(before, status=status)
        self._fills[key] = after
        token = _fill_token(before, {before.market: self.market})
        if before.effective and before.status is not TradeStatus.CONFIRMED:
            self._pending[token] -= _signed(before)
        if after.effective and after.status is not TradeStatus.CONFIRMED:
            self._pending[token] += _signed(after)
        if before.effective != after.effective:
            self._stale = True  # a reversal changes every average after it
        elif (before.status in _PROVISIONAL) != (after.status in _PROVISIONAL):
            self._book.provisional += -1 if before.status in _PROVISIONAL else 1

    def add_flow(self, flow: FlowRecord) -> None:
        """A split, merge, redeem, reward or fee of this market."""
        _check_flow(flow)
        self._flows.append(flow)
        self._apply(flow)

    def pnl(self, mark: Decimal | None, *, day_start: float | None = None) -> MarketPnl:
        """The market's P&L marked at the YES `mark` (at the payout once `market` resolved: the
        engine replaces `market` when it learns the winner), daily P&L since `day_start`."""
        with localcontext(_WIDE):
            if day_start != self._day_start:
                self._day_start, self._stale = day_start, True
            if self._stale:
                self._rebuild()
            at, resolved = _resolved_mark(self.market, _mark({} if mark is None else {"m": mark}, "m"))
            return _market_pnl(self.market.condition_id, self._book, at, resolved=resolved)

    def settled(self) -> tuple[Decimal, Decimal]:
        """YES and NO positions counting CONFIRMED fills only (flows included)."""
        if self._stale:
            self.pnl(None, day_start=self._day_start)
        return (
            self._book.position[YES] - self._pending[YES],
            self._book.position[NO] - self._pending[NO],
        )

    def _apply(self, record: FillRecord | FlowRecord) -> None:
        order = _order(record)
        if self._stale or order < self._last:
            self._stale = True
            return
        self._last = order
        today = self._day_start is None or order[0] >= self._day_start
        with localcontext(_WIDE):
            if isinstance(record, FillRecord):
                _apply_fill(self._book, record, _fill_token(record, {record.market: self.market}), today)
            elif record.kind not in (FlowKind.DEPOSIT, FlowKind.WITHDRAW):
                _apply_market_flow(self._book, record, today)

    def _rebuild(self) -> None:
        ordered = _in_order(self._fills.values(), self._flows)
        self._book, self._last, self._stale = _Book(), (float("-inf"), 0), False
        for *_, record in ordered:
            self._apply(record)


def _signed(fill: FillRecord) -> Decimal:
    return fill.size if fill.side is Side.BUY else -fill.size

"""REST records (`/data/orders`, `/data/trades`, `/balance-allowance`, `/rewards/user`,
`/rebates/current`) -> the venue port's values.

REST order and trade records have the same fields as the user channel's `order`/`trade` events
(docs/protocol.md §3.6, §6.3), so they are parsed by the same event parsers (`wire.parse_user_record`,
on the record as decoded, exact decimals and all): one parser decides which maker fills are ours, how
statuses normalise and how timestamps read, for WebSocket and REST alike.

Also owns the fill-size normalisation shared by both paths: a matched amount within 1e-6 of a 0.01
multiple is that multiple (the venue's base-unit arithmetic leaves dust like 4.999999).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from polymm_cli.errors import VenueError
from polymm_cli.model import MICRO
from polymm_cli.venues.base import OpenOrder, OrderUpdate, Payout, PayoutKind, TradeUpdate
from polymm_cli.venues.polymarket.wire import WireError, parse_user_record

_CENT = Decimal("0.01")
_DUST = MICRO


def snap_size(size: Decimal) -> Decimal:
    """`size` snapped to the nearest 0.01 multiple when it lies within 1e-6 of it."""
    snapped = size.quantize(_CENT)
    if snapped != size and abs(snapped - size) <= _DUST:
        return snapped
    return size


def normalise_trade(update: TradeUpdate) -> TradeUpdate:
    """The update with dust-free fill sizes (the same object when nothing changes)."""
    changed = False
    fills = []
    for fill in update.fills:
        size = snap_size(fill.size)
        if size is not fill.size:
            fill = dataclasses.replace(fill, size=size)
            changed = True
        fills.append(fill)
    return dataclasses.replace(update, fills=tuple(fills)) if changed else update


def order_update_of(record: Any, recv_ts: float, *, api_key: str, maker_address: str) -> OrderUpdate:
    """A REST OpenOrder record as an OrderUpdate of kind UPDATE (its current state)."""
    if isinstance(record, Mapping) and "type" not in record:
        record = {**record, "type": "UPDATE"}
    event = parse_user_record(record, "order", recv_ts, api_key=api_key, maker_address=maker_address)
    if not isinstance(event, OrderUpdate):
        raise WireError("order record did not parse as one order")
    return event


def trade_update_of(record: Any, recv_ts: float, *, api_key: str, maker_address: str) -> TradeUpdate:
    """A REST trade record as a TradeUpdate carrying our fills (normalised)."""
    event = parse_user_record(record, "trade", recv_ts, api_key=api_key, maker_address=maker_address)
    if not isinstance(event, TradeUpdate):
        raise WireError("trade record did not parse as one trade")
    return normalise_trade(event)


def open_order_of(update: OrderUpdate) -> OpenOrder:
    return OpenOrder(
        order_id=update.order_id,
        market=update.market,
        token_id=update.token_id,
        side=update.side,
        price=update.price,
        original_size=update.original_size,
        size_matched=update.size_matched,
        created_ts=update.venue_ts,
    )


def base_units_balance(body: Any, what: str) -> Decimal:
    """`balance` of a /balance-allowance answer (1e-6 base units) in human units."""
    if not isinstance(body, Mapping):
        raise VenueError(f"balance of {what}: unexpected answer {type(body).__name__}")
    raw = body.get("balance")
    if isinstance(raw, bool) or raw is None:
        raise VenueError(f"balance of {what}: missing 'balance'")
    try:
        units = Decimal(raw) if isinstance(raw, int | Decimal) else Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise VenueError(f"balance of {what}: not a number") from None
    if not units.is_finite():
        raise VenueError(f"balance of {what}: not a number")
    return units.scaleb(-6)


# The amount's key in a payout record: `/rewards/user` items carry `earnings` (reference §3.10); the
# shape of `/rebates/current` items is not documented, so the likely names are tried in turn.
_PAYOUT_AMOUNT_KEYS = ("earnings", "rebated_fees_usdc", "amount")
DAY_S = 86_400.0


def payout_of(record: Any, kind: PayoutKind) -> Payout | None:
    """A `/rewards/user` or `/rebates/current` item as a Payout; None for a zero amount. WireError
    for a record without a date or an amount. Polymarket pays a day's income at the next 00:00 UTC
    and gives no id: the id is made of kind, date, market and asset; an item that carries its own
    `payout_id` and `epoch_end` (the local exchange's, whose epochs can be shorter) keeps them."""
    if not isinstance(record, Mapping):
        raise WireError(f"a {kind} record is not an object")
    date = record.get("date")
    try:
        day = datetime.strptime(str(date), "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise WireError(f"a {kind} record has no valid date: {str(date)[:24]!r}") from None
    amount = next((record[k] for k in _PAYOUT_AMOUNT_KEYS if record.get(k) is not None), None)
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise WireError(f"a {kind} record has no valid amount: {str(amount)[:24]!r}") from None
    if not value.is_finite() or value < 0:
        raise WireError(f"a {kind} record has no valid amount: {str(amount)[:24]!r}")
    if value == 0:
        return None
    market = str(record.get("condition_id") or "")
    asset = str(record.get("asset_address") or "")
    own_id = record.get("payout_id")
    paid = record.get("epoch_end")
    return Payout(
        payout_id=str(own_id) if own_id else f"{kind}:{date}:{market}:{asset.lower()}",
        kind=kind,
        market=market,
        amount=value,
        period=str(date) if not own_id else f"{date} (epoch ending {paid})",
        paid_ts=float(paid)
        if isinstance(paid, int | float | Decimal) and not isinstance(paid, bool)
        else day + DAY_S,
    )

"""The local exchange's state file: accounts, keys, orders, trades and books survive a restart.

JSON with Decimals as strings, written atomically and durably (see `save`), so a crash mid-write
leaves the previous state intact. Books are rebuilt from the live orders in their original time priority.
"""

from __future__ import annotations

import ast
import itertools
import json
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from polymm_cli.clock import Clock
from polymm_cli.exchange.accounts import Account, ApiKey, Heartbeat, Leg
from polymm_cli.exchange.core import LocalExchange, SettlementConfig, _Trade
from polymm_cli.exchange.events import MakerFillView
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.matching import RestingOrder
from polymm_cli.exchange.payouts import IncomeConfig
from polymm_cli.files import write_atomic
from polymm_cli.model import Market, OrderType, RewardParams, Side, TradeStatus

FORMAT_VERSION = 2  # 2 added the exchange's own random secrets; a version 1 file gets fresh ones
READABLE_VERSIONS = (1, 2)


def _dec(value: Decimal) -> str:
    return str(value)


def _market(m: Market) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(asdict(m), default=str))
    return data


def _market_from(data: dict[str, Any]) -> Market:
    rewards = RewardParams(**{k: Decimal(v) for k, v in data.pop("rewards").items()})
    for key in ("tick_size", "min_order_size", "taker_fee_rate", "maker_rebate_rate"):
        if key in data:  # a state file older than maker rebates has no rebate rate
            data[key] = Decimal(data[key])
    return Market(rewards=rewards, **data)


def _order(o: RestingOrder) -> dict[str, Any]:
    return {
        "order_id": o.order_id,
        "owner": o.owner,
        "address": o.address,
        "market": o.market,
        "token_id": o.token_id,
        "side": o.side.value,
        "price": _dec(o.price),
        "original_size": _dec(o.original_size),
        "order_type": o.order_type.value,
        "is_yes": o.is_yes,
        "seq": o.seq,
        "created_at": o.created_at,
        "expiration": o.expiration,
        "size_matched": _dec(o.size_matched),
        "status": o.status,
        "associate_trades": o.associate_trades,
    }


def _order_from(d: dict[str, Any]) -> RestingOrder:
    return RestingOrder(
        order_id=d["order_id"],
        owner=d["owner"],
        address=d["address"],
        market=d["market"],
        token_id=d["token_id"],
        side=Side(d["side"]),
        price=Decimal(d["price"]),
        original_size=Decimal(d["original_size"]),
        order_type=OrderType(d["order_type"]),
        is_yes=d["is_yes"],
        seq=d["seq"],
        created_at=d["created_at"],
        expiration=d["expiration"],
        size_matched=Decimal(d["size_matched"]),
        status=d["status"],
        associate_trades=list(d["associate_trades"]),
    )


def _account(a: Account) -> dict[str, Any]:
    return {
        "address": a.address,
        "collateral": _dec(a.collateral),
        "tokens": {k: _dec(v) for k, v in a.tokens.items()},
        "allowance_set": a.allowance_set,
        "pending_collateral": _dec(a.pending_collateral),
        "pending_tokens": {k: _dec(v) for k, v in a.pending_tokens.items()},
    }


def _trade(t: _Trade) -> dict[str, Any]:
    return {
        "trade_id": t.trade_id,
        "market": t.market,
        "taker": t.taker.order_id,
        "token_id": t.token_id,
        "side": t.side.value,
        "size": _dec(t.size),
        "price": _dec(t.price),
        "fee_rate_bps": t.fee_rate_bps,
        "taker_fee": _dec(t.taker_fee),
        "status": t.status.value,
        "match_time": t.match_time,
        "last_update": t.last_update,
        "transaction_hash": t.transaction_hash,
        "maker_fills": [
            {**asdict(m), "side": m.side.value, "size": _dec(m.size), "price": _dec(m.price)}
            for m in t.maker_fills
        ],
        "legs": [
            {**asdict(leg), "give_amount": _dec(leg.give_amount), "receive_amount": _dec(leg.receive_amount)}
            for leg in t.legs
        ],
        "will_fail": t.will_fail,
        "stage": t.stage,
    }


def snapshot(exchange: LocalExchange) -> dict[str, Any]:
    orders = dict(exchange.orders)
    for trade in exchange.trades.values():  # a trade's taker order must be restorable even if pruned
        orders.setdefault(trade.taker.order_id, trade.taker)
    return {
        "format": FORMAT_VERSION,
        "seed": exchange.seed,
        "api_secret": exchange.api_secret.hex(),
        "id_salt": exchange.id_salt.hex(),
        "markets": [_market(m) for m in exchange.markets.values()],
        "accounts": [_account(a) for a in exchange.accounts.values()],
        "api_keys": [asdict(k) for k in exchange.api_keys.by_key.values()],
        "heartbeats": {k: asdict(v) for k, v in exchange.heartbeats.items()},
        "orders": [_order(o) for o in sorted(orders.values(), key=lambda o: o.seq)],
        "trades": [_trade(t) for t in exchange.trades.values()],
        "last_trade": {k: [_dec(p), s.value] for k, (p, s) in exchange.last_trade.items()},
        "rng": repr(exchange.rng.getstate()),
        "seq": max((o.seq for o in orders.values()), default=0) + 1,
        "income": exchange.income.to_json(),  # absent from older files: they start a fresh desk
    }


def save(exchange: LocalExchange, path: Path) -> None:
    """Replace the state file atomically and durably: the new state goes to a temp file in the same
    directory (mode 0600: it holds API secrets), is flushed and fsynced, renamed over the old file,
    and the directory is fsynced so the rename itself survives a power cut. A crash at any point
    leaves the old file or the new one, whole, never a truncated one."""
    text = json.dumps(snapshot(exchange), separators=(",", ":"))  # a failure here writes nothing
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


def _trade_from(t: dict[str, Any], taker: RestingOrder) -> _Trade:
    return _Trade(
        trade_id=t["trade_id"],
        market=t["market"],
        taker=taker,
        token_id=t["token_id"],
        side=Side(t["side"]),
        size=Decimal(t["size"]),
        price=Decimal(t["price"]),
        fee_rate_bps=t["fee_rate_bps"],
        taker_fee=Decimal(t["taker_fee"]),
        status=TradeStatus(t["status"]),
        match_time=t["match_time"],
        last_update=t["last_update"],
        transaction_hash=t["transaction_hash"],
        maker_fills=[
            MakerFillView(
                **{**m, "side": Side(m["side"]), "size": Decimal(m["size"]), "price": Decimal(m["price"])}
            )
            for m in t["maker_fills"]
        ],
        legs=[
            Leg(
                **{
                    **leg,
                    "give_amount": Decimal(leg["give_amount"]),
                    "receive_amount": Decimal(leg["receive_amount"]),
                }
            )
            for leg in t["legs"]
        ],
        will_fail=t["will_fail"],
        stage=t["stage"],
    )


def _restore_accounts(exchange: LocalExchange, data: dict[str, Any]) -> None:
    for a in data["accounts"]:
        acct = exchange.account(a["address"])
        acct.collateral = Decimal(a["collateral"])
        acct.tokens = {k: Decimal(v) for k, v in a["tokens"].items()}
        acct.allowance_set = a["allowance_set"]
        acct.pending_collateral = Decimal(a["pending_collateral"])
        acct.pending_tokens = {k: Decimal(v) for k, v in a["pending_tokens"].items()}
    for k in data["api_keys"]:
        exchange.api_keys.register(ApiKey(**k))
    exchange.heartbeats = {k: Heartbeat(**v) for k, v in data["heartbeats"].items()}


def _restore_orders_and_trades(exchange: LocalExchange, data: dict[str, Any], now: float) -> None:
    for d in data["orders"]:
        order = _order_from(d)
        exchange.orders[order.order_id] = order
        if order.status == "LIVE" and order.remaining > 0:
            exchange._rest(exchange.books[order.market], order)
            exchange._reserve(order, order.remaining)
        else:
            exchange._closed.append((now, order.order_id))
    for t in data["trades"]:
        trade = _trade_from(t, exchange.orders[t["taker"]])
        exchange.trades[trade.trade_id] = trade
        if trade.stage < 2:
            exchange._unsettled.append(trade)
    exchange.last_trade = {k: (Decimal(p), Side(s)) for k, (p, s) in data["last_trade"].items()}


def _secret(data: dict[str, Any], key: str) -> bytes | None:
    """A saved secret; None (the exchange draws a new one) for a version 1 file, which had none."""
    return bytes.fromhex(data[key]) if key in data else None


def restore(
    data: dict[str, Any],
    clock: Clock,
    settlement: SettlementConfig | None = None,
    income: IncomeConfig | None = None,
) -> LocalExchange:
    if data.get("format") not in READABLE_VERSIONS:
        raise ValueError(f"unsupported exchange state format {data.get('format')!r}")
    markets = [_market_from(dict(m)) for m in data["markets"]] or sample_markets()
    exchange = LocalExchange(
        markets,
        clock,
        seed=int(data["seed"]),
        settlement=settlement,
        api_secret=_secret(data, "api_secret"),
        id_salt=_secret(data, "id_salt"),
        income=income,
    )
    exchange.rng.setstate(ast.literal_eval(data["rng"]))
    if "income" in data:
        exchange.income.restore(data["income"], ast.literal_eval(data["income"]["rng"]))
    exchange._seq = itertools.count(int(data["seq"]))
    _restore_accounts(exchange, data)
    _restore_orders_and_trades(exchange, data, clock.now())
    return exchange


def load(
    path: Path, clock: Clock, settlement: SettlementConfig | None = None, income: IncomeConfig | None = None
) -> LocalExchange:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read exchange state {path}: {exc}") from None
    return restore(data, clock, settlement, income)

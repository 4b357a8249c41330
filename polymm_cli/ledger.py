"""The append-only fill ledger: every fill, settlement status, flow and run, in one SQLite file.

Owns the durable record of what we traded. P&L and positions are never stored: they are recomputed
from these rows by `pnl.project`, so a restart (or a second process running `polymm pnl`) sees the
same numbers as the bot. This is the only module that imports `sqlite3`; it depends on `model` and
`errors` only. It must not compute P&L, talk to a venue or read a clock (every time is passed in).

Storage
-------
One file (`<data_dir>/ledger.sqlite3`), WAL journal (readers never block the writer nor the writer
them), `synchronous=NORMAL` (a commit is not fsynced; a process crash loses nothing committed, a
power cut may lose the last few commits but never corrupts the file), foreign keys on, a busy
timeout for the rare moment two writers meet. Every public write is one `BEGIN IMMEDIATE`
transaction, or part of the caller's `batch()`. Rows are only ever INSERTed: no UPDATE, no DELETE
(the one exception is the schema migration below, which rebuilds tables once).

Accounts
--------
Every fill and flow belongs to an `Account` (venue + wallet): one file holds the local exchange's
demo wallet and a real Polymarket wallet side by side, and they must never meet in one position,
one P&L or one "trades since" resync. A Ledger opened for an account (`Ledger.open(dir,
account=...)`) stamps every write with it and filters every read (`fills`, `flows`, `markets`,
`last_fill_ts`, `fill_count`, `runs`, `status_history`, `accounts`) to it, so the engine and the
commands need no account logic of their own; its runs must be that account's. A Ledger opened
without an account reads every account's rows and refuses every write (ValueError): a write
always knows whose it is. `market_meta` is venue data, not an account's, and is shared.

Amounts, prices and sizes are INTEGER micro-units (value x 1e6). Prices and sizes with more than 6
decimals are refused; fees are quantized to micro-units (ROUND_HALF_EVEN) because a venue may quote
them with more precision than pUSD has.

Schema (version 3)
------------------
    schema_version(version INTEGER PRIMARY KEY)           one row per applied version; MAX is current
    runs(seq, run_id UNIQUE, started_ts, venue, markets JSON array, address)
    run_events(seq, run_id -> runs, kind, ts, detail)     kind 'ended' (unique per run) + exit reason
    fills(seq, venue, wallet, trade_id, order_id, market, token_id, side, price_micro, size_micro,
          fee_micro, liquidity, venue_ts, recv_ts, first_status, run_id -> runs NULL,
          UNIQUE(venue, wallet, trade_id, order_id))
    fill_status(seq, fill_seq -> fills.seq, status, ts,  UNIQUE(fill_seq, status))
    flows(seq, venue, wallet, flow_id, kind, market, collateral_micro, yes_micro, no_micro, ts, note,
          UNIQUE(venue, wallet, flow_id))      kind: deposit withdraw split merge redeem fee reward rebate
    market_meta(seq, condition_id, data JSON, ts,  UNIQUE(condition_id, data))

`seq` (the rowid) is the insertion order. `(venue, wallet, trade_id, order_id)` is the fill's
idempotency key: the same trade event delivered any number of times to one account is one fill row.
The account is part of the key although Polymarket's trade ids are UUIDs and its order ids hash the
maker's address, because the ledger cannot check what a venue promises: a local exchange started
from a fresh state may reuse ids, and under a key without the account a second account's fill that
met the first one's key would be dropped as a "redelivery" - silently, which is the one failure a
ledger must not have. A fill's first status lives in its own row (`first_status`, at `recv_ts`) and
every later transition is a `fill_status` row (`ts` = when the caller learned of it) that points at
the fill's `seq`: a new fill then costs one table and one index page in the WAL instead of four,
which saves a third of `record_fill` on the engine's fill path. For the same reason there is no
market index on `fills`; reads by market scan the account's rows, which is cheap next to a commit.

Migration from version 1 (fills and flows had no account)
---------------------------------------------------------
Opening a version-1 ledger migrates it, in one `BEGIN IMMEDIATE` transaction (a failure leaves the
file exactly as it was; a second process opening it meanwhile waits, then finds version 2):
`fills`, `fill_status` and `flows` are rebuilt into the version-2 tables with every row, `seq`,
status and value kept. A fill with a `run_id` takes its run's venue and address (lower-cased; an
empty address is the wallet "unknown"). A fill without one (`liquidate`'s) and every flow (version 1
recorded none with a run) take the one account the `runs` table knows when it knows exactly one,
and otherwise `Account.UNKNOWN` ("unknown:unknown"), which `polymm pnl --all` shows under that name
rather than guess a wallet. A polymm of version 1 still running on the file fails its next write
loudly (its INSERTs lack the new columns) instead of recording into the wrong account; its fills
are still at the venue, and the next run's resync records them.

Migration from version 2 (no flow kind 'rebate')
------------------------------------------------
Maker rebates are income of their own, apart from liquidity rewards (`pnl` shows the two apart), so
they are a flow kind of their own rather than a reward with a note. SQLite cannot widen a CHECK, so
opening a version-2 ledger rebuilds `flows` once (same transaction rules as above: all rows, `seq`
and values kept, or nothing changes). A version-1 ledger goes through both migrations. A polymm of
version 2 refuses a version-3 file ("newer than this polymm understands") instead of misreading it.

Settlement statuses (docs/protocol.md §10: MATCHED is provisional, CONFIRMED final, FAILED reversed)
-----------------------------------------------------------------------------------------------
A fill's current status is its latest `fill_status` row, else its `first_status`. Statuses only
move forward, by rank MATCHED(0) < MINED = RETRYING(1) < CONFIRMED(2) < FAILED(3):
- a delivery of a lower rank than the current status is ignored (MATCHED after MINED, MINED after
  CONFIRMED, anything but FAILED after CONFIRMED, everything after FAILED);
- MINED <-> RETRYING (same rank) are recorded (each at most once in `fill_status`), so a retry shows;
- FAILED after CONFIRMED IS recorded: a chain reorganisation can revert a confirmed settlement, and
  losing a real reversal costs more than honouring a bogus one (which the venue would never send).
FAILED is the reversing entry: the fill row stays, the FAILED status row is appended, and the fill
reads back with `status=FAILED`, i.e. `FillRecord.effective` is False and projections skip it.

`record_fill` writes a fill once: a redelivery (same key) writes nothing and returns False, even
when it carries a newer status or different numbers (first write wins; the venue never changes a
match's price or size). Later statuses go through `record_status`, which returns True only when
the transition was new, so a caller learns "new fill" and "new status" apart.

Flows are validated by kind (sign conventions P&L relies on): DEPOSIT collateral > 0, WITHDRAW < 0,
FEE < 0, REWARD > 0, REBATE > 0, all five without token deltas; SPLIT yes = no = -collateral > 0; MERGE
yes = no = -collateral < 0; REDEEM collateral >= 0 with yes, no <= 0 and not all zero. SPLIT, MERGE
and REDEEM need a market.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import Any

from polymm_cli.errors import ConfigError
from polymm_cli.files import create_private
from polymm_cli.model import (
    MICRO,
    ONE,
    Account,
    FillRecord,
    FlowKind,
    FlowRecord,
    Market,
    RewardParams,
    Side,
    TradeStatus,
)

SCHEMA_VERSION = 3
LEDGER_FILENAME = "ledger.sqlite3"
DEFAULT_BUSY_TIMEOUT_S = 5.0

_SCALE = 1_000_000
_MAX_MICRO = 2**63 - 1  # SQLite INTEGER
# Exact conversions: any rounding raises Inexact instead of silently losing a digit.
_EXACT = Context(prec=60, traps=[Inexact, InvalidOperation])
_FEE_ROUNDING = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation])
_LIQUIDITY = frozenset({"MAKER", "TAKER"})
_RANK = {
    TradeStatus.MATCHED: 0,
    TradeStatus.MINED: 1,
    TradeStatus.RETRYING: 1,
    TradeStatus.CONFIRMED: 2,
    TradeStatus.FAILED: 3,
}

# The tables every version has, unchanged since version 1.
_BASE_SCHEMA = """
CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY
);
CREATE TABLE runs (
    seq        INTEGER PRIMARY KEY,
    run_id     TEXT    NOT NULL UNIQUE,
    started_ts REAL    NOT NULL,
    venue      TEXT    NOT NULL,
    markets    TEXT    NOT NULL,
    address    TEXT    NOT NULL
);
CREATE TABLE run_events (
    seq    INTEGER PRIMARY KEY,
    run_id TEXT    NOT NULL REFERENCES runs (run_id),
    kind   TEXT    NOT NULL CHECK (kind IN ('ended')),
    ts     REAL    NOT NULL,
    detail TEXT    NOT NULL
);
CREATE UNIQUE INDEX run_events_one_end ON run_events (run_id) WHERE kind = 'ended';
CREATE TABLE market_meta (
    seq          INTEGER PRIMARY KEY,
    condition_id TEXT    NOT NULL CHECK (condition_id != ''),
    data         TEXT    NOT NULL,
    ts           REAL    NOT NULL,
    UNIQUE (condition_id, data)
);
"""
# The account's tables (version 2): created as they are for a new ledger and by the migration.
_ACCOUNT_SCHEMA = """
CREATE TABLE fills (
    seq         INTEGER PRIMARY KEY,
    venue       TEXT    NOT NULL CHECK (venue != ''),
    wallet      TEXT    NOT NULL CHECK (wallet != ''),
    trade_id    TEXT    NOT NULL CHECK (trade_id != ''),
    order_id    TEXT    NOT NULL CHECK (order_id != ''),
    market      TEXT    NOT NULL CHECK (market != ''),
    token_id    TEXT    NOT NULL CHECK (token_id != ''),
    side        TEXT    NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price_micro INTEGER NOT NULL CHECK (price_micro > 0 AND price_micro < 1000000),
    size_micro  INTEGER NOT NULL CHECK (size_micro > 0),
    fee_micro   INTEGER NOT NULL CHECK (fee_micro >= 0),
    liquidity   TEXT    NOT NULL CHECK (liquidity IN ('MAKER', 'TAKER')),
    venue_ts    REAL    NOT NULL,
    recv_ts     REAL    NOT NULL,
    first_status TEXT   NOT NULL
                 CHECK (first_status IN ('MATCHED', 'MINED', 'CONFIRMED', 'RETRYING', 'FAILED')),
    run_id      TEXT    REFERENCES runs (run_id),
    UNIQUE (venue, wallet, trade_id, order_id)
);
CREATE TABLE fill_status (
    seq      INTEGER PRIMARY KEY,
    fill_seq INTEGER NOT NULL REFERENCES fills (seq),
    status   TEXT    NOT NULL CHECK (status IN ('MATCHED', 'MINED', 'CONFIRMED', 'RETRYING', 'FAILED')),
    ts       REAL    NOT NULL,
    UNIQUE (fill_seq, status)
);
"""
# The flows table (version 3: kind 'rebate' added; version 2 had the same table without it).
_FLOWS_SCHEMA = """
CREATE TABLE flows (
    seq              INTEGER PRIMARY KEY,
    venue            TEXT    NOT NULL CHECK (venue != ''),
    wallet           TEXT    NOT NULL CHECK (wallet != ''),
    flow_id          TEXT    NOT NULL CHECK (flow_id != ''),
    kind             TEXT    NOT NULL
                     CHECK (kind IN ('deposit', 'withdraw', 'split', 'merge', 'redeem', 'fee', 'reward',
                                     'rebate')),
    market           TEXT    NOT NULL,
    collateral_micro INTEGER NOT NULL,
    yes_micro        INTEGER NOT NULL,
    no_micro         INTEGER NOT NULL,
    ts               REAL    NOT NULL,
    note             TEXT    NOT NULL,
    UNIQUE (venue, wallet, flow_id)
);
CREATE INDEX flows_by_account_market ON flows (venue, wallet, market, seq);
"""
_ACCOUNT_SCHEMA += _FLOWS_SCHEMA

# Version 2 -> 3: the flows table is rebuilt with the wider kind check (SQLite cannot alter a
# CHECK), every row, `seq` and value kept.
_MIGRATE_V2 = (
    "ALTER TABLE flows RENAME TO v2_flows",
    "DROP INDEX flows_by_account_market",
    *(statement for statement in _FLOWS_SCHEMA.split(";") if statement.strip()),
    """INSERT INTO flows (seq, venue, wallet, flow_id, kind, market, collateral_micro, yes_micro,
           no_micro, ts, note)
       SELECT seq, venue, wallet, flow_id, kind, market, collateral_micro, yes_micro, no_micro, ts, note
       FROM v2_flows ORDER BY seq""",
)

# Version 1 -> 2 (see the module docstring). :venue/:wallet is the account of rows with no run,
# :unknown the wallet of a run recorded without an address.
_MIGRATE_V1 = (
    "ALTER TABLE fill_status RENAME TO v1_fill_status",
    "ALTER TABLE fills RENAME TO v1_fills",
    "ALTER TABLE flows RENAME TO v1_flows",
    "DROP INDEX flows_by_market",
    *(statement for statement in _ACCOUNT_SCHEMA.split(";") if statement.strip()),
    """INSERT INTO fills (seq, venue, wallet, trade_id, order_id, market, token_id, side, price_micro,
           size_micro, fee_micro, liquidity, venue_ts, recv_ts, first_status, run_id)
       SELECT f.seq, COALESCE(lower(r.venue), :venue),
              CASE WHEN r.run_id IS NULL THEN :wallet WHEN r.address = '' THEN :unknown
                   ELSE lower(r.address) END,
              f.trade_id, f.order_id, f.market, f.token_id, f.side, f.price_micro, f.size_micro,
              f.fee_micro, f.liquidity, f.venue_ts, f.recv_ts, f.first_status, f.run_id
       FROM v1_fills f LEFT JOIN runs r ON r.run_id = f.run_id ORDER BY f.seq""",
    """INSERT INTO fill_status (seq, fill_seq, status, ts)
       SELECT s.seq, f.seq, s.status, s.ts
       FROM v1_fill_status s JOIN v1_fills f ON f.trade_id = s.trade_id AND f.order_id = s.order_id
       ORDER BY s.seq""",
    """INSERT INTO flows (seq, venue, wallet, flow_id, kind, market, collateral_micro, yes_micro,
           no_micro, ts, note)
       SELECT seq, :venue, :wallet, flow_id, kind, market, collateral_micro, yes_micro, no_micro, ts, note
       FROM v1_flows ORDER BY seq""",
)
_MIGRATED_TABLES = ("fill_status", "fills", "flows")

# Statements are constant strings so sqlite3's statement cache prepares each one once. `{scope}`
# is filled once per Ledger: its account (two parameters first) or every account (no parameter).
_INSERT_FILL = (
    "INSERT INTO fills (venue, wallet, trade_id, order_id, market, token_id, side, price_micro, size_micro,"
    " fee_micro, liquidity, venue_ts, recv_ts, first_status, run_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_INSERT_STATUS = "INSERT INTO fill_status (fill_seq, status, ts) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
_LATEST_STATUS = (
    "COALESCE((SELECT s.status FROM fill_status s WHERE s.fill_seq = f.seq ORDER BY s.seq DESC LIMIT 1),"
    " f.first_status)"
)
_CURRENT_STATUS = (
    f"SELECT f.seq, {_LATEST_STATUS} FROM fills f"
    " WHERE f.venue = ? AND f.wallet = ? AND f.trade_id = ? AND f.order_id = ?"
)
_STATUS_HISTORY = """
SELECT f.first_status, f.recv_ts, f.seq, 0 FROM fills f
WHERE {scope} AND f.trade_id = ? AND f.order_id = ?
UNION ALL
SELECT s.status, s.ts, f.seq, s.seq FROM fill_status s JOIN fills f ON f.seq = s.fill_seq
WHERE {scope} AND f.trade_id = ? AND f.order_id = ?
ORDER BY 3, 4
"""
_INSERT_FLOW = (
    "INSERT INTO flows (venue, wallet, flow_id, kind, market, collateral_micro, yes_micro, no_micro, ts,"
    " note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_SELECT_FILLS = f"""
SELECT f.trade_id, f.order_id, f.market, f.token_id, f.side, f.price_micro, f.size_micro, f.fee_micro,
       f.liquidity, f.venue_ts, f.recv_ts, {_LATEST_STATUS}
FROM fills f WHERE {{scope}}
"""
_SELECT_FLOWS = (
    "SELECT flow_id, kind, market, collateral_micro, yes_micro, no_micro, ts, note FROM flows f WHERE {scope}"
)
_MARKETS = (
    "SELECT market FROM fills f WHERE {scope}"
    " UNION SELECT market FROM flows f WHERE {scope} AND market != '' ORDER BY 1"
)
_ACCOUNTS = (
    "SELECT venue, wallet FROM fills f WHERE {scope}"
    " UNION SELECT venue, wallet FROM flows f WHERE {scope} ORDER BY 1, 2"
)
_LAST_FILL_TS = "SELECT MAX(venue_ts) FROM fills f WHERE {scope}"
_FILL_COUNT = "SELECT COUNT(*) FROM fills f WHERE {scope}"
_ACCOUNT_SCOPE = "f.venue = ? AND f.wallet = ?"
_ALL_ACCOUNTS = "1"
_READ_ONLY = (
    "this ledger was opened without an account and only reads: open it with the account that trades"
    " (Ledger.open(data_dir, account=...))"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """One bot run as the ledger holds it; `ended_ts`/`end_reason` are None while it runs (or crashed)."""

    run_id: str
    started_ts: float
    venue: str
    markets: tuple[str, ...]
    address: str
    ended_ts: float | None = None
    end_reason: str | None = None

    @property
    def ended(self) -> bool:
        return self.ended_ts is not None


def to_micro(value: Decimal, what: str) -> int:
    """`value` in exact integer micro-units; ValueError when it has more than 6 decimals."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{what} must be a finite Decimal, got {value!r}")
    try:
        scaled = value.scaleb(6, _EXACT).to_integral_exact(context=_EXACT)
    except Inexact:
        raise ValueError(f"{what} {value} has more than 6 decimals") from None
    micro = int(scaled)
    if abs(micro) > _MAX_MICRO:
        raise ValueError(f"{what} {value} is out of range")
    return micro


def from_micro(micro: int) -> Decimal:
    """The Decimal of an integer count of micro-units, without trailing zeros ("0.52", "100")."""
    value = Decimal(micro).scaleb(-6, _EXACT)
    if micro % _SCALE == 0:
        return value.quantize(ONE, context=_EXACT)
    return value.normalize(_EXACT)


def _fee_micro(value: Decimal, what: str) -> int:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{what} must be a finite Decimal, got {value!r}")
    return to_micro(value.quantize(MICRO, context=_FEE_ROUNDING), what)


def _text(value: object, what: str, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty_ok):
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _ts(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number of unix seconds, got {value!r}")
    return float(value)


def _status(value: object) -> TradeStatus:
    if isinstance(value, TradeStatus):
        return value
    try:
        return TradeStatus(str(value))
    except ValueError:
        raise ValueError(f"unknown trade status {value!r}") from None


def _fill_row(record: FillRecord, run_id: str | None) -> tuple[Any, ...]:
    """Validate a fill and return its row; raises ValueError (one line) on anything malformed."""
    trade_id = _text(record.trade_id, "trade_id")
    order_id = _text(record.order_id, "order_id")
    where = f"fill {trade_id}/{order_id}"
    try:
        side = Side(record.side)
    except ValueError:
        raise ValueError(f"{where}: unknown side {record.side!r}") from None
    price = to_micro(record.price, f"{where}: price")
    if not 0 < price < _SCALE:
        raise ValueError(f"{where}: price {record.price} is outside (0, 1)")
    size = to_micro(record.size, f"{where}: size")
    if size <= 0:
        raise ValueError(f"{where}: size {record.size} must be positive")
    fee = _fee_micro(record.fee, f"{where}: fee")
    if fee < 0:
        raise ValueError(f"{where}: fee {record.fee} must not be negative")
    if record.liquidity not in _LIQUIDITY:
        raise ValueError(f"{where}: liquidity must be MAKER or TAKER, got {record.liquidity!r}")
    if run_id is not None:
        _text(run_id, f"{where}: run_id")
    return (
        trade_id,
        order_id,
        _text(record.market, f"{where}: market"),
        _text(record.token_id, f"{where}: token_id"),
        side.value,
        price,
        size,
        fee,
        record.liquidity,
        _ts(record.venue_ts, f"{where}: venue_ts"),
        _ts(record.recv_ts, f"{where}: recv_ts"),
        _status(record.status).value,
        run_id,
    )


def _flow_row(flow: FlowRecord) -> tuple[Any, ...]:
    """Validate a flow (including the sign conventions of its kind) and return its row."""
    flow_id = _text(flow.flow_id, "flow_id")
    where = f"flow {flow_id}"
    try:
        kind = FlowKind(flow.kind)
    except ValueError:
        raise ValueError(f"{where}: unknown flow kind {flow.kind!r}") from None
    market = _text(flow.market, f"{where}: market", empty_ok=True)
    cash = to_micro(flow.collateral_delta, f"{where}: collateral_delta")
    yes = to_micro(flow.yes_delta, f"{where}: yes_delta")
    no = to_micro(flow.no_delta, f"{where}: no_delta")
    ok: bool
    if kind in (FlowKind.DEPOSIT, FlowKind.REWARD, FlowKind.REBATE):
        ok = cash > 0 and yes == 0 and no == 0
        rule = "collateral_delta > 0 and no token deltas"
    elif kind in (FlowKind.WITHDRAW, FlowKind.FEE):
        ok = cash < 0 and yes == 0 and no == 0
        rule = "collateral_delta < 0 and no token deltas"
    elif kind is FlowKind.SPLIT:
        ok = yes == no == -cash and yes > 0
        rule = "yes_delta = no_delta = -collateral_delta > 0"
    elif kind is FlowKind.MERGE:
        ok = yes == no == -cash and yes < 0
        rule = "yes_delta = no_delta = -collateral_delta < 0"
    else:  # REDEEM
        ok = cash >= 0 and yes <= 0 and no <= 0 and (yes, no) != (0, 0)
        rule = "collateral_delta >= 0 and token deltas <= 0, not both zero"
    if not ok:
        raise ValueError(f"{where}: a {kind.value} flow needs {rule}")
    if kind in (FlowKind.SPLIT, FlowKind.MERGE, FlowKind.REDEEM) and not market:
        raise ValueError(f"{where}: a {kind.value} flow needs a market")
    note = _text(flow.note, f"{where}: note", empty_ok=True)
    return (flow_id, kind.value, market, cash, yes, no, _ts(flow.ts, f"{where}: ts"), note)


def _fill_from_row(row: tuple[Any, ...]) -> FillRecord:
    return FillRecord(
        trade_id=row[0],
        order_id=row[1],
        market=row[2],
        token_id=row[3],
        side=Side(row[4]),
        price=from_micro(row[5]),
        size=from_micro(row[6]),
        fee=from_micro(row[7]),
        liquidity=row[8],
        venue_ts=row[9],
        recv_ts=row[10],
        status=TradeStatus(row[11]),
    )


def _flow_from_row(row: tuple[Any, ...]) -> FlowRecord:
    return FlowRecord(
        flow_id=row[0],
        kind=FlowKind(row[1]),
        market=row[2],
        collateral_delta=from_micro(row[3]),
        yes_delta=from_micro(row[4]),
        no_delta=from_micro(row[5]),
        ts=row[6],
        note=row[7],
    )


def _market_from_json(text: str) -> Market:
    data: dict[str, Any] = json.loads(text)
    rewards = RewardParams(**{k: Decimal(v) for k, v in data.pop("rewards").items()})
    for key in ("tick_size", "min_order_size", "taker_fee_rate", "maker_rebate_rate", "volume"):
        if key in data:
            data[key] = Decimal(data[key])
    known = {f.name for f in dataclasses.fields(Market)}
    return Market(rewards=rewards, **{k: v for k, v in data.items() if k in known})


class Ledger:
    """The append-only ledger over one SQLite file. Not thread-safe: one Ledger per thread.

    Opened for an account, it writes that account's rows and reads only them; opened without one,
    it reads every account's and refuses writes (see the module docstring). Every write method is
    idempotent and returns True only when it wrote something new. Bad input raises ValueError and
    writes nothing. Two processes may open the same file: readers see the last committed state and
    never wait for the writer.
    """

    def __init__(
        self,
        path: Path,
        *,
        account: Account | None = None,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> None:
        if account is not None and not isinstance(account, Account):
            raise ValueError(f"account must be an Account, got {account!r}")
        self._path = Path(path)
        self._account = account
        self._scope = _ALL_ACCOUNTS if account is None else _ACCOUNT_SCOPE
        self._scope_args: tuple[str, ...] = () if account is None else (account.venue, account.wallet)
        self._batch_depth = 0
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the ledger's directory {self._path.parent}: {exc}") from None
        try:
            create_private(self._path)  # trading history: the owner's alone, as doctor checks
            self._conn = sqlite3.connect(
                self._path, timeout=busy_timeout_s, isolation_level=None, cached_statements=64
            )
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"cannot open the ledger {self._path}: {exc}") from None
        try:
            self._configure(busy_timeout_s)
            self._ensure_schema()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        account: Account | None = None,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> Ledger:
        """The ledger of a data directory: `data_dir / "ledger.sqlite3"` (created when missing),
        for one account (reads and writes) or, without one, every account (reads only)."""
        return cls(Path(data_dir) / LEDGER_FILENAME, account=account, busy_timeout_s=busy_timeout_s)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def account(self) -> Account | None:
        """The account this ledger reads and writes; None: every account, read only."""
        return self._account

    def close(self) -> None:
        """Close the connection (an unfinished `batch()` is rolled back). Idempotent."""
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- setup ---------------------------------------------------------------------------------------

    def _configure(self, busy_timeout_s: float) -> None:
        conn = self._conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self._path} is not a usable SQLite ledger: {exc}") from None
        if str(mode).lower() != "wal":
            raise ConfigError(f"the ledger {self._path} cannot use WAL journaling (got {mode!r})")

    def _schema_version(self) -> int | None:
        """The stored schema version; None for an empty database. ConfigError for a foreign one."""
        tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return None
        if "schema_version" not in tables:
            raise ConfigError(f"{self._path} is an SQLite file but not a polymm ledger")
        version = self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        if not isinstance(version, int):
            raise ConfigError(f"the ledger {self._path} has no schema version")
        return version

    def _ensure_schema(self) -> None:
        try:
            version = self._schema_version()
            # Only a new or an old file takes the write lock, so opening a current ledger never waits.
            if version is None or version < SCHEMA_VERSION:
                with self._write():
                    version = self._schema_version()  # another process may have done it meanwhile
                    if version is None:
                        for statement in (_BASE_SCHEMA + _ACCOUNT_SCHEMA).split(";"):
                            if statement.strip():
                                self._conn.execute(statement)
                        self._set_version(SCHEMA_VERSION)
                        version = SCHEMA_VERSION
                    else:
                        if version == 1:
                            self._migrate_from_v1()
                        self._migrate_from_v2()
                        version = SCHEMA_VERSION
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self._path} is not a usable SQLite ledger: {exc}") from None
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"the ledger {self._path} has schema version {version}, newer than this polymm"
                f" understands ({SCHEMA_VERSION}); upgrade polymm"
            )
        if version != SCHEMA_VERSION:
            raise ConfigError(f"the ledger {self._path} has unknown schema version {version}")

    def _set_version(self, version: int) -> None:
        self._conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    def _migrate_from_v1(self) -> None:
        """Version 1 -> 2 inside the caller's transaction: fills and flows get their account."""
        conn = self._conn
        known = conn.execute("SELECT DISTINCT lower(venue), lower(address) FROM runs").fetchall()
        default = Account.UNKNOWN
        if len(known) == 1:
            default = Account(known[0][0], known[0][1] or Account.UNKNOWN.wallet)
        params = {"venue": default.venue, "wallet": default.wallet, "unknown": Account.UNKNOWN.wallet}
        for statement in _MIGRATE_V1:
            conn.execute(statement, params if ":venue" in statement else ())
        # Every row must have crossed (a status whose fill is missing would be dropped by the join):
        # the transaction rolls back and the file stays at version 1 rather than lose a record.
        for table in _MIGRATED_TABLES:
            before = conn.execute(f"SELECT COUNT(*) FROM v1_{table}").fetchone()[0]
            after = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            if before != after:
                raise ConfigError(
                    f"cannot migrate the ledger {self._path}: {table} has {before} rows, {after} would"
                    " survive; it was left unchanged (version 1)"
                )
            conn.execute(f"DROP TABLE v1_{table}")
        if conn.execute("PRAGMA foreign_key_check").fetchall():
            raise ConfigError(f"cannot migrate the ledger {self._path}: broken references; left unchanged")
        self._set_version(2)

    def _migrate_from_v2(self) -> None:
        """Version 2 -> 3 inside the caller's transaction: the flows table learns the kind 'rebate'."""
        conn = self._conn
        for statement in _MIGRATE_V2:
            conn.execute(statement)
        before = conn.execute("SELECT COUNT(*) FROM v2_flows").fetchone()[0]
        after = conn.execute("SELECT COUNT(*) FROM flows").fetchone()[0]
        if before != after:
            raise ConfigError(
                f"cannot migrate the ledger {self._path}: flows has {before} rows, {after} would survive;"
                " it was left unchanged (version 2)"
            )
        conn.execute("DROP TABLE v2_flows")
        self._set_version(3)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, or a part of the caller's batch."""
        if self._batch_depth:
            yield self._conn
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group writes into one transaction (all or nothing), e.g. the trades of a resync.

        Nested batches join the outer one. Readers in other connections see none of it until the
        outermost batch commits; an exception inside rolls all of it back.
        """
        if self._batch_depth:
            self._batch_depth += 1
            try:
                yield
            finally:
                self._batch_depth -= 1
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._batch_depth = 1
        try:
            yield
        except BaseException:
            self._batch_depth = 0
            self._conn.execute("ROLLBACK")
            raise
        self._batch_depth = 0
        self._conn.execute("COMMIT")

    # -- writes --------------------------------------------------------------------------------------

    def _writer(self) -> Account:
        """The account every write is stamped with; ValueError for a ledger opened without one."""
        if self._account is None:
            raise ValueError(_READ_ONLY)
        return self._account

    def record_fill(self, record: FillRecord, *, run_id: str | None = None) -> bool:
        """Record a new fill of this ledger's account with its first status; True only when new.

        A fill already recorded is left untouched (False), whatever status the redelivery carries:
        apply that with `record_status`. The engine's fill handler does exactly this
        (`record_fill(...) or record_status(...)`). ValueError on malformed input (nothing written).
        """
        account = self._writer()
        row = (account.venue, account.wallet, *_fill_row(record, run_id))
        try:
            with self._write() as conn:
                return conn.execute(_INSERT_FILL, row).rowcount > 0
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"fill {row[2]}/{row[3]}: refused by the ledger ({exc})") from None

    def record_status(self, trade_id: str, order_id: str, status: TradeStatus, ts: float) -> bool:
        """Apply a settlement status to a recorded fill; False when it is old news or goes backwards.

        ValueError when this account has no such fill (nothing written).
        """
        account = self._writer()
        key = (account.venue, account.wallet, _text(trade_id, "trade_id"), _text(order_id, "order_id"))
        new = _status(status)
        when = _ts(ts, f"status of {trade_id}/{order_id}: ts")
        with self._write() as conn:
            row = conn.execute(_CURRENT_STATUS, key).fetchone()
            if row is None:
                raise ValueError(f"no fill {trade_id}/{order_id} of {account} in the ledger")
            current = TradeStatus(row[1])
            if new is current or _RANK[new] < _RANK[current]:
                return False
            return conn.execute(_INSERT_STATUS, (row[0], new.value, when)).rowcount > 0

    def record_flow(self, flow: FlowRecord) -> bool:
        """Record a non-fill movement of this account once per `flow_id`; True when it was new."""
        account = self._writer()
        row = (account.venue, account.wallet, *_flow_row(flow))
        with self._write() as conn:
            return conn.execute(_INSERT_FLOW, row).rowcount > 0

    def start_run(
        self,
        *,
        markets: Sequence[str],
        ts: float,
        venue: str | None = None,
        address: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Record the start of a bot run of this account and return its id (a fresh one unless given).

        `venue` and `address`, when given, must be this ledger's account (any case): a run recorded
        under one account while its fills go to another is a bug to stop here. Idempotent on
        `run_id`: starting a run that is already recorded writes nothing.
        """
        account = self._writer()
        if venue is not None and Account(_text(venue, "venue"), account.wallet) != account:
            raise ValueError(f"run on venue {venue!r} recorded in the ledger of {account}")
        if address is not None and _text(address, "address").lower() != account.wallet:
            raise ValueError(f"run of wallet {address!r} recorded in the ledger of {account}")
        if isinstance(markets, str):
            raise ValueError("markets must be a sequence of condition ids, not one string")
        ids = [_text(m, "market") for m in markets]
        rid = run_id if run_id is not None else f"run-{uuid.uuid4().hex[:16]}"
        row = (
            _text(rid, "run_id"),
            _ts(ts, "run start ts"),
            account.venue,
            json.dumps(ids),
            address if address is not None else account.wallet,
        )
        with self._write() as conn:
            conn.execute(
                "INSERT INTO runs (run_id, started_ts, venue, markets, address) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                row,
            )
        return rid

    def end_run(self, run_id: str, *, reason: str, ts: float) -> bool:
        """Record the end of one of this account's runs with its exit reason; False when it was
        already ended. ValueError for a run that is not this account's."""
        account = self._writer()
        row = (_text(run_id, "run_id"), _ts(ts, "run end ts"), _text(reason, "reason", empty_ok=True))
        with self._write() as conn:
            owner = conn.execute("SELECT lower(venue), lower(address) FROM runs WHERE run_id = ?", (run_id,))
            found = owner.fetchone()
            if found is None or (found[0], found[1]) != (account.venue, account.wallet):
                raise ValueError(f"no run {run_id} of {account} in the ledger")
            return (
                conn.execute(
                    "INSERT INTO run_events (run_id, kind, ts, detail) VALUES (?, 'ended', ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    row,
                ).rowcount
                > 0
            )

    def record_market(self, market: Market, ts: float) -> bool:
        """Remember a market's metadata (tokens, tick, ...) so P&L can be projected with no venue at hand.

        Append-only like everything else: a changed market (a new tick size) is a new row, the latest wins.
        """
        self._writer()
        data = json.dumps(dataclasses.asdict(market), default=str, sort_keys=True)
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO market_meta (condition_id, data, ts) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (market.condition_id, data, ts),
            )
            return cursor.rowcount > 0

    # -- reads (this account's rows; every account's for a ledger opened without one) ---------------

    def _query(self, sql: str, *args: object) -> sqlite3.Cursor:
        """Run a read whose text has a `{scope}`: the scope's parameters go first, then `args`."""
        return self._conn.execute(sql.format(scope=self._scope), (*self._scope_args, *args))

    def market_meta(self) -> dict[str, Market]:
        """The latest metadata recorded for every market (venue data: shared by every account)."""
        rows = self._conn.execute("SELECT condition_id, data FROM market_meta ORDER BY seq").fetchall()
        return {cid: _market_from_json(data) for cid, data in rows}

    def fills(self, market: str | None = None) -> list[FillRecord]:
        """Every recorded fill (of one market, or all) in insertion order, with its current status.

        FAILED fills are included (reversed: `effective` is False); filter on `effective` to skip them.
        """
        if market is None:
            rows = self._query(_SELECT_FILLS + " ORDER BY f.seq")
        else:
            rows = self._query(_SELECT_FILLS + " AND f.market = ? ORDER BY f.seq", market)
        return [_fill_from_row(row) for row in rows]

    def status_history(self, trade_id: str, order_id: str) -> list[tuple[TradeStatus, float]]:
        """The recorded status transitions of one fill, oldest first (empty for an unknown fill)."""
        key = (*self._scope_args, trade_id, order_id)
        rows = self._conn.execute(_STATUS_HISTORY.format(scope=self._scope), (*key, *key))
        return [(TradeStatus(status), ts) for status, ts, _, _ in rows]

    def flows(self, market: str | None = None) -> list[FlowRecord]:
        """Every recorded flow (of one market, or all) in insertion order."""
        if market is None:
            rows = self._query(_SELECT_FLOWS + " ORDER BY f.seq")
        else:
            rows = self._query(_SELECT_FLOWS + " AND f.market = ? ORDER BY f.seq", market)
        return [_flow_from_row(row) for row in rows]

    def markets(self) -> list[str]:
        """Condition ids with any fill or flow, sorted (account-wide flows have none)."""
        scope = self._scope_args
        rows = self._conn.execute(_MARKETS.format(scope=self._scope), (*scope, *scope))
        return [row[0] for row in rows]

    def accounts(self) -> list[Account]:
        """The accounts with any fill or flow, sorted (just this ledger's own, when it has one)."""
        scope = self._scope_args
        rows = self._conn.execute(_ACCOUNTS.format(scope=self._scope), (*scope, *scope))
        return [Account(venue, wallet) for venue, wallet in rows]

    def last_fill_ts(self, market: str | None = None) -> float | None:
        """The latest venue time of any recorded fill (for a "trades since" resync); None when none.

        Per market, so that one market's (or, through the account, one wallet's) late fill never
        moves another market's resync window past fills it has not recorded yet."""
        if market is None:
            row = self._query(_LAST_FILL_TS).fetchone()
        else:
            row = self._query(_LAST_FILL_TS + " AND f.market = ?", market).fetchone()
        value = row[0]
        return None if value is None else float(value)

    def fill_count(self, market: str | None = None) -> int:
        """How many fills are recorded (FAILED ones included)."""
        if market is None:
            row = self._query(_FILL_COUNT).fetchone()
        else:
            row = self._query(_FILL_COUNT + " AND f.market = ?", market).fetchone()
        return int(row[0])

    def runs(self) -> list[RunRecord]:
        """Every run (of this account), oldest first, with its end (if recorded)."""
        scope = "lower(r.venue) = ? AND lower(r.address) = ?" if self._account is not None else "1"
        rows = self._conn.execute(
            "SELECT r.run_id, r.started_ts, r.venue, r.markets, r.address, e.ts, e.detail"
            " FROM runs r LEFT JOIN run_events e ON e.run_id = r.run_id AND e.kind = 'ended'"
            f" WHERE {scope} ORDER BY r.seq",
            self._scope_args,
        )
        return [
            RunRecord(
                run_id=run_id,
                started_ts=started,
                venue=venue,
                markets=tuple(json.loads(markets)),
                address=address,
                ended_ts=ended,
                end_reason=reason,
            )
            for run_id, started, venue, markets, address, ended, reason in rows
        ]

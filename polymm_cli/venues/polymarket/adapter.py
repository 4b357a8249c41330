"""`PolymarketVenue`: the Venue port over Polymarket CLOB V2 (or the local exchange, which speaks it).

Owns the venue's state that outlives a request: API credentials (created or derived over L1 when
not configured), the market cache (Gamma listing, with targeted Gamma and CLOB look-ups for anything
it does not hold), the current tick per token (updated by `tick_size_change`/book events, by book
snapshots, and re-read from `/tick-size` when an order is off the cached grid or refused for the tick
rule), the salt sequence, the heartbeat chain, the token buckets and the open streams.

Data flow of `place()`: resolve each intent's market and tick -> refuse locally what the venue would
refuse anyway (order type, off-grid price, bad amounts) -> sign (fast on the loop, reference in a
thread) -> POST /order (one) or POST /orders (chunks of 15, concurrently) -> one PlaceResult per
intent, in intent order.

Modules: `rest` (transport, retries, errors), `ratelimit` (token buckets), `gamma` (market objects),
`records` (REST records via wire.py), `orders` (signers and POST answers), `streams` (WebSockets).
Must not: read the wall clock, block the event loop on SDK work, log credentials or bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import random
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from polymm_cli import signing
from polymm_cli.clock import Clock
from polymm_cli.errors import ConfigError, UsageError, VenueError
from polymm_cli.model import Market
from polymm_cli.venues.base import (
    Balances,
    BookSnapshot,
    CancelResult,
    MarketEvent,
    OpenOrder,
    OrderIntent,
    OrderUpdate,
    Payout,
    PayoutKind,
    PlaceResult,
    TickSizeChange,
    TradeUpdate,
    VenueEvents,
)
from polymm_cli.venues.polymarket.config import PolymarketConfig
from polymm_cli.venues.polymarket.gamma import (
    MarketParseError,
    canonical_tick,
    gamma_tradable,
    parse_clob_market,
    parse_gamma_market,
)
from polymm_cli.venues.polymarket.orders import (
    TICK_RULE,
    BatchSigner,
    FastSigner,
    ReferenceSigner,
    SignedEnvelope,
    SignFailure,
    SignJob,
    order_type_problem,
    refusal_of,
    refused,
    result_of,
)
from polymm_cli.venues.polymarket.ratelimit import TradingLimiter
from polymm_cli.venues.polymarket.records import (
    base_units_balance,
    open_order_of,
    order_update_of,
    payout_of,
    trade_update_of,
)
from polymm_cli.venues.polymarket.rest import ApiCreds, ClobHttp, HttpFailure
from polymm_cli.venues.polymarket.streams import MarketStream, UserStream
from polymm_cli.venues.polymarket.wire import WireError, parse_rest_book, parse_rest_books

log = logging.getLogger("polymm.venues.polymarket")

MAX_ORDER_BATCH = 15
MAX_CANCEL_BATCH = 1000
MAX_BOOKS_BATCH = 500
_MAX_GAMMA_PAGES = 1000
DAY_S = 86_400
PAYOUT_LOOKBACK_DAYS = 7  # how many past days `payouts` reads at most (Polymarket pays daily)
_HEX = frozenset("0123456789abcdefABCDEF")


def _is_condition_id(ident: str) -> bool:
    return len(ident) == 66 and ident.startswith("0x") and all(c in _HEX for c in ident[2:])


def _is_token_id(ident: str) -> bool:
    return ident.isascii() and ident.isdigit() and 0 < len(ident) <= 80


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _on_grid(price: Decimal, tick: Decimal) -> bool:
    return price.is_finite() and price > 0 and price % tick == 0


def _cancel_result(body: Any, what: str) -> tuple[list[str], dict[str, str]]:
    if not isinstance(body, Mapping):
        raise VenueError(f"{what}: unexpected answer {type(body).__name__}")
    canceled = body.get("canceled") or []
    not_canceled = body.get("not_canceled") or {}
    if not isinstance(canceled, list) or not isinstance(not_canceled, Mapping):
        raise VenueError(f"{what}: malformed cancel answer")
    return [str(c) for c in canceled], {str(k): str(v) for k, v in not_canceled.items()}


class MarketDataOnly(UsageError):
    """Something that signs (an order, a cancel, an account read) asked of a connection opened
    without a key: a programming or usage error, never retried as a venue failure."""


def _signers(config: PolymarketConfig) -> tuple[signing.OrderSigner, BatchSigner]:
    """The order signer of the configured key, and the batch signer `config.signer` names."""
    assert config.private_key is not None
    try:
        signer = signing.OrderSigner(
            config.private_key.get_secret_value(), config.chain_id, config.signature_type, config.funder
        )
    except ValueError as exc:
        raise ConfigError(f"polymarket key/funder: {exc}") from None
    if config.signer == "reference":
        reference = ReferenceSigner(config.private_key, config.chain_id, config.signature_type, config.funder)
        return signer, reference
    return signer, FastSigner(signer)


class PolymarketVenue:
    """The Venue port over Polymarket CLOB V2 (REST + WebSocket). See the module docstring.

    Extras beyond the protocol: `refresh_balances()`, `signer_address`, `api_key`,
    `heartbeat_interval`, `http_attempts` (attempts per "METHOD /path"), `http_retries`,
    `wire_errors`, `config`, and use as an async context manager (start/close).
    """

    def __init__(self, config: PolymarketConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._signer: signing.OrderSigner | None = None
        self._batch_signer: BatchSigner | None = None
        if config.private_key is not None:
            self._signer, self._batch_signer = _signers(config)
        seed = config.seed if config.seed is not None else int(clock.now() * 1000)
        rng = random.Random(seed)
        # Salts stay below 2**53 (the venue's JS services read them as doubles) and never repeat.
        self._salts = itertools.count(rng.randrange(1, 2**44))
        self._limiter = TradingLimiter(config.order_rate_per_s, config.order_burst, clock)
        self._http = ClobHttp(config, clock, random.Random(rng.getrandbits(64)))
        if self._signer is not None:
            self._http.l2_address = self._signer.address
            self._http.l1_headers = self._signer.l1_headers
        if config.api_key is not None and config.api_secret is not None and config.api_passphrase is not None:
            self._http.creds = ApiCreds(config.api_key, config.api_secret, config.api_passphrase)
        self._stream_rng = random.Random(rng.getrandbits(64))
        self._markets: dict[str, Market] = {}  # condition id -> market
        self._by_token: dict[str, str] = {}
        self._by_slug: dict[str, str] = {}
        self._listing: list[Market] | None = None
        self._listing_at = 0.0
        self._ticks: dict[str, Decimal] = {}  # token -> current tick, when known to differ from listings
        self._auth_lock = asyncio.Lock()
        self._heartbeat_lock = asyncio.Lock()
        self._heartbeat_id = ""
        self._streams: weakref.WeakSet[MarketStream | UserStream] = weakref.WeakSet()
        self._closed = False
        self.wire_errors = 0  # REST records skipped during stream resyncs

    def __repr__(self) -> str:
        if self._signer is None:
            return f"PolymarketVenue(market data only, clob_url={self._config.clob_url!r})"
        return (
            f"PolymarketVenue(address={self.address!r}, clob_url={self._config.clob_url!r}, "
            f"signer={self._config.signer!r})"
        )

    def __reduce__(self) -> Any:
        raise TypeError("PolymarketVenue holds credentials and cannot be pickled")

    async def __aenter__(self) -> PolymarketVenue:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- identity and extras --------------------------------------------------------------------

    @property
    def config(self) -> PolymarketConfig:
        return self._config

    @property
    def market_data_only(self) -> bool:
        """Opened without a key: markets, books and the market stream only (see `MarketDataOnly`)."""
        return self._signer is None

    def _key(self, what: str) -> signing.OrderSigner:
        """The signer, or MarketDataOnly naming what needed it: the one gate of every signed path."""
        if self._signer is None:
            raise MarketDataOnly(
                f"{what}: this Polymarket connection is market data only (no key), it never places,"
                " cancels or reads an account"
            )
        return self._signer

    @property
    def address(self) -> str:
        """The funder address whose balances back our orders (the EOA for signature type 0)."""
        return self._key("the wallet address").maker

    @property
    def signer_address(self) -> str:
        """The EOA that signs orders and owns the API key (POLY_ADDRESS)."""
        return self._key("the signer address").address

    @property
    def api_key(self) -> str:
        """Our API key ("" before `start()` when none was configured); the `owner` of our orders."""
        creds = self._http.creds
        return creds.api_key if creds is not None else ""

    @property
    def heartbeat_interval(self) -> float:
        """How often the caller should call `heartbeat()` once it has started the chain."""
        return self._config.heartbeat_interval_s

    @property
    def http_attempts(self) -> dict[str, int]:
        """HTTP attempts made so far per "METHOD /path" (retries included)."""
        return dict(self._http.attempts)

    @property
    def http_retries(self) -> int:
        return self._http.retries

    def observe_http(self, observer: Callable[[str, int, int, Mapping[str, str]], None] | None) -> None:
        """Latency benchmarks: `observer("METHOD /path", sent_ns, answered_ns, headers)` after every
        answered HTTP attempt (CLOCK_MONOTONIC nanoseconds, `clock.stamp_ns`); None stops it."""
        self._http.observer = observer

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Derive API credentials over L1 when none are configured (create first, derive on failure)."""
        if self._closed:
            raise VenueError("the venue is closed")
        if self._signer is not None:
            await self._ensure_creds()

    async def close(self) -> None:
        """End every stream and the HTTP client. Idempotent."""
        if self._closed:
            return
        self._closed = True
        streams = list(self._streams)
        if streams:
            await asyncio.gather(*(s.close() for s in streams), return_exceptions=True)
        await self._http.close()

    async def _ensure_creds(self, what: str = "an authenticated request") -> ApiCreds:
        self._key(what)
        creds = self._http.creds
        if creds is not None:
            return creds
        async with self._auth_lock:
            if self._http.creds is not None:
                return self._http.creds
            try:
                body = await self._http.request("POST", "/auth/api-key", auth="l1")
            except VenueError as create_error:
                log.debug("create API key refused (%s); deriving", create_error)
                try:
                    body = await self._http.request("GET", "/auth/derive-api-key", auth="l1")
                except VenueError as exc:
                    raise VenueError(
                        f"could not create or derive API credentials: {exc}", status=exc.status
                    ) from None
            if not isinstance(body, Mapping) or not all(
                isinstance(body.get(k), str) and body.get(k) for k in ("apiKey", "secret", "passphrase")
            ):
                raise VenueError("API key endpoint answered without apiKey/secret/passphrase")
            creds = ApiCreds(body["apiKey"], SecretStr(body["secret"]), SecretStr(body["passphrase"]))
            self._http.creds = creds
            log.info("API credentials ready for %s", self.signer_address)
            return creds

    async def _l2(self, method: str, path: str, **kwargs: Any) -> Any:
        await self._ensure_creds(f"{method} {path}")
        return await self._http.request(method, path, auth="l2", **kwargs)

    async def local_inventory(self, path: str, condition_id: str, amount: str) -> None:
        """A split or merge on the local exchange's loopback endpoint (`chain.LocalChain` uses it)."""
        await self._l2("POST", path, body={"market": condition_id, "amount": amount})
        await self.refresh_balances()

    async def local_redeem(self, condition_id: str) -> Any:
        """Redeem a resolved market on the local exchange's loopback endpoint: the response body,
        `{"payout": "<decimal>"}` (`chain.LocalChain` reads it)."""
        body = await self._l2("POST", "/_local/redeem", body={"condition_id": condition_id})
        await self.refresh_balances()
        return body

    # -- markets --------------------------------------------------------------------------------

    def _remember(self, market: Market) -> Market:
        tick = self._ticks.get(market.yes_token)
        if tick is not None and tick != market.tick_size:
            market = dataclasses.replace(market, tick_size=tick)
        self._markets[market.condition_id] = market
        self._by_token[market.yes_token] = market.condition_id
        self._by_token[market.no_token] = market.condition_id
        if market.slug:
            self._by_slug[market.slug] = market.condition_id
        return market

    def _lookup(self, ident: str) -> Market | None:
        cid = ident if ident in self._markets else self._by_token.get(ident) or self._by_slug.get(ident)
        if cid is None and ident.startswith("0x"):
            lowered = ident.lower()
            cid = next((c for c in self._markets if c.lower() == lowered), None)
        return self._markets.get(cid) if cid is not None else None

    async def markets(self) -> list[Market]:
        """Tradable two-outcome markets from Gamma (cached for `markets_ttl_s`)."""
        now = self._clock.monotonic()
        if self._listing is not None and now - self._listing_at < self._config.markets_ttl_s:
            return list(self._listing)
        limit = self._config.gamma_page_size
        listing: dict[str, Market] = {}
        skipped = 0
        for page_no in range(_MAX_GAMMA_PAGES):
            page = await self._http.request(
                "GET",
                "/markets",
                host="gamma",
                params={"active": "true", "closed": "false", "limit": limit, "offset": page_no * limit},
            )
            if not isinstance(page, list):
                raise VenueError(f"Gamma /markets answered {type(page).__name__}, not a list")
            for obj in page:
                try:
                    market = parse_gamma_market(obj)
                except MarketParseError:
                    skipped += 1
                    continue
                if gamma_tradable(obj, market):
                    listing.setdefault(market.condition_id, self._remember(market))
            if len(page) < limit:
                break
        if skipped:
            log.info("Gamma listing: skipped %d markets that are not two-outcome CLOB markets", skipped)
        self._listing = list(listing.values())
        self._listing_at = now
        return list(self._listing)

    async def market(self, ident: str) -> Market:
        """One market by condition id, slug or either token id; UsageError when unknown."""
        ident = ident.strip()
        if not ident:
            raise UsageError("unknown market '': give a condition id, slug or token id")
        found = self._lookup(ident)
        gamma_error: VenueError | None = None
        if found is None:
            try:  # Gamma first; when it is down, the CLOB can still answer for ids
                if self._listing is None:
                    await self.markets()
                    found = self._lookup(ident)
                if found is None:
                    found = await self._gamma_lookup(ident)
            except VenueError as exc:
                gamma_error = exc
        if found is None and (_is_condition_id(ident) or _is_token_id(ident)):
            found = await self._clob_lookup(ident)
        if found is None:
            if gamma_error is not None:
                raise gamma_error
            raise UsageError(f"unknown market {ident[:80]!r}: no condition id, slug or token id matches")
        return found

    async def _gamma_lookup(self, ident: str) -> Market | None:
        if _is_condition_id(ident):
            params: dict[str, str | int] = {"condition_ids": ident}
        elif _is_token_id(ident):
            params = {"clob_token_ids": ident}
        else:
            params = {"slug": ident}
        # Gamma leaves closed markets out unless asked (closed=false is its default since 2026-04),
        # and a resolved market is still named by its slug: `polymm redeem SLUG` needs it found
        for closed in ({}, {"closed": "true"}):
            page = await self._http.request(
                "GET", "/markets", host="gamma", params={**params, **closed, "limit": 10}
            )
            for obj in page if isinstance(page, list) else []:
                with contextlib.suppress(MarketParseError):
                    self._remember(parse_gamma_market(obj))
            if (found := self._lookup(ident)) is not None:
                return found
        return None

    async def _clob_lookup(self, ident: str) -> Market | None:
        try:
            if _is_token_id(ident):
                by_token = await self._http.request("GET", f"/markets-by-token/{ident}")
                cid = by_token.get("condition_id") if isinstance(by_token, Mapping) else None
                if not isinstance(cid, str) or not _is_condition_id(cid):
                    return None
            else:
                cid = ident
            obj = await self._http.request("GET", f"/markets/{cid}")
        except HttpFailure as exc:
            if exc.status in (400, 404):
                return None
            raise
        params: Any = None
        with contextlib.suppress(VenueError):
            params = await self._http.request("GET", f"/clob-markets/{cid}")
        try:
            return self._remember(parse_clob_market(obj, params))
        except MarketParseError as exc:
            raise VenueError(f"market {cid[:20]}...: {exc}") from None

    async def _condition_id(self, market: str) -> str:
        return market if _is_condition_id(market) else (await self.market(market)).condition_id

    # -- ticks ----------------------------------------------------------------------------------

    def _set_tick(self, token_id: str, tick: Decimal) -> None:
        cid = self._by_token.get(token_id)
        market = self._markets.get(cid) if cid is not None else None
        tokens = market.tokens if market is not None else (token_id,)
        for token in tokens:
            self._ticks[token] = tick
        if market is not None and market.tick_size != tick:
            log.info("tick size of %s is now %s", market.slug or market.condition_id, tick)
            self._remember(market)
            if self._listing is not None:
                self._listing = [self._markets[m.condition_id] for m in self._listing]

    def tick_of(self, market: Market, token_id: str) -> Decimal:
        """The current tick of a token: the last one the venue told us, else the listing's."""
        return self._ticks.get(token_id, market.tick_size)

    def observe_market_event(self, event: MarketEvent) -> None:
        """Keep the tick cache current from stream events (called by MarketStream)."""
        if type(event) is TickSizeChange:
            self._set_tick(event.token_id, event.new_tick)
        elif type(event) is BookSnapshot and event.tick_size is not None:
            try:
                tick = canonical_tick(event.tick_size)
            except MarketParseError:
                return
            cid = self._by_token.get(event.token_id)
            market = self._markets.get(cid) if cid is not None else None
            current = self._ticks.get(event.token_id) or (market.tick_size if market is not None else None)
            if current != tick:
                self._set_tick(event.token_id, tick)

    async def _fetch_tick(self, token_id: str) -> Decimal:
        body = await self._http.request("GET", "/tick-size", params={"token_id": token_id})
        if not isinstance(body, Mapping):
            raise VenueError("GET /tick-size: unexpected answer")
        try:
            tick = canonical_tick(body.get("minimum_tick_size"))
        except MarketParseError as exc:
            raise VenueError(f"GET /tick-size: {exc}") from None
        self._set_tick(token_id, tick)
        return tick

    # -- book -----------------------------------------------------------------------------------

    async def book(self, token_id: str) -> BookSnapshot:
        body = await self._http.request("GET", "/book", params={"token_id": token_id})
        snapshot = parse_rest_book(body, self._clock.now())
        self.observe_market_event(snapshot)
        return snapshot

    async def snapshot_books(self, token_ids: Sequence[str]) -> list[BookSnapshot]:
        """REST snapshots (POST /books) of these tokens; tokens without a book are left out."""
        out: list[BookSnapshot] = []
        for chunk in _chunks(list(token_ids), MAX_BOOKS_BATCH):
            body = await self._http.request("POST", "/books", body=[{"token_id": t} for t in chunk])
            for snapshot in parse_rest_books(body, self._clock.now()):
                self.observe_market_event(snapshot)
                out.append(snapshot)
        return out

    # -- orders ---------------------------------------------------------------------------------

    async def place(self, intents: Sequence[OrderIntent]) -> list[PlaceResult]:
        """Place orders; one PlaceResult per intent, in intent order (see the module docstring)."""
        self._key("placing orders")  # refused before anything else, even an empty batch
        intents = list(intents)
        if not intents:
            return []
        creds = await self._ensure_creds("placing orders")
        results: list[PlaceResult | None] = [None] * len(intents)
        jobs = await self._jobs(list(enumerate(intents)), creds.api_key, results)
        refused_for_tick = await self._post_all(await self._sign(jobs, results), results)
        if refused_for_tick:
            # The tick changed under us: re-read it and try those orders once more if still valid.
            again: list[tuple[int, OrderIntent]] = []
            for token in {s.job.intent.token_id for s in refused_for_tick}:
                old = next(s.job.tick for s in refused_for_tick if s.job.intent.token_id == token)
                with contextlib.suppress(VenueError):
                    if await self._fetch_tick(token) != old:
                        again.extend(
                            (s.job.index, s.job.intent)
                            for s in refused_for_tick
                            if s.job.intent.token_id == token
                        )
            if again:
                jobs = await self._jobs(again, creds.api_key, results)
                await self._post_all(await self._sign(jobs, results), results)
        out: list[PlaceResult] = []
        for intent, result in zip(intents, results, strict=True):
            out.append(result if result is not None else refused(intent, "not placed"))
        return out

    async def _jobs(
        self, pairs: list[tuple[int, OrderIntent]], owner: str, results: list[PlaceResult | None]
    ) -> list[SignJob]:
        jobs: list[SignJob] = []
        refreshed: set[str] = set()
        for index, intent in pairs:
            problem = order_type_problem(intent)
            if problem:
                results[index] = refused(intent, problem)
                continue
            try:
                market = await self._market_of(intent)
            except UsageError as exc:
                results[index] = refused(intent, str(exc))
                continue
            if intent.token_id not in market.tokens:
                results[index] = refused(
                    intent, f"token {intent.token_id[:16]}... is not an outcome of this market"
                )
                continue
            tick = self.tick_of(market, intent.token_id)
            if not _on_grid(intent.price, tick) and intent.token_id not in refreshed:
                refreshed.add(intent.token_id)
                with contextlib.suppress(VenueError):
                    tick = await self._fetch_tick(intent.token_id)
            if not _on_grid(intent.price, tick):
                results[index] = refused(intent, f"price {intent.price} is not on the tick grid ({tick})")
                continue
            jobs.append(
                SignJob(
                    index=index,
                    intent=intent,
                    tick=tick,
                    neg_risk=market.neg_risk,
                    salt=next(self._salts),
                    timestamp_ms=int(self._clock.now() * 1000),
                    owner=owner,
                )
            )
        return jobs

    async def _market_of(self, intent: OrderIntent) -> Market:
        market = self._markets.get(intent.market) or self._lookup(intent.token_id)
        if market is None:
            market = await self.market(intent.market or intent.token_id)
        return market

    async def _sign(self, jobs: list[SignJob], results: list[PlaceResult | None]) -> list[SignedEnvelope]:
        if not jobs:
            return []
        self._key("signing orders")
        assert self._batch_signer is not None  # made with the signer
        if isinstance(self._batch_signer, FastSigner):
            outcomes = self._batch_signer.sign_batch(jobs)
        else:  # SDK work never runs on the event loop thread
            outcomes = await asyncio.to_thread(self._batch_signer.sign_batch, jobs)
        signed: list[SignedEnvelope] = []
        for outcome in outcomes:
            if isinstance(outcome, SignFailure):
                results[outcome.job.index] = refused(outcome.job.intent, outcome.error)
            else:
                signed.append(outcome)
        return signed

    async def _post_all(
        self, signed: list[SignedEnvelope], results: list[PlaceResult | None]
    ) -> list[SignedEnvelope]:
        """Post and record results; returns the orders refused for the tick rule."""
        if not signed:
            return []
        chunks = [signed] if len(signed) == 1 else _chunks(signed, MAX_ORDER_BATCH)
        gathered = await self._post_chunks(chunks)
        failures = [g for g in gathered if isinstance(g, BaseException)]
        for failure in failures:
            if not isinstance(failure, VenueError):
                raise failure
        if failures and len(failures) == len(chunks):
            raise failures[0]
        tick_refusals: list[SignedEnvelope] = []
        for chunk, outcome in zip(chunks, gathered, strict=True):
            if isinstance(outcome, BaseException):
                # Other chunks went through: report this one per order rather than lose theirs.
                for s in chunk:
                    results[s.job.index] = refused(s.job.intent, f"not placed: {outcome}")
                continue
            for s, result in zip(chunk, outcome, strict=True):
                results[s.job.index] = result
                if not result.ok and TICK_RULE in result.error:
                    tick_refusals.append(s)
        return tick_refusals

    async def _post_chunks(
        self, chunks: Sequence[Sequence[SignedEnvelope]]
    ) -> list[list[PlaceResult] | BaseException]:
        """Each chunk's results, or what its request raised (a VenueError; anything else raises)."""
        if len(chunks) == 1:  # the usual case: posted in this task, no task to hand the answer over
            try:
                return [await self._post_chunk(list(chunks[0]))]
            except VenueError as exc:
                return [exc]
        return await asyncio.gather(*(self._post_chunk(list(c)) for c in chunks), return_exceptions=True)

    async def _post_chunk(self, chunk: list[SignedEnvelope]) -> list[PlaceResult]:
        single = len(chunk) == 1
        try:
            body = await self._l2(
                "POST",
                "/order" if single else "/orders",
                body=chunk[0].envelope if single else [s.envelope for s in chunk],
                bucket=self._limiter.orders,
                cost=len(chunk),
                budget_s=self._config.order_retry_budget_s,
            )
        except HttpFailure as exc:
            if exc.status == 400:  # the venue refused the order(s) themselves
                reason = exc.error_text or str(exc)
                return [refusal_of(s, reason) for s in chunk]
            raise
        items = [body] if single else body
        if not isinstance(items, list) or len(items) != len(chunk):
            raise VenueError(f"POST /orders answered {type(body).__name__} for {len(chunk)} orders")
        return [result_of(s, item) for s, item in zip(chunk, items, strict=True)]

    async def cancel(self, order_ids: Sequence[str]) -> CancelResult:
        """Cancel orders by id (DELETE /orders, chunks of 1000)."""
        self._key("cancelling orders")
        ids = list(dict.fromkeys(order_ids))
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        for chunk in _chunks(ids, MAX_CANCEL_BATCH):
            body = await self._l2(
                "DELETE",
                "/orders",
                body=list(chunk),
                bucket=self._limiter.cancels,
                cost=len(chunk),
                budget_s=self._config.order_retry_budget_s,
            )
            c, nc = _cancel_result(body, "DELETE /orders")
            canceled.extend(c)
            not_canceled.update(nc)
        return CancelResult(canceled=tuple(canceled), not_canceled=not_canceled)

    async def cancel_all(self, market: str | None = None) -> CancelResult:
        """Cancel every open order of our API key, or of one market (condition id, slug or token)."""
        self._key("cancelling orders")
        if market is None:
            body = await self._l2(
                "DELETE",
                "/cancel-all",
                bucket=self._limiter.cancels,
                cost=1,
                budget_s=self._config.order_retry_budget_s,
            )
            what = "DELETE /cancel-all"
        else:
            cid = await self._condition_id(market)
            body = await self._l2(
                "DELETE",
                "/cancel-market-orders",
                body={"market": cid},
                bucket=self._limiter.cancels,
                cost=1,
                budget_s=self._config.order_retry_budget_s,
            )
            what = "DELETE /cancel-market-orders"
        canceled, not_canceled = _cancel_result(body, what)
        self._limiter.cancels.debit(len(canceled))  # the venue charges 1 + number cancelled
        return CancelResult(canceled=tuple(canceled), not_canceled=not_canceled)

    async def _order_records(self, markets: Sequence[str]) -> list[Any]:
        if not markets:
            return await self._l2_pages("/data/orders", {})
        records: list[Any] = []
        for market in markets:
            records.extend(await self._l2_pages("/data/orders", {"market": await self._condition_id(market)}))
        return records

    async def _trade_records(self, markets: Sequence[str], after: float | None) -> list[Any]:
        params: dict[str, str | int] = {}
        if after is not None:
            params["after"] = max(0, int(after))  # seconds; the venue compares match times
        if not markets:
            return await self._l2_pages("/data/trades", params)
        records: list[Any] = []
        for market in markets:
            cid = await self._condition_id(market)
            records.extend(await self._l2_pages("/data/trades", {**params, "market": cid}))
        return records

    async def _l2_pages(self, path: str, params: dict[str, str | int]) -> list[Any]:
        await self._ensure_creds(f"GET {path}")
        return await self._http.paginate(path, params)

    async def open_orders(self, market: str | None = None) -> list[OpenOrder]:
        """Our resting orders (all pages of GET /data/orders)."""
        records = await self._order_records([market] if market else [])
        now = self._clock.now()
        key, address = self.api_key, self.address
        return [open_order_of(order_update_of(r, now, api_key=key, maker_address=address)) for r in records]

    async def trades(self, market: str | None = None, after: float | None = None) -> list[TradeUpdate]:
        """Our trades as TradeUpdates with our fills. `after` is applied by the venue at one-second
        resolution, so trades up to a second earlier can be included."""
        records = await self._trade_records([market] if market else [], after)
        now = self._clock.now()
        key, address = self.api_key, self.address
        return [trade_update_of(r, now, api_key=key, maker_address=address) for r in records]

    async def resync_orders(self, markets: Sequence[str]) -> list[OrderUpdate]:
        """Open orders as OrderUpdate(kind UPDATE) for a user-stream resync; bad records are skipped."""
        records = await self._order_records(markets)
        now = self._clock.now()
        out: list[OrderUpdate] = []
        for record in records:
            try:
                out.append(order_update_of(record, now, api_key=self.api_key, maker_address=self.address))
            except WireError as exc:
                self.wire_errors += 1
                log.warning("resync: skipped an order record: %s", exc)
        return out

    async def resync_trades(self, markets: Sequence[str], after: float) -> list[TradeUpdate]:
        """Trades since `after` for a user-stream resync; bad records are skipped."""
        records = await self._trade_records(markets, after)
        now = self._clock.now()
        out: list[TradeUpdate] = []
        for record in records:
            try:
                out.append(trade_update_of(record, now, api_key=self.api_key, maker_address=self.address))
            except WireError as exc:
                self.wire_errors += 1
                log.warning("resync: skipped a trade record: %s", exc)
        return out

    # -- balances and heartbeat -----------------------------------------------------------------

    def _balance_params(self, token_id: str | None) -> dict[str, str | int]:
        params: dict[str, str | int] = {"signature_type": self._config.signature_type}
        if token_id is None:
            params["asset_type"] = "COLLATERAL"
        else:
            params["asset_type"] = "CONDITIONAL"
            params["token_id"] = token_id
        return params

    async def balances(self, token_ids: Sequence[str] = ()) -> Balances:
        """pUSD and token balances as the CLOB sees them (human units)."""
        tokens = list(dict.fromkeys(token_ids))
        bodies = await asyncio.gather(
            self._l2("GET", "/balance-allowance", params=self._balance_params(None)),
            *(self._l2("GET", "/balance-allowance", params=self._balance_params(t)) for t in tokens),
        )
        return Balances(
            collateral=base_units_balance(bodies[0], "collateral"),
            tokens={
                t: base_units_balance(b, f"token {t[:12]}...")
                for t, b in zip(tokens, bodies[1:], strict=True)
            },
        )

    # -- income ---------------------------------------------------------------------------------------

    async def payouts(self, since: float | None = None) -> list[Payout]:
        """Rewards (`GET /rewards/user`) and maker rebates (`GET /rebates/current`) of every UTC day
        from `since`'s (at most PAYOUT_LOOKBACK_DAYS back; None: that many) to today's. A day whose
        rebates cannot be read still gives its rewards: the failure is logged, the next poll retries."""
        today = int(self._clock.now() // DAY_S)
        first = today - PAYOUT_LOOKBACK_DAYS
        if since is not None:  # the day before `since`'s too: a day's income is paid after it ends
            first = max(first, int(since // DAY_S) - 1)
        out: list[Payout] = []
        for day in range(first, today + 1):
            date = datetime.fromtimestamp(day * DAY_S, UTC).strftime("%Y-%m-%d")
            rewards: dict[str, str | int] = {"date": date, "signature_type": self._config.signature_type}
            out.extend(await self._payout_pages("/rewards/user", rewards, "reward"))
            try:
                rebates: dict[str, str | int] = {"date": date, "maker_address": self.address}
                out.extend(await self._payout_pages("/rebates/current", rebates, "rebate"))
            except VenueError as exc:
                log.warning("maker rebates of %s not read: %s", date, exc)
        return out

    async def _payout_pages(self, path: str, params: dict[str, str | int], kind: PayoutKind) -> list[Payout]:
        out: list[Payout] = []
        for record in await self._l2_pages(path, params):
            try:
                payout = payout_of(record, kind)
            except WireError as exc:
                self.wire_errors += 1
                log.warning("%s: skipped a record: %s", path, exc)
                continue
            if payout is not None:
                out.append(payout)
        return out

    async def refresh_balances(self, token_ids: Sequence[str] = ()) -> None:
        """Ask the CLOB to re-read balances and allowances from chain (after deposits, splits...)."""
        await asyncio.gather(
            self._l2("GET", "/balance-allowance/update", params=self._balance_params(None)),
            *(
                self._l2("GET", "/balance-allowance/update", params=self._balance_params(t))
                for t in dict.fromkeys(token_ids)
            ),
        )

    async def heartbeat(self) -> None:
        """One beat of the dead-man's switch; a heartbeat id the venue calls stale is replaced by the
        one it expects, once (docs/protocol.md §3.8)."""
        async with self._heartbeat_lock:
            budget = self._config.heartbeat_interval_s
            try:
                body = await self._l2(
                    "POST", "/v1/heartbeats", body={"heartbeat_id": self._heartbeat_id}, budget_s=budget
                )
            except HttpFailure as exc:
                expected = exc.body.get("heartbeat_id") if isinstance(exc.body, Mapping) else None
                if (
                    exc.status != 400
                    or "Invalid Heartbeat ID" not in exc.error_text
                    or not isinstance(expected, str)
                ):
                    raise
                log.info("heartbeat chain resynced to the venue's id")
                body = await self._l2(
                    "POST", "/v1/heartbeats", body={"heartbeat_id": expected}, budget_s=budget
                )
            next_id = body.get("heartbeat_id") if isinstance(body, Mapping) else None
            if not isinstance(next_id, str):
                raise VenueError("POST /v1/heartbeats answered without a heartbeat_id")
            self._heartbeat_id = next_id

    # -- streams --------------------------------------------------------------------------------

    async def ws_credentials(self) -> ApiCreds:
        return await self._ensure_creds("the user stream")

    def market_events(self, token_ids: Sequence[str]) -> VenueEvents:
        """Book snapshots (REST, first) and updates for these tokens; see streams.py."""
        if self._closed:
            raise VenueError("the venue is closed")
        stream = MarketStream(token_ids, self, self._config, self._clock, self._stream_rng)
        self._streams.add(stream)
        return stream

    def user_events(self, markets: Sequence[str]) -> VenueEvents:
        """Our order and trade updates, resynced over REST after every (re)connect; see streams.py."""
        if self._closed:
            raise VenueError("the venue is closed")
        self._key("the user stream")
        stream = UserStream(markets, self, self._config, self._clock, self._stream_rng)
        self._streams.add(stream)
        return stream

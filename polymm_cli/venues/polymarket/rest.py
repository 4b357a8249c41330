"""HTTP transport to the CLOB and Gamma: one keep-alive aiohttp session, auth headers, retries, errors.

Owns: serialising a body once as compact JSON and HMAC-signing exactly that string (docs/protocol.md §2.3,
L2 headers built per attempt from the injected clock); L1 headers for the API-key endpoints; the
retry policy (425/429/5xx and connection/read failures, exponential backoff with jitter, Retry-After
honoured, bounded attempts and total time; any other 4xx fails at once); turning a failure into one
`VenueError` line that carries the exchange's own `error` text; pacing order/cancel traffic through
the token buckets; walking `MA==` ... `LTE=` pagination.

Why aiohttp and HTTP/1.1 keep-alive: measured paired against the local exchange in its own process,
an aiohttp request costs about a third of an httpx one (p50 0.55 ms against 1.5 ms per round trip,
`bench/bench_tick.py`), and on the order path the client's own CPU time is most of a round trip.

Must not: know what an order or a market is (that is the adapter), log a header or a body (they hold
credentials), or read the wall clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from pydantic import SecretStr
from yarl import URL

from polymm_cli import signing
from polymm_cli.clock import Clock, stamp_ns
from polymm_cli.errors import VenueError
from polymm_cli.jsonsafe import nesting_exceeds
from polymm_cli.venues.polymarket.config import PolymarketConfig
from polymm_cli.venues.polymarket.ratelimit import TokenBucket

log = logging.getLogger("polymm.venues.polymarket")

START_CURSOR = "MA=="
END_CURSOR = "LTE="
MAX_PAGES = 10_000
_MAX_ERROR_CHARS = 200
_DECODER = json.JSONDecoder(parse_float=Decimal)
_NO_BODY: Any = object()

Auth = Literal["none", "l1", "l2"]
Host = Literal["clob", "gamma"]


class ApiCreds:
    """L2 credentials; the secret and passphrase never appear in a repr."""

    __slots__ = ("_passphrase", "_secret", "api_key")

    def __init__(self, api_key: str, secret: SecretStr, passphrase: SecretStr) -> None:
        self.api_key = api_key
        self._secret = secret
        self._passphrase = passphrase

    @property
    def secret(self) -> str:
        return self._secret.get_secret_value()

    @property
    def passphrase(self) -> str:
        return self._passphrase.get_secret_value()

    def __repr__(self) -> str:
        return "ApiCreds(api_key='***', secret='***', passphrase='***')"

    def __reduce__(self) -> Any:
        raise TypeError("ApiCreds holds secrets and cannot be pickled")


class HttpFailure(VenueError):
    """A request that failed for good; `error_text` is the exchange's own message, `body` its JSON."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        retry_after: float | None = None,
        error_text: str = "",
        body: Any = None,
    ) -> None:
        super().__init__(message, status=status, retry_after=retry_after)
        self.error_text = error_text
        self.body = body


def one_line(text: str, limit: int = _MAX_ERROR_CHARS) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def error_text_of(body: Any) -> str:
    """The exchange's message from an error body: `error`, `error_msg`, `errorMsg` or the raw text."""
    if isinstance(body, Mapping):
        for key in ("error", "error_msg", "errorMsg", "message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return one_line(value)
        return one_line(json.dumps(body, default=str))
    if isinstance(body, str):
        return one_line(body)
    return one_line(repr(body))


def decode_json(text: str) -> Any:
    """A response body: JSON with exact decimals, or the raw text when it is not JSON."""
    if not text:
        return ""
    if nesting_exceeds(text):
        raise VenueError("the venue answered with a JSON document nested too deeply")
    try:
        return _DECODER.decode(text)
    except ValueError:
        return text


def _retry_after(headers: Mapping[str, str], body: Any) -> float | None:
    raw = headers.get("Retry-After")
    if raw:
        try:
            value = float(raw.strip())
        except ValueError:
            value = -1.0  # an HTTP-date: rare, fall back to our own backoff
        if value >= 0:
            return value
    if isinstance(body, Mapping):
        hint = body.get("retry_after_seconds")
        if isinstance(hint, int | float | Decimal) and not isinstance(hint, bool) and hint >= 0:
            return float(hint)
    return None


def _retryable(status: int) -> bool:
    return status in (425, 429) or status >= 500


@dataclass(frozen=True, slots=True, kw_only=True)
class _Answer:
    """One attempt's outcome: a 200 body, or the failure and whether the policy retries it."""

    ok: bool = False
    decoded: Any = None
    body: str = ""  # the 200 body's text, verbatim
    status: int | None = None
    text: str = ""
    reason: str = ""
    retry_after: float | None = None
    retryable: bool = False


class ClobHttp:
    """Requests to the CLOB (and Gamma) with auth, pacing and the retry policy of this venue."""

    def __init__(self, config: PolymarketConfig, clock: Clock, rng: random.Random) -> None:
        self._config = config
        self._clock = clock
        self._rng = rng
        self._client: aiohttp.ClientSession | None = None
        self._proxies: dict[Host, tuple[URL | None, aiohttp.BasicAuth | None]] = {}
        self._closed = False
        self.creds: ApiCreds | None = None
        self.l2_address = ""  # POLY_ADDRESS of L2 calls: the signer EOA
        self.l1_headers: Callable[[int], dict[str, str]] | None = None
        self.attempts: Counter[str] = Counter()  # "METHOD /path" (Gamma: "METHOD gamma:/path") -> attempts
        self.retries = 0
        # Latency benchmarks: called after every answered attempt with ("METHOD /path", sent ns,
        # answered ns, the answer's headers), CLOCK_MONOTONIC nanoseconds (clock.stamp_ns).
        self.observer: Callable[[str, int, int, Mapping[str, str]], None] | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise VenueError("the venue is closed")
        if self._client is None:
            # Keep-alive connections (TCP_NODELAY is aiohttp's default); concurrent calls open more.
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=30, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=self._config.http_timeout_s),
                headers={
                    "User-Agent": "polymm",
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                },
                # HTTP(S)_PROXY and NO_PROXY are honoured (`_proxy_of`), but not through trust_env:
                # with it aiohttp reads ~/.netrc in a worker thread on every request, a thread hop
                # that cost the order path 1 to 2 ms per request in the tick-to-quote bench.
                trust_env=False,
            )
        return self._client

    def _proxy_of(self, host: Host) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        """The environment's proxy for `host` (HTTP(S)_PROXY, NO_PROXY, as aiohttp's trust_env
        reads them), looked up once: the environment does not change under a running process."""
        found = self._proxies.get(host)
        if found is None:
            try:
                found = get_env_proxy_for_url(URL(self._url(host, "/")))
            except LookupError:  # no proxy for it, or NO_PROXY names it
                found = (None, None)
            self._proxies[host] = found
        return found

    async def close(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _url(self, host: Host, path: str) -> str:
        base = self._config.gamma_url if host == "gamma" else self._config.clob_url
        return base.rstrip("/") + path

    def _auth_headers(self, auth: Auth, method: str, path: str, body: str | None) -> dict[str, str]:
        timestamp = int(self._clock.now())
        if auth == "l2":
            creds = self.creds
            if creds is None:
                raise VenueError("no API credentials: call start() first")
            return signing.l2_headers(
                self.l2_address,
                creds.api_key,
                creds.secret,
                creds.passphrase,
                timestamp,
                method,
                path,
                body,
            )
        if auth == "l1":
            if self.l1_headers is None:
                raise VenueError("no L1 signer configured")
            return self.l1_headers(timestamp)
        return {}

    def _backoff(self, attempt: int) -> float:
        cfg = self._config
        ceiling = min(cfg.http_backoff_cap_s, cfg.http_backoff_base_s * (2.0 ** (attempt - 1)))
        return ceiling * (0.5 + 0.5 * self._rng.random())  # "equal jitter": never below half

    async def request(
        self,
        method: str,
        path: str,
        *,
        host: Host = "clob",
        params: Mapping[str, str | int] | None = None,
        body: Any = _NO_BODY,
        auth: Auth = "none",
        bucket: TokenBucket | None = None,
        cost: float = 1.0,
        budget_s: float | None = None,
        raw: bool = False,
    ) -> Any:
        """One call, retried per the policy; returns the decoded 200 body (`raw`: its text, verbatim)
        or raises HttpFailure."""
        cfg = self._config
        content = None if body is _NO_BODY else json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        key = f"{method} {path}" if host == "clob" else f"{method} {host}:{path}"
        budget = cfg.http_retry_budget_s if budget_s is None else budget_s
        started = self._clock.monotonic()
        attempt = 0
        while True:
            attempt += 1
            if bucket is not None:
                await bucket.acquire(cost)
            self.attempts[key] += 1
            # one attempt never outlives what is left of the budget
            timeout = min(cfg.http_timeout_s, max(0.1, budget - (self._clock.monotonic() - started)))
            answer = await self._attempt(method, path, host, params, content, auth, key, timeout)
            if answer.ok:
                return answer.body if raw else answer.decoded
            message = f"{key} failed: {answer.reason}"
            if not answer.retryable:
                raise HttpFailure(message, status=answer.status, error_text=answer.text, body=answer.decoded)
            delay = self._backoff(attempt)
            if answer.retry_after is not None:
                delay = max(delay, answer.retry_after)
            if attempt >= cfg.http_max_attempts or self._clock.monotonic() - started + delay > budget:
                raise HttpFailure(
                    f"{message} (gave up after {attempt} attempt{'s' if attempt > 1 else ''})",
                    status=answer.status,
                    retry_after=answer.retry_after,
                    error_text=answer.text,
                    body=answer.decoded,
                )
            self.retries += 1
            log.info("%s; retry %d in %.2f s", message, attempt, delay)
            await asyncio.sleep(delay)

    async def _attempt(
        self,
        method: str,
        path: str,
        host: Host,
        params: Mapping[str, str | int] | None,
        content: str | None,
        auth: Auth,
        key: str,
        timeout: float,
    ) -> _Answer:
        """One HTTP exchange, classified: a 200 body, or why not and whether to try again."""
        headers = self._auth_headers(auth, method, path, content)  # signed per attempt: fresh timestamps
        proxy, proxy_auth = self._proxy_of(host)
        sent = stamp_ns() if self.observer is not None else 0
        try:
            async with self._http().request(
                method,
                self._url(host, path),
                params=params,
                proxy=proxy,
                proxy_auth=proxy_auth,
                data=None if content is None else content.encode("utf-8"),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                raw = await response.read()
                status, answer_headers = response.status, response.headers
        except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            return _Answer(reason=type(exc).__name__, retryable=True)
        except RuntimeError as exc:  # the session was closed under us
            raise VenueError(f"{key}: the venue is closed ({one_line(str(exc), 60)})") from None
        if self.observer is not None:
            self.observer(key, sent, stamp_ns(), answer_headers)
        body = raw.decode("utf-8", "replace")
        decoded = decode_json(body)
        if status == 200:
            return _Answer(ok=True, decoded=decoded, status=status, body=body)
        text = error_text_of(decoded)
        return _Answer(
            decoded=decoded,
            status=status,
            text=text,
            reason=f"HTTP {status}: {text}",
            retry_after=_retry_after(answer_headers, decoded) if status in (425, 429, 503) else None,
            retryable=_retryable(status),
        )

    async def paginate(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        auth: Auth = "l2",
    ) -> list[Any]:
        """Every `data` item of a cursor-paginated endpoint, from `MA==` until `LTE=`."""
        items: list[Any] = []
        cursor = START_CURSOR
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = await self.request(
                "GET", path, params={**(params or {}), "next_cursor": cursor}, auth=auth
            )
            if not isinstance(page, Mapping):
                raise VenueError(f"GET {path}: expected a page object, got {type(page).__name__}")
            data = page.get("data")
            if isinstance(data, list):
                items.extend(data)
            elif data is not None:
                raise VenueError(f"GET {path}: page 'data' is not a list")
            seen.add(cursor)
            cursor = page.get("next_cursor") or END_CURSOR
            if not isinstance(cursor, str) or cursor == END_CURSOR or cursor in seen:
                return items
        raise VenueError(f"GET {path}: more than {MAX_PAGES} pages")

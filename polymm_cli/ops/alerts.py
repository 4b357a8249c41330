"""Webhook alerts: what went wrong (or an hourly summary), posted to Slack, Discord or Telegram.

A webhook is chosen by its URL (`parse_webhook`): `api.telegram.org/bot<token>/sendMessage?chat_id=N`
gets Telegram's bot API form (`{"chat_id": N, "text": ...}`), `discord.com` / `discordapp.com`
Discord's (`{"content": ...}`), anything else Slack's (`{"text": ...}`, which Mattermost, Rocket.Chat
and most chat webhooks read too). A `slack+`, `discord+` or `telegram+` prefix on the URL chooses the
form for another host (a proxy, a self-hosted relay, a test receiver). Plain http is refused except
to a loopback host: the URL carries a token. A webhook's path and query are secrets (Slack's and
Discord's URLs are their own credentials, Telegram's holds the bot token): only the scheme and host
are ever shown (`Webhook.label`), and `Webhook.secrets` feeds the log's redactor.

`AlertSink` is an engine observer. Alerts never block or slow the engine: an alert is put on a
bounded queue (dropped and counted when it is full), each kind at most once per `min_interval_s`
(the suppressed ones counted and mentioned in the next one of that kind), and one sender task posts
them with a timeout per post. Its watch task runs on the engine's clock: a feed unhealthy for longer
than `feed_unhealthy_s`, and the periodic summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from ipaddress import ip_address
from typing import Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
from prometheus_client import CollectorRegistry, Counter

from polymm_cli.clock import Clock
from polymm_cli.engine.config import StopReport
from polymm_cli.engine.observer import EngineObserver
from polymm_cli.errors import UsageError, describe

log = logging.getLogger("polymm.alerts")

WebhookKind = Literal["slack", "discord", "telegram"]
KINDS: tuple[WebhookKind, ...] = ("slack", "discord", "telegram")
KILL_SWITCH_PREFIX = "cancel-all"  # the halt reason `polymm cancel-all` writes (services/trading)
WATCH_EVERY_S = 1.0
MAX_TEXT = 1500  # every service takes this much (Discord's limit is 2000, Telegram's 4096)


@dataclass(frozen=True, slots=True)
class Webhook:
    kind: WebhookKind
    url: str = field(repr=False)  # where to post: holds a token, never shown
    label: str  # how it is shown: "telegram webhook at https://api.telegram.org"
    secrets: tuple[str, ...] = field(default=(), repr=False)
    chat_id: str = ""

    def payload(self, text: str) -> dict[str, str]:
        if self.kind == "telegram":
            return {"chat_id": self.chat_id, "text": text}
        if self.kind == "discord":
            return {"content": text}
        return {"text": text}


def is_loopback_host(host: str) -> bool:
    """`localhost` or a loopback address (plain http and an unauthenticated endpoint are fine there)."""
    try:
        return host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        return False


def parse_webhook(text: str) -> Webhook:
    """A webhook URL as the sink posts to it; a bad one is a UsageError naming only its host."""
    raw = text.strip()
    forced: WebhookKind | None = None
    for kind in KINDS:
        if raw.lower().startswith(f"{kind}+"):
            forced, raw = kind, raw[len(kind) + 1 :]
    parts = urlsplit(raw)
    host = (parts.hostname or "").lower()
    shown = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if host else "a URL without a host"
    if parts.scheme not in ("http", "https") or not host:
        raise UsageError(f"alert webhook must be an http(s) URL, got {shown}")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise UsageError(f"alert webhook {shown}: use https (the URL carries a token), http only on loopback")
    kind = forced or _kind_of(host)
    secrets = tuple(s for s in (*parts.path.split("/"), parts.query, parts.path, raw) if len(s) >= 8)
    chat_id = ""
    if kind == "telegram":
        chat = parse_qs(parts.query).get("chat_id", [""])[0]
        if "/bot" not in parts.path or not chat:
            raise UsageError(
                f"telegram webhook at {shown}: expected .../bot<token>/sendMessage?chat_id=<chat>"
            )
        chat_id = chat
        token = parts.path.split("/bot", 1)[1].split("/", 1)[0]
        secrets = (*secrets, token, f"bot{token}")
    url = urlunsplit(parts)
    return Webhook(kind, url, f"{kind} webhook at {shown}", tuple(s for s in secrets if s), chat_id)


def _kind_of(host: str) -> WebhookKind:
    if host == "api.telegram.org":
        return "telegram"
    if host in ("discord.com", "discordapp.com") or host.endswith((".discord.com", ".discordapp.com")):
        return "discord"
    return "slack"


@dataclass(frozen=True, slots=True)
class AlertSettings:
    queue_size: int = 100
    min_interval_s: float = 60.0  # per kind
    timeout_s: float = 5.0  # per post
    feed_unhealthy_s: float = 60.0
    summary_interval_s: float = 3600.0  # 0: no summary


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str
    text: str


Post = Callable[[Webhook, Alert], Awaitable[int]]  # returns the HTTP status


class AlertSink(EngineObserver):
    """Alerts from the engine's events, queued without waiting and posted by one sender task."""

    def __init__(
        self,
        webhooks: Sequence[Webhook],
        clock: Clock,
        settings: AlertSettings,
        *,
        registry: CollectorRegistry | None = None,
        scrub: Callable[[str], str] = lambda text: text,
        names: Mapping[str, str] | None = None,
        health: Callable[[], Mapping[str, bool]] = dict,
        summary: Callable[[], str] | None = None,
        prefix: str = "polymm",
    ) -> None:
        self.webhooks = tuple(webhooks)
        self.clock = clock
        self.settings = settings
        self._scrub = scrub
        self.names: Mapping[str, str] = names or {}
        self._health = health
        self._summary = summary
        self._prefix = prefix
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=settings.queue_size)
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._down_since: dict[str, float] = {}
        self._alerted: set[str] = set()
        r = registry or CollectorRegistry()
        self.sent = Counter("polymm_alerts_sent", "Alerts posted to every webhook.", ["kind"], registry=r)
        self.dropped = Counter(
            "polymm_alerts_dropped",
            "Alerts not sent: queue_full (the sender is behind) or rate_limited (same kind too soon).",
            ["reason"],
            registry=r,
        )
        self.failed_posts = Counter(
            "polymm_alert_posts_failed", "Posts to a webhook that failed or timed out.", registry=r
        )

    # -- queueing (on the engine's loop: never waits) ------------------------------------------------

    def send(self, kind: str, text: str, *, limited: bool = True) -> bool:
        """Queue an alert; False when it was rate-limited or the queue was full (both counted)."""
        now = self.clock.monotonic()
        last = self._last.get(kind)
        if limited and last is not None and now - last < self.settings.min_interval_s:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            self.dropped.labels("rate_limited").inc()
            return False
        suppressed = self._suppressed.pop(kind, 0)
        more = f" ({suppressed} more suppressed since the last one)" if suppressed else ""
        message = self._scrub(f"{self._prefix}: {text}{more}")[:MAX_TEXT]
        try:
            self._queue.put_nowait(Alert(kind, message))
        except asyncio.QueueFull:
            self.dropped.labels("queue_full").inc()
            log.warning("alert queue full: dropped a %s alert", kind)
            return False
        self._last[kind] = now
        return True

    def _name(self, market: str) -> str:
        return self.names.get(market) or market[:12]

    # -- the engine's events -------------------------------------------------------------------------

    def halted(self, reason: str, external: bool) -> None:
        if external and reason.startswith(KILL_SWITCH_PREFIX):
            self.send("kill_switch", f"KILL SWITCH: {reason}; every order pulled, trading halted")
        else:
            self.send("halt", f"HALTED: {reason}")

    def resumed(self) -> None:
        self.send("resume", "resumed: the halt was lifted, quoting again")

    def stop_loss(self, market: str, reason: str) -> None:
        self.send(f"stop_loss:{market}", f"STOP-LOSS in {self._name(market)}: {reason}; exiting")

    def exit_done(self, market: str, flat: bool, detail: str) -> None:
        where = "flat" if flat else "NOT flat, see `polymm pnl`"
        self.send(
            f"stop_loss_exit:{market}", f"stop-loss exit in {self._name(market)} done: {where} ({detail})"
        )

    def stop_loss_over(self, market: str) -> None:
        self.send(
            f"stop_loss_over:{market}", f"stop-loss cool-down over in {self._name(market)}: quoting again"
        )

    def failed(self, cause: str) -> None:
        self.send("crash", f"ENGINE FAILED: {cause}; quotes pulled, stopping", limited=False)

    def stopped(self, report: StopReport) -> None:
        if not report.confirmed:
            self.send(
                "unconfirmed_cancel", f"STOPPED, CANCELS NOT CONFIRMED: {report.summary()}", limited=False
            )

    def crashed(self, error: BaseException) -> None:
        """The run died of an unexpected error (a bug): said once, before the process exits."""
        self.send("crash", f"CRASHED: {describe(error)}", limited=False)

    # -- the tasks -----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self, *, drain_s: float | None = None) -> AsyncIterator[AlertSink]:
        """Run the sender and the watch while the block runs; afterwards send what is queued (at most
        `drain_s` seconds, default one post timeout per webhook) and stop."""
        async with httpx.AsyncClient(follow_redirects=False) as client:
            sender = asyncio.create_task(self._sender(self._poster(client)), name="alert sender")
            watch = asyncio.create_task(self._watch(), name="alert watch")
            try:
                yield self
            finally:
                watch.cancel()
                limit = (
                    drain_s if drain_s is not None else self.settings.timeout_s * max(1, len(self.webhooks))
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._queue.join(), limit)
                sender.cancel()
                for task in (watch, sender):
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    def _poster(self, client: httpx.AsyncClient) -> Post:
        async def post(webhook: Webhook, alert: Alert) -> int:
            response = await client.post(webhook.url, json=webhook.payload(alert.text))
            return response.status_code

        return post

    async def _sender(self, post: Post) -> None:
        while True:
            alert = await self._queue.get()
            try:
                delivered = 0
                for webhook in self.webhooks:
                    delivered += await self._post_one(post, webhook, alert)
                if delivered:
                    self.sent.labels(alert.kind.split(":")[0]).inc()
            finally:
                self._queue.task_done()

    async def _post_one(self, post: Post, webhook: Webhook, alert: Alert) -> bool:
        """One post, bounded by the timeout; a failure is logged by the webhook's label only."""
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                status = await post(webhook, alert)
        except TimeoutError:
            problem = f"no answer within {self.settings.timeout_s:g} s"
        except httpx.HTTPError as exc:
            problem = type(exc).__name__  # never str(exc): httpx puts the URL (the token) in it
        else:
            if 200 <= status < 300:
                return True
            problem = f"HTTP {status}"
        self.failed_posts.inc()
        log.warning("alert to %s failed: %s", webhook.label, problem)
        return False

    async def _watch(self) -> None:
        """On the engine's clock: feeds unhealthy too long (and back), and the periodic summary."""
        interval = self.settings.summary_interval_s
        next_summary = self.clock.monotonic() + interval if interval > 0 else None
        while True:
            await self.clock.sleep(WATCH_EVERY_S)
            now = self.clock.monotonic()
            self._check_feeds(now)
            if next_summary is not None and now >= next_summary and self._summary is not None:
                next_summary = now + interval
                self.send("summary", self._summary(), limited=False)

    def _check_feeds(self, now: float) -> None:
        for name, ok in self._health().items():
            if ok:
                self._down_since.pop(name, None)
                if name in self._alerted:
                    self._alerted.discard(name)
                    self.send(f"feed_recovered:{name}", f"{name} healthy again")
                continue
            since = self._down_since.setdefault(name, now)
            limit = self.settings.feed_unhealthy_s
            if now - since >= limit and name not in self._alerted:
                self._alerted.add(name)
                self.send(
                    f"feed_unhealthy:{name}", f"{name} unhealthy for {now - since:.0f} s (quotes pulled)"
                )


def summary_text(
    *, pnl: Decimal, fills: int, placed: int, cancelled: int, markets: int, status: str, uptime_s: float
) -> str:
    """The periodic summary's one line."""
    hours = uptime_s / 3600
    return (
        f"summary after {hours:.1f} h: P&L {pnl:+.2f} pUSD, {fills} fill{'' if fills == 1 else 's'},"
        f" {placed} orders placed,"
        f" {cancelled} cancelled, {markets} market{'' if markets == 1 else 's'}; {status}"
    )
